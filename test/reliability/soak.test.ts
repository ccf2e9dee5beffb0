/**
 * A bounded soak (reliability.md §6/§7): the built daemon on a 3-second schedule, 20 tags on the harness's
 * loopback registry behind a fault proxy that fails ~20 % of registry reads (resets, 503, 429 with
 * Retry-After, slow bodies), tags moved between two indexes while it runs, SIGHUPs, and restarts of its
 * own private dockerd (a graceful stop and a kill -9, alternately, every 30 s). Asserted: a clean exit 0 on
 * SIGTERM, no unexpected exit, every tag points at a child of an index it was given (checked with the
 * engine whenever it is up) and converges on its current one, no request before a Retry-After elapsed, and
 * a generous RSS bound. Reported: the daemon's event-loop max delay (`status --json` eventLoopMaxDelayMs;
 * goal ≤ 100 ms, not asserted: a timing on a shared machine). Printed: one `soak:` summary line.
 * RESOLVER_SOAK_SECONDS sets the length (default 90; scripts/soak.sh runs longer ones).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient } from '../../src/http/http.js';
import { buildImage, buildIndex, platformObject, type BuiltImage } from '../sandbox/oci-builder.js';
import { startDockerd, type RunningDockerd } from '../sandbox/dockerd.js';
import { Pusher } from '../sandbox/push.js';
import { startRegistry, type RunningRegistry } from '../sandbox/registry-server.js';
import { cliPath } from '../e2e/cli.js';
import { engineApi } from '../e2e/engine-api.js';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';

const s = inject('services');
const http = createHttpClient();
const seconds = Number(process.env['RESOLVER_SOAK_SECONDS'] ?? '90');
/** How often the soak restarts its engine. */
const engineRestartMs = 30_000;
const tags = Array.from({ length: 20 }, (_, i) => `t${i}`);
let dir = '';
let registry: RunningRegistry;
let proxy: FaultProxy;
let engine: RunningDockerd | undefined;

const image = (arch: string, label: string): BuiltImage =>
  buildImage({ platform: { os: 'linux', architecture: arch }, files: [{ path: 'v', content: Buffer.from(label) }], format: 'oci', label });

/** The running daemon's `eventLoopMaxDelayMs`, read as an operator would: `resolver status --json`. */
function loopDelayMs(config: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, 'status', '--config', config, '--json'], { timeout: 20_000, env: { PATH: process.env['PATH'], HOME: process.env['HOME'] } }, (_error, stdout) => {
      try {
        const v = (JSON.parse(stdout) as { eventLoopMaxDelayMs?: unknown }).eventLoopMaxDelayMs;
        resolve(typeof v === 'number' ? v : undefined);
      } catch {
        resolve(undefined);
      }
    });
  });
}

async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 'NaN');
}

beforeAll(async () => {
  dir = await mkdtemp(join(s.tmp, 'soak-'));
  registry = await startRegistry({ dir: join(dir, 'registry'), auth: { kind: 'none' } });
  proxy = await startFaultProxy(registry.host, { rate: 0.2, seed: 13 });
  if (process.getuid?.() === 0) engine = await startDockerd({ binary: '/usr/sbin/dockerd', dir: join(dir, 'engine') });
});
afterAll(async () => {
  await engine?.stop();
  await proxy.stop();
  await registry.stop();
  await http.close();
});

