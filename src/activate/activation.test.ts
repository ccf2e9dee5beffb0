/**
 * Activation on a fake engine (test/fakes/fake-containers.ts) and, for windows, a fake clock: the window is
 * respected (nothing before it opens, recreated when it does, wrapping midnight), compose containers and other
 * platforms' entries recreate nothing, an unhealthy child is rolled back and never retried until the tag moves
 * on, and recovery after a crash at each journalled step leaves exactly one container of that name running.
 * The real-engine behaviour is test/e2e/activate.test.ts.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeContainers } from '../../test/fakes/fake-containers.js';
import { Activation, type ActivationEvent, type PulledInput } from './activation.js';
import { defaultActivation, type ActivationConfig } from './config.js';
import { ActivationStore, type JournalEntry } from './journal.js';
import { inWindow, msUntilOpen, parseWindow, type Window } from './window.js';

const repo = '127.0.0.1:5000/app';
const tag = `${repo}:stable`;
const oldDigest = `sha256:${'a'.repeat(64)}`;
const newDigest = `sha256:${'b'.repeat(64)}`;
const otherDigest = `sha256:${'d'.repeat(64)}`;
const entry = { key: `${tag} linux/amd64`, image: tag, platform: 'linux/amd64' };
const pulled = (child = newDigest): PulledInput => ({ type: 'pulled', entry, childDigest: child, previous: oldDigest });
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

/** A virtual monotonic clock whose sleep advances it (the health wait never waits for real). */
function virtualClock(): { monotonic: () => number; sleep: (ms: number) => Promise<void> } {
  let t = 0;
  return { monotonic: () => t, sleep: (ms) => ((t += ms), Promise.resolve()) };
}

