/**
 * The registry budget survives a restart (issue 12 §2; docs/budget.md): the built daemon against the Hub
 * emulator (test/fakes/hub-emulator.ts, loopback, every request counted at the server) and the harness's
 * private dockerd. Before budget.json, a restarted daemon forgot a 429's Retry-After and asked the registry
 * again at once, and forgot that the allowance was at the reserve and spent it.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startHubEmulator, type HubEmulator } from '../fakes/hub-emulator.js';
import { closeLoopbackServers } from '../fakes/loopback-server.js';
import { startDaemon, until, type DaemonProcess } from './daemon-process.js';

const engine = inject('services').engine;
let dir = '';
const running: DaemonProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'budget-restart-'));
});
afterAll(async () => {
  for (const d of running) await d.stop();
  await closeLoopbackServers();
  await rm(dir, { recursive: true, force: true });
});

async function configFor(name: string, hub: HubEmulator): Promise<{ file: string; stateDir: string; image: string }> {
  const stateDir = join(dir, `state-${name}`);
  const file = join(dir, `${name}.yaml`);
  const image = `${hub.host}/library/app:stable`;
  await writeFile(file, `engine:\n  host: ${engine ?? ''}\nschedule: "0 0 1 1 *"\nsplay: 0s\nstateDir: ${stateDir}\nshutdownTimeout: 5s\nbudget:\n  reservePercent: 5\nimages:\n  - image: ${image}\n`);
  return { file, stateDir, image };
}

const total = (hub: HubEmulator): number => hub.server.requests.length;

describe.runIf(engine !== undefined)('the registry budget across a daemon restart (Hub emulator, requests counted at the server)', () => {
  it('a 429 with Retry-After: the restarted daemon sends nothing to the registry until it has passed', async () => {
    const hub = await startHubEmulator({ limit: 100, windowSeconds: 21_600, throttle: { body: 'html', retryAfter: 600 } });
    hub.publish('library/app', 'stable', 'v1');
    hub.throttleNext(Number.POSITIVE_INFINITY);
    const c = await configFor('throttled', hub);
    const first = startDaemon(c.file);
    running.push(first);
    await until('the 429', () => first.logs().find((l) => l['msg'] === 'rate limited by the registry'), 60_000);
    expect(hub.counts.throttled).toBe(1);
    expect(await first.stop()).toBe(0);
    const saved = JSON.parse(await readFile(join(c.stateDir, 'budget.json'), 'utf8')) as { version: number; accounts: { registry: string; throttledUntil: number }[] };
    expect(saved.version).toBe(1);
    expect(saved.accounts[0]?.registry).toBe(hub.host);
    expect(saved.accounts[0]?.throttledUntil).toBeGreaterThan(Date.now() + 500_000);
    const before = total(hub);

    const second = startDaemon(c.file);
    running.push(second);
    const outcome = await until('the first check after the restart', () => second.logs().find((l) => l['msg'] === 'deferred' || l['msg'] === 'check failed'), 60_000);
    expect(outcome).toMatchObject({ msg: 'deferred', reason: 'throttled', until: new Date(saved.accounts[0]?.throttledUntil ?? 0).toISOString() });
    // Not one request reached the registry: no HEAD, no GET, no token (the old code sent a HEAD at once, and got another 429).
    expect(total(hub)).toBe(before);
    expect(hub.counts.throttled).toBe(1);
    expect(await second.stop()).toBe(0);
  }, 120_000);

  it('an allowance at the reserve (announced on GETs only): the restarted daemon does not spend the reserve', async () => {
    // 20 per window, reserve ceil(20 × 5 %) = 1; 2 left: one counted GET goes, then the reserve holds.
    const hub = await startHubEmulator({ limit: 20, windowSeconds: 21_600, headersOnGetOnly: true });
    hub.publish('library/app', 'stable', 'v1');
    hub.setRemaining(2);
    const c = await configFor('reserve', hub);
    const first = startDaemon(c.file);
    running.push(first);
    await until('the reserve to defer the image', () => first.logs().find((l) => l['msg'] === 'deferred' && l['reason'] === 'reserve'), 60_000);
    const counted = hub.counts.counted;
    expect(counted).toBe(1);
    expect(await first.stop()).toBe(0);

    const second = startDaemon(c.file);
    running.push(second);
    await until('the restarted daemon to defer', () => second.logs().find((l) => l['msg'] === 'deferred' && l['reason'] === 'reserve'), 60_000);
    // The free HEAD goes; the counted GET the old code sent (the last request of the reserve) does not.
    expect(hub.counts.counted).toBe(counted);
    expect(hub.counts.head).toBeGreaterThanOrEqual(2);
    expect(await second.stop()).toBe(0);
  }, 120_000);
});