describe.runIf(process.getuid?.() === 0 || process.env['CI'] === 'true')('soak', () => {
  it(`${seconds} s of faults, moved tags, SIGHUPs and engine restarts: exit 0, no lost or half-moved tag, Retry-After honoured`, { timeout: (seconds + 200) * 1000 }, async () => {
    const dockerHost = engine?.dockerHost ?? '';
    const api = engineApi(dockerHost);
    const pusher = new Pusher({ http, host: registry.host, repository: 'soak/app' });
    // Every tag has its own two generations (distinct children), so a path at the proxy belongs to one
    // entry and the Retry-After count measures the documented per-entry backoff.
    const generations = new Map(tags.map((t) => [t, ['a', 'b'].map((g) => {
      const amd = image('amd64', `soak ${t} ${g} amd64`);
      const arm = image('arm64', `soak ${t} ${g} arm64`);
      return { amd, arm, index: buildIndex([amd, arm].map((c) => ({ manifest: c.manifest, platform: platformObject(c.platform) })), 'oci') };
    })]));
    for (const gs of generations.values()) for (const g of gs) {
      await pusher.image(g.amd);
      await pusher.image(g.arm);
    }
    const current = new Map<string, number>();
    const point = async (tag: string, g: number): Promise<void> => {
      await pusher.manifest(generations.get(tag)![g]!.index, tag);
      current.set(tag, g);
    };
    for (const t of tags) await point(t, 0);
    const config = join(dir, 'soak.yaml');
    await writeFile(config, `engine:\n  host: ${dockerHost}\nschedule: "*/3 * * * * *"\nsplay: 0s\nretain: 2\nstateDir: ${join(dir, 'state')}\nshutdownTimeout: 10s\nimages:\n${tags.map((t) => `  - image: ${proxy.host}/soak/app:${t}\n`).join('')}`);

    const child: ChildProcess = spawn(process.execPath, [cliPath, 'daemon', '--config', config], { env: { PATH: process.env['PATH'], HOME: process.env['HOME'] }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    let exitCode: number | null | undefined;
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r((exitCode = code))));
    const pid = child.pid ?? 0;
    const childOf = (t: string, g: number): string => generations.get(t)![g]!.amd.config.digest;
    const idOf = async (t: string): Promise<string | undefined> => (await api.get(`/images/${proxy.host}/soak/app:${t}/json`)).json?.Id as string | undefined;
    const engineState = { up: true };
    let restarts = 0;
    /** Stops the engine (gracefully, or kill -9 every other time) and starts it again on the same data. */
    const restartEngine = async (): Promise<void> => {
      const running = engine;
      if (running === undefined) return;
      engineState.up = false;
      if (restarts % 2 === 1) running.process.kill('SIGKILL');
      await running.stop();
      // Down long enough for checks to fail against it (the schedule is 3 s).
      await delay(4000);
      engine = await startDockerd({ binary: '/usr/sbin/dockerd', dir: running.dir });
      engineState.up = true;
      restarts++;
    };
    const converged = async (): Promise<boolean> => {
      for (const t of tags) if ((await idOf(t)) !== childOf(t, current.get(t) ?? 0)) return false;
      return true;
    };
    const waitConverged = async (ms: number): Promise<number> => {
      const start = Date.now();
      while (!(await converged())) {
        if (exitCode !== undefined) throw new Error(`the daemon exited (${String(exitCode)}):\n${out.slice(-2000)}`);
        if (Date.now() - start > ms) throw new Error(`tags did not converge within ${ms / 1000} s:\n${out.slice(-2000)}`);
        await delay(500);
      }
      return Date.now() - start;
    };
    try {
      await waitConverged(90_000);
      const rssStart = await rssKiB(pid);
      const loopAtStart = await loopDelayMs(config);
      let rssMax = rssStart;
      let hups = 0;
      let moves = 0;
      const end = Date.now() + seconds * 1000;
      let nextRestart = Date.now() + engineRestartMs / 2;
      for (let round = 0; Date.now() < end; round++) {
        await delay(Math.min(5000, Math.max(0, end - Date.now())));
        expect(exitCode, `the daemon exited early:\n${out.slice(-2000)}`).toBeUndefined();
        // Every tag points at a child of one of its indexes, never at nothing or something else.
        if (engineState.up) for (const t of tags) expect([childOf(t, 0), childOf(t, 1)]).toContain(await idOf(t));
        if (Date.now() >= nextRestart && end - Date.now() > 15_000) {
          await restartEngine();
          nextRestart = Date.now() + engineRestartMs;
          expect(exitCode, `the daemon exited after an engine restart:\n${out.slice(-2000)}`).toBeUndefined();
        }
        for (const t of tags.filter((_, i) => (i + round) % 4 === 0)) {
          await point(t, 1 - (current.get(t) ?? 0));
          moves++;
        }
        if (round % 3 === 1) {
          child.kill('SIGHUP');
          hups++;
        }
        rssMax = Math.max(rssMax, await rssKiB(pid));
      }
      const settle = await waitConverged(120_000);
      const rssEnd = await rssKiB(pid);
      const loopMax = await loopDelayMs(config);
      child.kill('SIGTERM');
      const code = await Promise.race([exited, delay(30_000).then(() => 'timeout' as const)]);
      const faults = proxy.counts();
      // eslint-disable-next-line no-console -- the summary line is the point of a soak
      console.log(`soak: ${seconds}s tags=${tags.length} moves=${moves} sighup=${hups} requests=${proxy.total()} faults=${JSON.stringify(faults)} early-same-path-after-retry-after=${JSON.stringify(proxy.earlyAfterRetryAfter())} other-paths-during-retry-after=${JSON.stringify(proxy.duringAnyRetryAfter())} engine-restarts=${restarts} converge-after-last-move=${(settle / 1000).toFixed(1)}s rss-kib start=${rssStart} max=${rssMax} end=${rssEnd} event-loop-max-delay-ms at-start=${String(loopAtStart)} end=${String(loopMax)} exit=${String(code)}`);
      expect(code).toBe(0);
      expect(restarts).toBeGreaterThanOrEqual(seconds >= 60 ? 2 : 1);
      // Reported (a timing, not asserted), but it must be readable: the daemon exports it.
      expect(loopMax).toBeTypeOf('number');
      expect(proxy.earlyAfterRetryAfter().resolver).toBe(0);
      expect(faults.reset + faults['5xx'] + faults['429'] + faults.slow).toBeGreaterThan(0);
      // Generous: a leak of a few KiB per request would pass a short run; this catches runaway growth.
      expect(rssMax).toBeLessThan(rssStart + 200 * 1024);
    } finally {
      if (exitCode === undefined) child.kill('SIGKILL');
      await exited;
    }
  });
});