async function rig(config: Partial<ActivationConfig> = {}, options: { healthcheck?: boolean } = {}) {
  const engine = new FakeContainers();
  engine.addImage('sha256:old', [`${repo}@${oldDigest}`], [`${repo}@${oldDigest}`], options.healthcheck ?? true);
  // The pull tagged the new child: the tag points at it.
  engine.addImage('sha256:new', [`${repo}@${newDigest}`, tag], [`${repo}@${newDigest}`], options.healthcheck ?? true);
  const store = new ActivationStore(await mkdtemp(join(tmpdir(), 'activate-')), () => undefined);
  const events: ActivationEvent[] = [];
  const activation = new Activation({ ...defaultActivation, ...config }, { containers: engine, store, emit: (e) => events.push(e), log: silent, clock: virtualClock() });
  return { engine, store, events, activation };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('windows (pure)', () => {
  const w = (text: string): Window => parseWindow(text) as Window;
  it.each([
    ['02:00-04:00', [1, 59], false],
    ['02:00-04:00', [2, 0], true],
    ['02:00-04:00', [3, 59], true],
    ['02:00-04:00', [4, 0], false],
    ['23:00-01:00', [23, 30], true],
    ['23:00-01:00', [0, 30], true],
    ['23:00-01:00', [1, 0], false],
    ['23:00-01:00', [12, 0], false],
  ] as const)('%s at %j local is open: %s', (text, [h, m], open) => {
    expect(inWindow(w(text), new Date(2026, 11, 2, h, m))).toBe(open);
  });

  it('msUntilOpen counts to the next start, across midnight', () => {
    expect(msUntilOpen(w('02:00-04:00'), new Date(2026, 11, 2, 1, 0))).toBe(3_600_000);
    expect(msUntilOpen(w('02:00-04:00'), new Date(2026, 11, 2, 5, 0))).toBe(21 * 3_600_000);
    expect(msUntilOpen(w('23:00-01:00'), new Date(2026, 11, 2, 22, 0))).toBe(3_600_000);
    expect(msUntilOpen(w('02:00-04:00'), new Date(2026, 11, 2, 3, 0))).toBe(0);
  });

  it.each(['2:00', '25:00-01:00', '02:00-02:00', '02:60-03:00'])('refuses %s with a reason', (text) => {
    expect(typeof parseWindow(text)).toBe('string');
  });
});

describe('Activation', () => {
  it('waits for the window on a fake clock, then recreates the container', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    vi.setSystemTime(new Date(2026, 11, 2, 1, 0));
    const { engine, events, activation } = await rig();
    const old = engine.addContainer({ name: 'web', image: tag, imageId: 'sha256:old', labels: { 'resolver.follow': 'true', 'resolver.window': '02:00-04:00' }, healthcheck: true, health: 'healthy' });

    await activation.pulled(pulled());
    expect(engine.calls.filter((c) => c.startsWith('create'))).toEqual([]);
    expect(activation.waiting()).toEqual(['web']);
    await vi.advanceTimersByTimeAsync(59 * 60_000);
    await activation.idle();
    expect(engine.calls.filter((c) => c.startsWith('create'))).toEqual([]);
    expect(engine.byName('web')?.id).toBe(old.id);

    await vi.advanceTimersByTimeAsync(61_000);
    await activation.idle();
    expect(engine.calls.filter((c) => c.startsWith('create'))).toEqual(['create web']);
    expect(engine.byName('web')?.imageId).toBe('sha256:new');
    expect(engine.containers.size).toBe(1);
    expect(events.map((e) => [e.type, e.container, e.childDigest])).toEqual([['activated', 'web', newDigest]]);
  });

  it('a container named in the config follows; the order is rename, create, stop old, start new, remove old', async () => {
    const { engine, activation } = await rig({ containers: ['web'] });
    engine.addContainer({ name: 'web', image: tag, imageId: 'sha256:old', restartPolicy: { Name: 'always' } });
    engine.addContainer({ name: 'unrelated', image: tag, imageId: 'sha256:old' });
    await activation.pulled(pulled());
    await activation.idle();
    expect(engine.calls.filter((c) => c !== 'list')).toEqual([
      'rename web web-resolver-old', 'create web', 'policy web-resolver-old no', 'stop web-resolver-old', 'start web', 'remove web-resolver-old',
    ]);
    expect(engine.byName('unrelated')?.imageId).toBe('sha256:old');
  });

  it('skips compose-managed containers and containers of other tags or digests', async () => {
    const { engine, activation } = await rig();
    const follow = { 'resolver.follow': 'true' };
    engine.addContainer({ name: 'svc', image: tag, imageId: 'sha256:old', labels: { ...follow, 'com.docker.compose.project': 'p', 'com.docker.compose.service': 'svc' } });
    engine.addContainer({ name: 'other', image: `${repo}:edge`, imageId: 'sha256:old', labels: follow });
    engine.addContainer({ name: 'pinned', image: `${repo}@${oldDigest}`, imageId: 'sha256:old', labels: follow });
    await activation.pulled(pulled());
    await activation.idle();
    expect(engine.calls.filter((c) => c !== 'list')).toEqual([]);
  });

  it("an entry for another platform (the tag points at the host's child) recreates nothing", async () => {
    const { engine, activation } = await rig();
    engine.addImage('sha256:arm', [`${repo}@${otherDigest}`]);
    engine.addContainer({ name: 'web', image: tag, imageId: 'sha256:old', labels: { 'resolver.follow': 'true' } });
    await activation.pulled({ type: 'pulled', entry: { ...entry, key: `${tag} linux/arm64`, platform: 'linux/arm64' }, childDigest: otherDigest, previous: undefined });
    await activation.idle();
    expect(engine.calls.filter((c) => c !== 'list')).toEqual([]);
  });

  it('an unhealthy child is rolled back, marked bad and not tried again until the tag moves on', async () => {
    const { engine, store, events, activation } = await rig();
    engine.onStart = (c) => void (c.health = 'unhealthy');
    const old = engine.addContainer({ name: 'web', image: tag, imageId: 'sha256:old', labels: { 'resolver.follow': 'true' }, restartPolicy: { Name: 'unless-stopped' } });
    await activation.pulled(pulled());
    await activation.idle();
    const web = engine.byName('web');
    expect(web?.id).toBe(old.id);
    expect(web?.running).toBe(true);
    expect(web?.restartPolicy).toEqual({ Name: 'unless-stopped' });
    expect(engine.containers.size).toBe(1);
    expect(events).toEqual([expect.objectContaining({ type: 'rolled-back', container: 'web', childDigest: oldDigest, badDigest: newDigest, message: expect.stringMatching(/unhealthy/) })]);
    expect((await store.load()).bad[tag]).toMatchObject({ digest: newDigest });

    engine.calls.length = 0;
    await activation.pulled(pulled());
    await activation.idle();
    expect(engine.calls.filter((c) => c.startsWith('create'))).toEqual([]);

    // The tag moves on: the mark goes, the new child is tried.
    engine.addImage('sha256:next', [`${repo}@${otherDigest}`, tag]);
    await activation.pulled(pulled(otherDigest));
    await activation.idle();
    expect((await store.load()).bad[tag]).toBeUndefined();
    expect(engine.calls.filter((c) => c.startsWith('create'))).toEqual(['create web']);
  });

  it('a crash loop without HEALTHCHECK fails at once, without waiting out stableFor', async () => {
    const { engine, events, activation } = await rig({ stableFor: 3_600_000 }, { healthcheck: false });
    engine.onStart = (c) => {
      c.restarting = true;
      c.restartCount = 1;
    };
    engine.addContainer({ name: 'web', image: tag, imageId: 'sha256:old', labels: { 'resolver.follow': 'true' } });
    await activation.pulled(pulled());
    await activation.idle();
    expect(events).toEqual([expect.objectContaining({ type: 'rolled-back', message: expect.stringMatching(/crash loop/) })]);
    expect(engine.byName('web')?.imageId).toBe('sha256:old');
  });

  it('a HEALTHCHECK that stays "starting" fails at healthTimeout; without one, stableFor of running is enough', async () => {
    const slow = await rig({ healthTimeout: 5000 });
    slow.engine.onStart = (c) => void (c.health = 'starting');
    slow.engine.addContainer({ name: 'web', image: tag, imageId: 'sha256:old', labels: { 'resolver.follow': 'true' } });
    await slow.activation.pulled(pulled());
    await slow.activation.idle();
    expect(slow.events).toEqual([expect.objectContaining({ type: 'rolled-back', message: 'the new container was not healthy within 5 s (health: starting)' })]);

    const plain = await rig({ stableFor: 30_000 }, { healthcheck: false });
    plain.engine.addContainer({ name: 'web', image: tag, imageId: 'sha256:old', labels: { 'resolver.follow': 'true' } });
    await plain.activation.pulled(pulled());
    await plain.activation.idle();
    expect(plain.events.map((e) => e.type)).toEqual(['activated']);
    expect(plain.engine.byName('web')?.imageId).toBe('sha256:new');
  });

  /** The engine as a crash at `step` left it, and the journal entry written before that step. */
  async function crashedAt(step: JournalEntry['step']) {
    const r = await rig();
    const old = r.engine.addContainer({ name: 'web', image: tag, imageId: 'sha256:old', labels: { 'resolver.follow': 'true' }, restartPolicy: { Name: 'always' } });
    let newId: string | undefined;
    if (step !== 'begin') old.name = 'web-resolver-old';
    if (['created', 'old-stopped', 'started', 'healthy'].includes(step)) {
      const made = r.engine.addContainer({ name: 'web', image: tag, imageId: 'sha256:new', running: step === 'started' || step === 'healthy', body: { Image: tag, HostConfig: {} } });
      newId = made.id;
    }
    if (['old-stopped', 'started', 'healthy'].includes(step)) {
      old.running = false;
      old.restartPolicy = { Name: 'no' };
    }
    await r.store.record({
      name: 'web', image: tag, entryKey: entry.key, platform: entry.platform, oldId: old.id, oldImageId: 'sha256:old', oldDigest,
      restartPolicy: { Name: 'always' }, newDigest, newImageId: 'sha256:new', step, attempts: 2, at: new Date().toISOString(),
      ...(newId === undefined || step === 'created' ? {} : { newId }),
    });
    return { ...r, old };
  }

  it.each(['begin', 'renamed', 'created', 'old-stopped', 'started'] as const)('recovery after a crash at %s undoes it: the old container runs under its name', async (step) => {
    const { engine, store, activation, old } = await crashedAt(step);
    await activation.recover();
    await activation.idle();
    const running = [...engine.containers.values()].filter((c) => c.running);
    expect(running.map((c) => [c.name, c.id])).toEqual([['web', old.id]]);
    expect(engine.containers.size).toBe(1);
    expect(engine.byName('web')?.restartPolicy).toEqual({ Name: 'always' });
    expect((await store.load()).journal).toEqual({});
  });

  it('recovery after a crash once healthy finishes it: the new container stays, the old one goes', async () => {
    const { engine, store, events, activation, old } = await crashedAt('healthy');
    await activation.recover();
    await activation.idle();
    expect([...engine.containers.values()].map((c) => [c.name, c.imageId, c.running])).toEqual([['web', 'sha256:new', true]]);
    expect(engine.containers.has(old.id)).toBe(false);
    expect(events.map((e) => e.type)).toEqual(['activated']);
    expect(JSON.parse(await readFile(store.path, 'utf8')).journal).toEqual({});
  });

  it('an interrupted first attempt is undone and tried once more', async () => {
    const { engine, store, activation, old } = await crashedAt('started');
    await store.record({ ...(await store.load()).journal['web']!, attempts: 1 });
    await activation.recover();
    await activation.idle();
    expect(engine.containers.has(old.id)).toBe(false);
    expect([...engine.containers.values()].map((c) => [c.name, c.imageId, c.running])).toEqual([['web', 'sha256:new', true]]);
  });
});

