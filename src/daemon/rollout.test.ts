/**
 * The staged rollout on a real daemon over fakes with a fake clock (issue 12 §3): devices whose cohort is in
 * a later step hold the new child, show when they will proceed, and pull it once the clock reaches their
 * step; the first-seen time survives a restart; splay comes from the machine id, not the host name.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { rig, type Rig } from '../../test/fakes/daemon-rig.js';
import { cohortOf } from '../rollout/decide.js';

const image = 'localhost:5001/fleet/app:stable';
const h = 3_600_000;
const config = (device: string): string => `schedule: "0 0 1 1 *"
splay: 0s
stateDir: STATE
rollout:
  deviceId: ${device}
  steps: [1%, 10%, 50%, 100%]
  stepEvery: 6h
images:
  - image: ${image}
`;

let rigs: Rig[] = [];
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], now: new Date('2026-12-02T00:00:00.000Z') });
});
afterEach(async () => {
  for (const r of rigs) await r.daemon.stop();
  rigs = [];
  vi.useRealTimers();
});

describe('rollout on daemons with a fake clock', () => {
  it('a device in step 2 (50 %) waits 12 h after first-seen, shows the time in status, then pulls; first-seen survives a restart', async () => {
    const first = rig(config('placeholder'));
    const v1 = first.registry.publish(image, [{ architecture: 'amd64', label: 'v1' }]);
    const v2Probe = first.registry.publish(image, [{ architecture: 'amd64', label: 'v2' }]);
    first.registry.publish(image, [{ architecture: 'amd64', label: 'v1' }]);
    // A device id whose cohort for v2's child is in step 2 (u in [0.1, 0.5)).
    const device = Array.from({ length: 200 }, (_, i) => `dev-${i}`).find((d) => { const u = cohortOf('', d, v2Probe.children[0] ?? ''); return u >= 0.1 && u < 0.5; }) ?? '';
    const a = rig(config(device), {}, { from: first });
    rigs.push(a);
    await a.daemon.runOnce({ dryRun: false });
    expect(a.daemon.status().images[0]?.childDigest).toBe(v1.children[0]);
    const v2 = a.registry.publish(image, [{ architecture: 'amd64', label: 'v2' }]);
    expect(v2.children[0]).toBe(v2Probe.children[0]);
    const t0 = Date.now();
    await a.daemon.checkAllNow();
    const waiting = a.daemon.status().images[0];
    expect(waiting).toMatchObject({ childDigest: v1.children[0], waitReason: 'rollout', waitUntil: new Date(t0 + 12 * h).toISOString(), pendingChild: v2.children[0] });
    const gets = a.registry.requests.GET;
    vi.setSystemTime(t0 + 6 * h);
    await a.daemon.checkAllNow();
    expect(a.daemon.status().images[0]?.childDigest).toBe(v1.children[0]);
    // A waiting check re-reads the index from memory: no counted GET.
    expect(a.registry.requests.GET).toBe(gets);
    await a.daemon.stop();
    rigs = [];
    // Restart: the ramp's clock is the first-seen time recorded before, not the restart.
    const b = rig(config(device), {}, { from: a });
    rigs.push(b);
    vi.setSystemTime(t0 + 12 * h - 60_000);
    await b.daemon.runOnce({ dryRun: false });
    expect(b.daemon.status().images[0]).toMatchObject({ pendingChild: v2.children[0], waitUntil: new Date(t0 + 12 * h).toISOString() });
    vi.setSystemTime(t0 + 12 * h);
    await b.daemon.checkAllNow();
    expect(b.daemon.status().images[0]).toMatchObject({ childDigest: v2.children[0], lastResult: 'pulled', waitUntil: undefined });
  });

  it('splay derives from the machine id (two hosts of one name get different splays)', async () => {
    const splays: number[] = [];
    for (const id of ['0123456789abcdef0123456789abcdef', 'fedcba9876543210fedcba9876543210']) {
      const r = rig(`schedule: "0 0 1 1 *"\nsplay: 15m\nstateDir: STATE\nimages:\n  - image: ${image}\n`, { readFile: () => Promise.resolve(`${id}\n`) });
      rigs.push(r);
      r.registry.publish(image, [{ architecture: 'amd64', label: 'v1' }]);
      const started: number[] = [];
      r.daemon.events.on((e) => { if (e.type === 'check-started') started.push(Date.now()); });
      const t = Date.now();
      await r.daemon.start();
      await vi.advanceTimersByTimeAsync(15 * 60_000);
      splays.push((started[0] ?? 0) - t);
    }
    expect(splays[0]).not.toBe(splays[1]);
    expect(splays.every((s) => s >= 0 && s < 15 * 60_000)).toBe(true);
  });
});
