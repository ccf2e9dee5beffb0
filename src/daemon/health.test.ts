import { describe, expect, it, vi } from 'vitest';
import { FakeEngine } from '../../test/fakes/fake-engine.js';
import type { DaemonEvent, EntrySpec } from './events.js';
import { engineProbeTtlMs, Health } from './health.js';
import { emptyStatus, reduceStatus, type StatusState } from './status.js';

const at = '2026-12-01T12:00:00.000Z';
const spec = (image: string): EntrySpec => ({ key: `${image} detected`, image, platformSpec: undefined, registry: 'localhost:5001', schedule: '* * * * *', onMissingPlatform: 'hold', retain: 1 });
const summary = { images: 2, schedule: '* * * * *', splayMs: 0, concurrency: 1, platform: undefined, onMissingPlatform: 'hold', retain: 1, logLevel: 'info', metrics: undefined, notifications: undefined } as const;
const ref = (e: EntrySpec) => ({ key: e.key, image: e.image, platform: 'linux/amd64' });
const a = spec('localhost:5001/a:1');
const b = spec('localhost:5001/b:1');
const failed = (e: EntrySpec): DaemonEvent => ({ type: 'failed', entry: ref(e), code: 'ERR_NETWORK', message: 'down', failures: 1, retryInMs: 5000, retryAfterMs: undefined, backoffUntil: at, recorded: undefined, at });
const held = (e: EntrySpec): DaemonEvent => ({ type: 'held', entry: ref(e), indexDigest: 'sha256:i', childDigest: undefined, pulledAt: undefined, message: 'no child', available: [], repeat: false, at });
const statusOf = (...events: DaemonEvent[]): StatusState => [{ type: 'configured', entries: [a, b], reload: false, summary, at } as DaemonEvent, ...events].reduce(reduceStatus, emptyStatus);

/** A Health over a FakeEngine, with the state the test moves. */
function health(engine = new FakeEngine()) {
  const s = { stopping: false, alive: true, loaded: true, now: 0, status: statusOf(), engine };
  const h = new Health({
    stopping: () => s.stopping, alive: () => s.alive, monotonic: () => s.now, status: () => s.status,
    generation: () => (s.loaded ? { services: { engine: () => Promise.resolve(engine) } } : undefined),
  });
  const probes = (): number => engine.calls.filter((c) => c.startsWith('inspect sha256:')).length;
  return { h, s, probes };
}

describe('Health: liveness (/healthz)', () => {
  it('is ok while the watchdog ticks and the daemon is not stopping, and counts images, failing and held', () => {
    const { h, s } = health();
    s.status = statusOf(failed(a), held(b));
    expect(h.live()).toEqual({ ok: true, detail: { status: 'ok', images: 2, failing: 1, held: 1 } });
    s.alive = false;
    expect(h.live()).toMatchObject({ ok: false, detail: { status: 'not live' } });
    s.alive = true;
    s.stopping = true;
    expect(h.live()).toMatchObject({ ok: false, detail: { status: 'not live' } });
  });
});

describe('Health: readiness (/readyz)', () => {
  it('is ready with a config, an engine that answers and an entry not failing; says why not otherwise', async () => {
    const { h, s, probes } = health();
    expect(await h.ready()).toEqual({ ok: true, detail: { status: 'ready', images: 2, failing: 0, held: 0 } });
    s.status = statusOf(failed(a));
    expect((await h.ready()).ok).toBe(true);
    s.status = statusOf(failed(a), failed(b));
    expect(await h.ready()).toEqual({ ok: false, detail: { status: 'not ready', reason: 'the last check of every image failed', images: 2, failing: 2, held: 0 } });
    s.status = statusOf();
    s.stopping = true;
    expect(await h.ready()).toMatchObject({ ok: false, detail: { reason: 'stopping' } });
    s.loaded = false;
    const before = probes();
    expect(await h.ready()).toMatchObject({ ok: false, detail: { status: 'not ready', reason: 'no config loaded' } });
    expect(probes()).toBe(before);
  });

  it('an engine that fails is "engine unreachable" with its message', async () => {
    const engine = new FakeEngine();
    engine.down = new Error('connect ENOENT /var/run/docker.sock');
    const { h } = health(engine);
    expect(await h.ready()).toMatchObject({ ok: false, detail: { reason: 'engine unreachable: connect ENOENT /var/run/docker.sock' } });
  });

  it('an engine that never answers is unreachable after the probe\'s 2 s deadline', async () => {
    const engine = new FakeEngine();
    vi.spyOn(engine, 'inspectImage').mockReturnValue(new Promise(() => undefined));
    const { h } = health(engine);
    expect(await h.ready()).toMatchObject({ ok: false, detail: { reason: 'engine unreachable: no answer within 2 s' } });
  });

  it('keeps the engine\'s answer for 5 s of monotonic time, and a new generation (forget) asks again', async () => {
    const { h, s, probes } = health();
    await h.ready();
    s.now += engineProbeTtlMs - 1;
    s.engine.down = new Error('engine gone');
    // Still the kept answer: no second request.
    expect((await h.ready()).ok).toBe(true);
    expect(probes()).toBe(1);
    s.now += 1;
    expect(await h.ready()).toMatchObject({ ok: false, detail: { reason: 'engine unreachable: engine gone' } });
    s.engine.down = undefined;
    // The failure is kept as long as an answer.
    expect((await h.ready()).ok).toBe(false);
    h.forget();
    expect((await h.ready()).ok).toBe(true);
    expect(probes()).toBe(3);
  });
});