describe('Activation: waiting across a restart (activation.json pending)', () => {
  const labels = { 'resolver.follow': 'true', 'resolver.window': '02:00-04:00' };
  const creates = (engine: FakeContainers): string[] => engine.calls.filter((c) => c.startsWith('create'));

  it('a restart before the window keeps the waiting activation; the window opens: recreated exactly once, then forgotten', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    vi.setSystemTime(new Date(2026, 11, 2, 1, 0));
    const { engine, store, activation } = await rig();
    engine.addContainer({ name: 'web', image: tag, imageId: 'sha256:old', labels, healthcheck: true, health: 'healthy' });
    await activation.pulled(pulled());
    expect((await store.load()).pending['web']).toMatchObject({ name: 'web', image: tag, newDigest, previous: oldDigest, window: '02:00-04:00', attempts: 1 });
    await activation.close();

    // The next daemon: a new store on the same folder, no `pulled` (the child is present already).
    const again = new ActivationStore(join(store.path, '..'), () => undefined);
    const events: ActivationEvent[] = [];
    const second = new Activation(defaultActivation, { containers: engine, store: again, emit: (e) => events.push(e), log: silent, clock: virtualClock() });
    await second.recover();
    expect(second.waiting()).toEqual(['web']);
    await vi.advanceTimersByTimeAsync(30 * 60_000);
    await second.idle();
    expect(creates(engine)).toEqual([]);
    await vi.advanceTimersByTimeAsync(31 * 60_000);
    await second.idle();
    expect(creates(engine)).toEqual(['create web']);
    expect(engine.byName('web')?.imageId).toBe('sha256:new');
    expect(events.map((e) => e.type)).toEqual(['activated']);
    expect((await again.load()).pending).toEqual({});
    expect(JSON.parse(await readFile(again.path, 'utf8'))).toMatchObject({ pending: {}, journal: {} });
    await vi.advanceTimersByTimeAsync(24 * 3_600_000);
    await second.idle();
    expect(creates(engine)).toEqual(['create web']);
  });

  it('bad marks survive a restart: a kept waiting activation of a bad child is dropped, a pulled of it does nothing', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    vi.setSystemTime(new Date(2026, 11, 2, 1, 0));
    const { engine, store } = await rig();
    engine.addContainer({ name: 'web', image: tag, imageId: 'sha256:old', labels, healthcheck: true, health: 'healthy' });
    await store.markBad(tag, { digest: newDigest, container: 'web', reason: 'unhealthy', at: new Date().toISOString() });
    await store.setPending({ name: 'web', image: tag, entryKey: entry.key, platform: entry.platform, newDigest, attempts: 1, window: '02:00-04:00', since: new Date().toISOString() });
    const again = new ActivationStore(join(store.path, '..'), () => undefined);
    const second = new Activation(defaultActivation, { containers: engine, store: again, emit: () => undefined, log: silent, clock: virtualClock() });
    await second.recover();
    expect(second.waiting()).toEqual([]);
    expect(await again.load()).toMatchObject({ pending: {}, bad: { [tag]: { digest: newDigest } } });
    await second.pulled(pulled());
    await vi.advanceTimersByTimeAsync(2 * 3_600_000);
    await second.idle();
    expect(creates(engine)).toEqual([]);
  });

  it('a newer child replaces the waiting one in the file too; a wall-clock jump into the window runs it without waiting a minute', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    vi.setSystemTime(new Date(2026, 11, 2, 1, 0));
    const { engine, store, activation } = await rig();
    engine.addContainer({ name: 'web', image: tag, imageId: 'sha256:old', labels, healthcheck: true, health: 'healthy' });
    await activation.pulled(pulled(otherDigest));
    await activation.pulled(pulled());
    expect(Object.values((await store.load()).pending).map((p) => p.newDigest)).toEqual([newDigest]);
    // The clock jumps to 02:30 (no timer due yet): clockJumped looks again at once.
    vi.setSystemTime(new Date(2026, 11, 2, 2, 30));
    activation.clockJumped();
    await vi.advanceTimersByTimeAsync(1000);
    await activation.idle();
    expect(creates(engine)).toEqual(['create web']);
    expect((await store.load()).pending).toEqual({});
  });
});
