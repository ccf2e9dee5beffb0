import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cron from 'node-cron';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RegistryHttpError } from '../errors.js';
import { neverAnswers } from '../../test/fakes/fake-registry.js';
import { hostPlatform, rig, type Rig } from '../../test/fakes/daemon-rig.js';
import { freePort } from '../../test/sandbox/registry-server.js';

const image = 'localhost:5001/fleet/app:stable';

/** Waits for real IO (the state file) while the timers are fake. */
async function until(what: string, probe: () => boolean, ms = 5000): Promise<void> {
  const end = performance.now() + ms;
  while (!probe()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

const config = (images: string, extra = ''): string => `schedule: "0 0 1 1 *"
splay: 0s
stateDir: STATE
concurrency: 1
${extra}images:
${images}`;

let r: Rig | undefined;
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], now: new Date('2026-12-01T12:00:00.000Z') });
});
afterEach(async () => {
  if (r !== undefined) {
    r.engine.pullHook = undefined;
    await r.daemon.stop();
    r = undefined;
  }
  vi.useRealTimers();
});

/** A pull that waits until `release()`. */
function holdPulls(rg: Rig): () => void {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  rg.engine.pullHook = () => gate;
  return () => release();
}

describe('daemon: entries are keyed by image and platform (issue 9.3)', () => {
  it('keeps the host entry and the linux/arm/v7 entry of one image apart in status and metrics, also after a reload', async () => {
    r = rig(config(`  - image: ${image}\n  - image: ${image}\n    platform: linux/arm/v7\n`));
    const rg = r;
    const { children } = rg.registry.publish(image, [{ architecture: 'amd64', label: 'a1' }, { architecture: 'arm', variant: 'v7', label: 'r1' }]);
    await rg.daemon.start();
    await until('both checked', () => rg.daemon.status().images.every((i) => i.state === 'ok'));
    const rows = (): [string | undefined, string | undefined][] => rg.daemon.status().images.map((i) => [i.platform, i.childDigest]);
    const host = await hostPlatform();
    expect(rows()).toEqual([[host, children[0]], ['linux/arm/v7', children[1]]]);

    expect(await rg.daemon.reload()).toBe(true);
    expect(rows()).toEqual([[host, children[0]], ['linux/arm/v7', children[1]]]);

    const metrics = rg.daemon.metrics.render();
    expect(metrics).toContain(`resolver_pulls_total{image="${image}",platform="${host}"} 1`);
    expect(metrics).toContain(`resolver_pulls_total{image="${image}",platform="linux/arm/v7"} 1`);
    expect(rg.engine.calls.filter((c) => c.startsWith('pull '))).toHaveLength(2);
  });
});

describe('daemon: reloads (issue 13.6, 14 defect 3)', () => {
  it('never overlaps runs of one entry, however many SIGHUPs arrive during a check', async () => {
    r = rig(config(`  - image: ${image}\n`).replace('0 0 1 1 *', '* * * * * *'));
    const rg = r;
    rg.registry.publish(image, [{ architecture: 'amd64', label: 'a1' }]);
    const release = holdPulls(rg);
    await rg.daemon.start();
    await until('the pull to start', () => rg.engine.inFlight === 1);
    for (let i = 0; i < 5; i++) {
      expect(await rg.daemon.reload()).toBe(true);
      await vi.advanceTimersByTimeAsync(1000);
    }
    expect(rg.engine.maxInFlight).toBe(1);
    expect(rg.engine.calls.filter((c) => c.startsWith('pull '))).toHaveLength(1);
    release();
    await until('the check to finish', () => rg.daemon.status().images[0]?.state === 'ok');
    expect(rg.engine.maxInFlight).toBe(1);
  });

  it('keeps the old services open until the check that uses them has finished, then closes them', async () => {
    r = rig(config(`  - image: ${image}\n`));
    const rg = r;
    rg.registry.publish(image, [{ architecture: 'amd64', label: 'a1' }]);
    const release = holdPulls(rg);
    await rg.daemon.start();
    await until('the pull to start', () => rg.engine.inFlight === 1);
    expect(await rg.daemon.reload()).toBe(true);
    expect(rg.generations).toHaveLength(2);
    expect(rg.generations[0]?.closed).toBe(false);
    release();
    await until('the old services to close', () => rg.generations[0]?.closed === true);
    expect(rg.generations[1]?.closed).toBe(false);
    expect(rg.daemon.status().images[0]?.state).toBe('ok');
  });

  it('1,000 reloads leave one timer and one cron task per entry and close every old generation', async () => {
    r = rig(config(`  - image: ${image}\n  - image: ${image}\n    platform: linux/arm64\n`).replace('0 0 1 1 *', '*/10 * * * *'));
    const rg = r;
    rg.registry.publish(image, [{ architecture: 'amd64', label: 'a1' }, { architecture: 'arm64', variant: 'v8', label: 'b1' }]);
    const tasksBefore = cron.getTasks().size;
    await rg.daemon.start();
    await until('both checked', () => rg.daemon.status().images.every((i) => i.state === 'ok'));
    const timersAfterStart = vi.getTimerCount();
    for (let i = 0; i < 1000; i++) expect(await rg.daemon.reload()).toBe(true);
    await until('old generations closed', () => rg.generations.slice(0, -1).every((g) => g.closed));
    expect(vi.getTimerCount()).toBe(timersAfterStart);
    expect(cron.getTasks().size - tasksBefore).toBeLessThanOrEqual(2);
    await rg.daemon.stop();
    expect(cron.getTasks().size - tasksBefore).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    r = undefined;
  }, 60_000);
});

