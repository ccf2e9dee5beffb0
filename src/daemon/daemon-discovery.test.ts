/**
 * The daemon with discovery by label as its entries source (docs/discovery.md), on fakes and fake timers:
 * discovered entries are merged with `images:`, checked at their container's image platform, added and
 * removed as containers come and go, through the scheduler's one swap (`set`).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { hostPlatform, rig, type Rig } from '../../test/fakes/daemon-rig.js';
import { Discovery } from '../discover/discovery.js';

const app = 'localhost:5001/fleet/app:stable';
const db = 'localhost:5001/fleet/db:16';
const amd64 = { os: 'linux', architecture: 'amd64', variant: '' };
const on = { watchByDefault: false, includeStopped: true, resyncMs: 300_000, debounceMs: 2000 };

async function until(what: string, probe: () => boolean, ms = 5000): Promise<void> {
  const end = performance.now() + ms;
  while (!probe()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await vi.advanceTimersByTimeAsync(100);
  }
}

let r: Rig | undefined;
let discovery: Discovery | undefined;

/** A daemon over fakes whose entries source is a Discovery of the rig's engine. */
async function start(yaml: string, before: (rg: Rig) => void): Promise<{ rg: Rig; d: Discovery }> {
  const logger = (await import('../log/logger.js')).createLogger({ level: 'error', human: false, write: () => undefined });
  const d = new Discovery({ logger, monotonic: () => Date.now(), random: () => 0 });
  const rg = rig(yaml, { entries: d });
  before(rg);
  const connection = { key: 'fake', open: () => ({ engine: () => Promise.resolve(rg.engine), hostPlatform: () => Promise.resolve(amd64), close: () => Promise.resolve() }) };
  await d.configure(on, connection, { watch: true });
  await rg.daemon.start();
  r = rg;
  discovery = d;
  return { rg, d };
}

const config = (images: string): string => `schedule: "0 0 1 1 *"
splay: 0s
stateDir: STATE
discovery: {}
images:${images}`;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], now: new Date('2026-12-02T01:00:00.000Z') });
});
afterEach(async () => {
  await r?.daemon.stop();
  await discovery?.stop();
  r = undefined;
  discovery = undefined;
  vi.useRealTimers();
});

const rows = (rg: Rig): string[] => rg.daemon.status().images.map((i) => `${i.image} ${i.platform ?? '-'} ${i.state} [${i.source ?? '?'}]`);

describe('daemon with discovery by label', () => {
  it('checks the configured images and the labelled containers, each at its image platform; status says where each came from', async () => {
    const host = await hostPlatform();
    let children: readonly string[] = [];
    const { rg } = await start(config(`\n  - image: ${db}\n`), (rg) => {
      rg.registry.publish(db, [{ architecture: 'amd64', label: 'd1' }]);
      ({ children } = rg.registry.publish(app, [{ architecture: 'amd64', label: 'a1' }, { architecture: 'arm64', variant: 'v8', label: 'b1' }]));
      rg.engine.addImage({ tags: [app], platform: amd64 });
      const arm = rg.engine.addImage({ platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
      rg.engine.addContainer({ name: 'web', image: app, labels: { 'resolver.enable': 'true' } });
      // Created with --platform linux/arm64 (never started on this amd64 host): a created container counts.
      rg.engine.addContainer({ name: 'pi', image: arm, configImage: app, labels: { 'resolver.enable': 'true' }, state: 'created' });
      rg.engine.addContainer({ name: 'plain', image: app });
    });
    await until('three entries checked', () => rg.daemon.status().images.length === 3 && rg.daemon.status().images.every((i) => i.state === 'ok'));
    expect(rows(rg)).toEqual([
      `${db} ${host} ok [config]`,
      `${app} ${host} ok [label of container web]`,
      `${app} linux/arm64 ok [label of container pi]`,
    ]);
    const pulls = rg.engine.calls.filter((c) => c.startsWith('pull localhost:5001/fleet/app'));
    expect(pulls.sort()).toEqual([`pull localhost:5001/fleet/app@${children[0]}`, `pull localhost:5001/fleet/app@${children[1]}`].sort());
  });

  it('a configured entry of the same tag and platform is one entry, with the config options; its source names both', async () => {
    const { rg } = await start(config(`\n  - image: ${app}\n    schedule: "0 3 * * *"\n`), (rg) => {
      rg.registry.publish(app, [{ architecture: 'amd64', label: 'a1' }]);
      rg.engine.addImage({ tags: [app], platform: amd64 });
      rg.engine.addContainer({ name: 'web', image: app, labels: { 'resolver.enable': 'true' } });
    });
    await until('checked', () => rg.daemon.status().images[0]?.state === 'ok');
    expect(rg.daemon.status().images.map((i) => [i.image, i.schedule, i.source])).toEqual([[app, '0 3 * * *', 'config + label of container web']]);
  });

  it('a container that appears is checked at once; one that goes stops being scheduled (images: may be empty)', async () => {
    const { rg } = await start(config(' []\n').replace('0 0 1 1 *', '* * * * *'), (rg) => {
      rg.registry.publish(app, [{ architecture: 'amd64', label: 'a1' }]);
      rg.registry.publish(db, [{ architecture: 'amd64', label: 'd1' }]);
      rg.engine.addImage({ tags: [app], platform: amd64 });
      rg.engine.addImage({ tags: [db], platform: amd64 });
    });
    const checks: string[] = [];
    const firstCheck = new Map<string, number>();
    rg.daemon.events.on((e) => {
      if (e.type !== 'check-started') return;
      checks.push(e.entry.image);
      if (!firstCheck.has(e.entry.image)) firstCheck.set(e.entry.image, Date.now());
    });
    expect(rg.daemon.status().images).toEqual([]);
    const added = Date.now();
    rg.engine.addContainer({ name: 'web', image: app, labels: { 'resolver.enable': 'true' } });
    await until('web checked', () => rg.daemon.status().images[0]?.state === 'ok');
    const addedPg = Date.now();
    rg.engine.addContainer({ name: 'pg', image: db, labels: { 'resolver.enable': 'true' } });
    await until('pg checked', () => rg.daemon.status().images.length === 2 && rg.daemon.status().images.every((i) => i.state === 'ok'));
    // Each checked once the debounce (2 s) is over, not at its next slot.
    expect((firstCheck.get(app) ?? Infinity) - added).toBeLessThanOrEqual(2100);
    expect((firstCheck.get(db) ?? Infinity) - addedPg).toBeLessThanOrEqual(2100);
    rg.engine.removeContainer('web');
    await until('web gone', () => rg.daemon.status().images.length === 1);
    expect(rows(rg)).toEqual([`${db} ${await hostPlatform()} ok [label of container pg]`]);
    checks.length = 0;
    await vi.advanceTimersByTimeAsync(5 * 60_000);
    // The remaining entry runs every minute; the one that went never again.
    expect(checks.filter((c) => c === db).length).toBeGreaterThanOrEqual(4);
    expect(checks.filter((c) => c === app)).toEqual([]);
    // A reload keeps the discovered entry.
    expect(await rg.daemon.reload()).toBe(true);
    expect(rows(rg)).toEqual([`${db} ${await hostPlatform()} ok [label of container pg]`]);
  });
});