describe('daemon: held is not a success (issue 9.6)', () => {
  it('a held check does not move last_success and sets resolver_held', async () => {
    r = rig(config(`  - image: ${image}\n`));
    const rg = r;
    rg.registry.publish(image, [{ architecture: 'arm64', variant: 'v8', label: 'b1' }]);
    await rg.daemon.start();
    await until('held', () => rg.daemon.status().images[0]?.state === 'held');
    const metrics = rg.daemon.metrics.render();
    const host = await hostPlatform();
    expect(metrics).not.toMatch(/resolver_last_success_timestamp_seconds\{image=/);
    expect(metrics).toContain(`resolver_held{image="${image}",platform="${host}"} 1`);
    expect(metrics).toContain(`resolver_checks_total{image="${image}",platform="${host}",result="held"} 1`);
  });
});

describe('daemon: admission (issue 13.11)', () => {
  it('a registry that never answers does not starve an image on a healthy one', async () => {
    r = rig(config('  - image: 127.0.0.2:5000/a:1\n  - image: 127.0.0.3:5000/b:1\n').replace('0 0 1 1 *', '*/5 * * * * *'));
    const rg = r;
    rg.registry.hooks.set('127.0.0.2:5000', neverAnswers);
    rg.registry.publish('127.0.0.3:5000/b:1', [{ architecture: 'amd64', label: 'live' }]);
    await rg.daemon.start();
    const heads = (): number => rg.registry.log.filter((l) => l.startsWith('HEAD 127.0.0.3:5000/')).length;
    await until('the first live check', () => rg.daemon.status().images.find((i) => i.image === '127.0.0.3:5000/b:1')?.state === 'ok');
    for (let i = 0; i < 10; i++) {
      const before = heads();
      await vi.advanceTimersByTimeAsync(5000);
      await until(`live check ${i}`, () => heads() > before && rg.daemon.status().images.find((s) => s.image === '127.0.0.3:5000/b:1')?.lastResult === 'unchanged');
    }
    expect(heads()).toBeGreaterThanOrEqual(11);
    expect(rg.registry.log.filter((l) => l.startsWith('HEAD 127.0.0.2:5000/'))).toHaveLength(1);
    expect(rg.daemon.status().images.find((i) => i.image === '127.0.0.3:5000/b:1')?.state).toBe('ok');
  });
});

describe('daemon: backoff', () => {
  it('waits at least Retry-After before the next check of a failing image', async () => {
    r = rig(config(`  - image: ${image}\n`).replace('0 0 1 1 *', '* * * * * *'));
    const rg = r;
    rg.registry.publish(image, [{ architecture: 'amd64', label: 'a1' }]);
    let fail = true;
    rg.registry.hooks.set('localhost:5001', () => {
      if (fail) throw new RegistryHttpError('ERR_RATE_LIMITED', 'localhost:5001 is rate limiting', { status: 429, method: 'HEAD', url: 'http://localhost:5001/v2/', retryAfterSeconds: 120 });
    });
    await rg.daemon.start();
    await until('the failure', () => rg.daemon.status().images[0]?.state === 'failing');
    await vi.advanceTimersByTimeAsync(110_000);
    expect(rg.registry.requests.HEAD).toBe(1);
    fail = false;
    await vi.advanceTimersByTimeAsync(12_000);
    await until('recovery', () => rg.daemon.status().images[0]?.state === 'ok');
    expect(rg.registry.requests.HEAD).toBe(2);
  });
});

describe('daemon: held warnings (one per streak; nothing held is not "holding")', () => {
  it('warns once that no child fits and nothing is pulled, not every cycle; once more when the platform returns', async () => {
    r = rig(config(`  - image: ${image}\n`).replace('0 0 1 1 *', '* * * * * *'));
    const rg = r;
    rg.registry.publish(image, [{ architecture: 'arm64', variant: 'v8', label: 'b1' }]);
    await rg.daemon.start();
    await until('held', () => rg.daemon.status().images[0]?.state === 'held');
    for (let i = 0; i < 3; i++) {
      const before = rg.registry.requests.HEAD;
      await vi.advanceTimersByTimeAsync(1000);
      await until(`check ${i}`, () => rg.registry.requests.HEAD > before && rg.daemon.status().images[0]?.lastResult === 'held');
    }
    const warnings = (): Record<string, unknown>[] => rg.logs.filter((l) => Number(l['level']) >= 40);
    expect(warnings().map((l) => l['msg'])).toEqual(['no child for this platform in the index; nothing to pull']);
    expect(warnings()[0]).toMatchObject({ image, platform: await hostPlatform() });
    rg.registry.publish(image, [{ architecture: 'amd64', label: 'a1' }, { architecture: 'arm64', variant: 'v8', label: 'b1' }]);
    await vi.advanceTimersByTimeAsync(1000);
    await until('pulled', () => rg.daemon.status().images[0]?.lastResult === 'pulled');
    expect(warnings().map((l) => l['msg'])).toEqual(['no child for this platform in the index; nothing to pull', 'the platform is back in the index']);
  });

  it('after a reload, no entry but the held one is said to be back (the held flag stays with its entry)', async () => {
    const other = 'localhost:5001/fleet/other:1';
    const third = 'localhost:5001/fleet/third:1';
    r = rig(config(`  - image: ${image}\n  - image: ${other}\n`));
    const rg = r;
    rg.registry.publish(image, [{ architecture: 'arm64', variant: 'v8', label: 'b1' }]);
    rg.registry.publish(other, [{ architecture: 'amd64', label: 'o1' }]);
    rg.registry.publish(third, [{ architecture: 'amd64', label: 't1' }]);
    await rg.daemon.start();
    await until('both checked', () => rg.daemon.status().images.every((i) => i.state !== 'pending'));
    rg.setConfig(config(`  - image: ${third}\n  - image: ${other}\n  - image: ${image}\n`));
    expect(await rg.daemon.reload()).toBe(true);
    await until('all checked', () => rg.daemon.status().images.every((i) => i.state !== 'pending'));
    await rg.daemon.checkAllNow();
    expect(rg.logs.filter((l) => l['msg'] === 'the platform is back in the index')).toEqual([]);
    expect(rg.daemon.status().images.map((i) => [i.image, i.state])).toEqual([[third, 'ok'], [other, 'ok'], [image, 'held']]);
  });
});

describe('daemon: status starts from what the state file recorded', () => {
  it('a restarted daemon shows the recorded pull time, and a failing first check the recorded digests', async () => {
    const first = rig(config(`  - image: ${image}\n`));
    const { children } = first.registry.publish(image, [{ architecture: 'amd64', label: 'a1' }]);
    await first.daemon.start();
    await until('pulled', () => first.daemon.status().images[0]?.lastResult === 'pulled');
    const pulledAt = first.daemon.status().images[0]?.lastPull;
    expect(pulledAt).toBeDefined();
    await first.daemon.stop();
    vi.setSystemTime(new Date('2026-12-01T13:00:00.000Z'));

    // The same state folder, engine and registry: the next daemon's first check is unchanged.
    r = rig(config(`  - image: ${image}\n`), {}, { from: first });
    const rg = r;
    await rg.daemon.start();
    await until('checked', () => rg.daemon.status().images[0]?.lastResult === 'unchanged');
    expect(rg.daemon.status().images[0]).toMatchObject({ lastPull: pulledAt, childDigest: children[0] });
    await rg.daemon.stop();

    r = rig(config(`  - image: ${image}\n`), {}, { from: first });
    const failing = r;
    failing.registry.hooks.set('localhost:5001', () => {
      throw new RegistryHttpError('ERR_REGISTRY_HTTP', 'localhost:5001 answered 500', { status: 500, method: 'HEAD', url: 'http://localhost:5001/v2/' });
    });
    await failing.daemon.start();
    await until('failed', () => failing.daemon.status().images[0]?.state === 'failing');
    expect(failing.daemon.status().images[0]).toMatchObject({ lastPull: pulledAt, childDigest: children[0], lastResult: 'failed' });
    expect(failing.daemon.status().images[0]?.indexDigest).toMatch(/^sha256:/);
  });
});

describe('daemon: check now (POST /v1/check and the control socket share it)', () => {
  it('checks one image (at one platform) or all; an unknown one is ERR_NOT_FOUND; a second request while one is queued joins it', async () => {
    r = rig(config(`  - image: ${image}\n  - image: ${image}\n    platform: linux/arm/v7\n  - image: localhost:5001/other:1\n`));
    const rg = r;
    rg.registry.publish(image, [{ architecture: 'amd64', label: 'a1' }, { architecture: 'arm', variant: 'v7', label: 'r1' }]);
    rg.registry.publish('localhost:5001/other:1', [{ architecture: 'amd64', label: 'o1' }]);
    await rg.daemon.start();
    await until('all checked', () => rg.daemon.status().images.every((i) => i.state === 'ok'));
    const checks = (): string[] => rg.daemon.recent.list({ types: ['check-started'] }).events.map((e) => (e.type === 'check-started' ? `${e.entry.image} ${e.entry.platform} ${e.why}` : ''));
    const before = checks().length;
    const configured = rg.daemon.recent.list({ types: ['configured'] }).events[0];
    expect(configured?.type === 'configured' ? configured.summary : undefined).toMatchObject({ images: 3, concurrency: 1, splayMs: 0, metrics: undefined, notifications: undefined });

    const one = rg.daemon.checkNow({ image, platform: 'linux/arm/v7', dryRun: false });
    expect(one.accepted).toEqual([{ key: `${image} linux/arm/v7`, image, platform: 'linux/arm/v7' }]);
    const again = rg.daemon.checkNow({ image: 'localhost:5001/fleet/app:stable', platform: 'linux/armhf', dryRun: false });
    expect(again.joined).toEqual([`${image} linux/arm/v7`]);
    expect((await one.done).images.map((i) => i.platform)).toEqual(['linux/arm/v7']);
    await again.done;
    expect(checks().slice(before)).toEqual([`${image} linux/arm/v7 now`]);

    // Both platforms of the image, the host one also by its detected platform.
    expect(rg.daemon.checkNow({ image, dryRun: true }).accepted).toHaveLength(2);
    expect(rg.daemon.checkNow({ image, platform: await hostPlatform(), dryRun: false }).accepted).toEqual([{ key: `${image} detected`, image, platform: await hostPlatform() }]);
    // `detected` names the host's entry (docs/api.md), and is not parsed as a platform.
    expect(rg.daemon.checkNow({ image, platform: 'detected', dryRun: true }).accepted).toEqual([{ key: `${image} detected`, image, platform: await hostPlatform() }]);
    expect(rg.daemon.checkNow({ dryRun: false }).accepted).toHaveLength(3);
    for (const selector of [{ image: 'localhost:5001/missing:1' }, { image, platform: 'linux/s390x' }]) {
      expect(() => rg.daemon.checkNow({ ...selector, dryRun: false })).toThrow(/no configured image is/);
    }
    expect(() => rg.daemon.checkNow({ image: 'Not/Valid', dryRun: false })).toThrow(expect.objectContaining({ code: 'ERR_USAGE' }) as Error);
    await rg.daemon.checkAllNow();
  });
});

describe('daemon: the HTTP endpoint belongs to the process', () => {
  it('a reload that changes metrics.token (or tls) is rejected like one that changes metrics.listen', async () => {
    vi.useRealTimers();
    const dir = mkdtempSync(join(tmpdir(), 'daemon-api-'));
    writeFileSync(join(dir, 'a'), 'token-aaaaaaaaaaaaaaaa\n');
    writeFileSync(join(dir, 'b'), 'token-bbbbbbbbbbbbbbbb\n');
    const port = await freePort();
    const metrics = (file: string): string => `metrics:\n  listen: 127.0.0.1:${port}\n  tokenFile: ${join(dir, file)}\n`;
    r = rig(config(`  - image: ${image}\n`, metrics('a')));
    const rg = r;
    rg.registry.publish(image, [{ architecture: 'amd64', label: 'a1' }]);
    await rg.daemon.start();
    const ok = await fetch(`http://127.0.0.1:${port}/v1/status`, { headers: { authorization: 'Bearer token-aaaaaaaaaaaaaaaa' } });
    expect(ok.status).toBe(200);
    rg.setConfig(config(`  - image: ${image}\n`, metrics('b')));
    expect(await rg.daemon.reload()).toBe(false);
    expect(rg.logs.some((l) => String(l['err']).includes('metrics (listen, token, tls) cannot change on reload'))).toBe(true);
    expect((await fetch(`http://127.0.0.1:${port}/v1/status`, { headers: { authorization: 'Bearer token-aaaaaaaaaaaaaaaa' } })).status).toBe(200);
    expect(JSON.stringify(rg.logs)).not.toContain('token-aaaa');
  });
});
