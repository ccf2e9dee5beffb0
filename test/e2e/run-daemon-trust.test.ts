/**
 * `resolver run` (default `--pull newer`) trusting the daemon's last check (issue 10 §4; docs/run.md), the
 * built CLI and the built daemon against the harness's private dockerd and a real registry behind a counting
 * proxy (test/e2e/counting-registry.ts). Every registry connection and request of a run is counted at the
 * proxy; the tag is moved at the registry itself (not through the proxy) after the daemon's check, so the
 * child a run prints also says whether it asked.
 *
 * The daemon's schedule fires twice a day, 20 min apart, 12 h away from now: it checks once at start and
 * not again during the test, and its period (20 min) is shorter than the 1 h cap, so the period is the bound
 * under test. Runs that must see an older check run under libfaketime with their clock moved forward.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient } from '../../src/http/http.js';
import { Pusher } from '../sandbox/push.js';
import { busyboxRoot, publishIndex } from '../sandbox/samples.js';
import { cliPath } from './cli.js';
import { startCountingRegistry, type CountingRegistry } from './counting-registry.js';
import { fakeClock, libfaketime, messages, startDaemon, until, type DaemonProcess } from './daemon-process.js';

const s = inject('services');
const dockerHost = s.engine;
const http = createHttpClient();
let dir = '';
let stateDir = '';
let counting: CountingRegistry | undefined;
let daemon: DaemonProcess | undefined;
const repo = 'trust/app';
const ref = (): string => `${counting?.proxy.host ?? ''}/${repo}:latest`;

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Connections and requests that reached the registry's proxy during this run. */
  readonly connections: number;
  readonly requests: string[];
}

/**
 * `resolver run --rm --network none ARGS` on the daemon's state folder, killed after a deadline so that a
 * hang fails the test instead of stalling it. `clock` ('+25m') runs it under libfaketime.
 */
async function run(args: readonly string[], options: { env?: Record<string, string>; clock?: string } = {}): Promise<Outcome> {
  const proxy = counting?.proxy;
  if (proxy === undefined) throw new Error('no registry');
  let clockEnv: Record<string, string> = {};
  if (options.clock !== undefined) {
    const file = join(dir, `clock-${options.clock.replace(/\W/g, '')}`);
    await writeFile(file, `${options.clock}\n`);
    clockEnv = fakeClock(file);
  }
  const count = (): number => proxy.connections?.() ?? Number.NaN;
  const connections = count();
  const mark = proxy.requests.length;
  return new Promise((resolve, reject) => {
    const env = { PATH: process.env['PATH'], HOME: process.env['HOME'], DOCKER_HOST: dockerHost ?? '', RESOLVER_STATE_DIR: stateDir, ...clockEnv, ...options.env };
    const child = spawn(process.execPath, [cliPath, 'run', '--rm', '--network', 'none', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, connections: count() - connections, requests: proxy.requests.slice(mark) });
    });
  });
}

/** Moves `trust/app:latest` at the registry itself (not through the counting proxy) to a child that prints `text`. */
async function publish(text: string): Promise<void> {
  if (counting === undefined) throw new Error('no registry');
  await publishIndex(new Pusher({ http, host: counting.registry.host, repository: repo }), {
    tag: 'latest', format: 'oci', label: text,
    children: [{ platform: { os: 'linux', architecture: 'amd64' }, files: await busyboxRoot(), cmd: ['/bin/sh', '-c', `echo ${text}; exit $CODE`] }],
  });
}

const debug = { RESOLVER_DEBUG: '1' };
const asksTheTag = (o: Outcome): void => {
  expect(o.requests).toContainEqual(`HEAD /v2/${repo}/manifests/latest`);
};

beforeAll(async () => {
  dir = await mkdtemp(join(s.tmp, 'run-daemon-trust-'));
  stateDir = join(dir, 'state');
  counting = await startCountingRegistry(join(dir, 'registry'));
});
afterAll(async () => {
  if (daemon !== undefined) {
    daemon.child.kill('SIGCONT');
    await daemon.stop();
  }
  await counting?.stop();
  await http.close();
});

describe.runIf((dockerHost !== undefined || process.env['CI'] === 'true') && process.arch === 'x64')('resolver run --pull newer and a recent daemon check (real engine, registry requests counted)', () => {
  it('the daemon checks the tag once (and pulls its child)', async () => {
    await publish('v1');
    const hour = (new Date().getUTCHours() + 12) % 24;
    const config = join(dir, 'daemon.yaml');
    await writeFile(config, `engine:\n  host: ${dockerHost ?? ''}\nschedule: "0,20 ${hour} * * *"\nsplay: 0s\nstateDir: ${stateDir}\nshutdownTimeout: 5s\nimages:\n  - image: ${ref()}\n`);
    const d = startDaemon(config, { TZ: 'UTC' });
    daemon = d;
    await until('the daemon\'s first check', () => messages(d, 'pulled a new child').length > 0 || messages(d, 'check failed')[0], 120_000);
    expect(messages(d, 'check failed')).toEqual([]);
    // The tag moves after the daemon's check: a run that asks the registry now gets v2, one that trusts the daemon v1.
    await publish('v2');
  }, 180_000);

  it('fresh: run starts the daemon\'s child without one connection to the registry, prints nothing extra, exits with the container\'s code', async () => {
    const r = await run(['-e', 'CODE=3', ref()]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('v1\n');
    expect(r.code).toBe(3);
    expect(r.requests).toEqual([]);
    expect(r.connections).toBe(0);
  }, 90_000);

  it('RESOLVER_DEBUG=1 says which child ran, how old the check was and its bound (the schedule\'s 20 min period)', async () => {
    const r = await run(['-e', 'CODE=0', ref()], { env: debug });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('v1\n');
    expect(r.stderr).toMatch(/^resolver: debug: running sha256:[0-9a-f]{64}: the daemon checked .* for linux\/amd64\S* \d+ s ago \(trusted up to 1200 s\); not asking the registry \(--pull always does\)\n$/);
    expect(r.connections).toBe(0);
  }, 90_000);

  it.runIf(libfaketime !== undefined)('a check 10 min old (younger than the period) is still trusted', async () => {
    const young = await run(['-e', 'CODE=0', ref()], { clock: '+10m', env: debug });
    expect(young.code, young.stderr).toBe(0);
    expect(young.stdout).toBe('v1\n');
    expect(young.connections).toBe(0);
  }, 90_000);

  it('--pull always asks the registry', async () => {
    const r = await run(['--pull', 'always', '-e', 'CODE=0', ref()]);
    expect(r.code, r.stderr).toBe(0);
    asksTheTag(r);
    expect(r.stdout).toBe('v2\n');
  }, 90_000);

  it('after a run pulled a newer child than the daemon\'s check found, run does not go back to the daemon\'s older child', async () => {
    // The state file records v2, pulled after the daemon's check (of v1): the daemon's answer is older news.
    const r = await run(['-e', 'CODE=0', ref()], { env: debug });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('v2\n');
    expect(r.stderr).toMatch(/resolver: debug: sha256:[0-9a-f]{64} was pulled here after the daemon's check .*; asking the registry/);
    asksTheTag(r);
  }, 90_000);

  it.runIf(libfaketime !== undefined)('a check 25 min old (older than the 20 min period) is not: the registry is asked', async () => {
    const old = await run(['-e', 'CODE=0', ref()], { clock: '+25m', env: debug });
    expect(old.code, old.stderr).toBe(0);
    const age = /resolver: debug: the daemon's check is (\d+) s old \(trusted up to 1200 s\); asking the registry/.exec(old.stderr);
    expect(age, old.stderr).not.toBeNull();
    expect(Number(age?.[1])).toBeGreaterThanOrEqual(1500);
    asksTheTag(old);
    expect(old.stdout).toBe('v2\n');
  }, 90_000);

  it('a daemon that does not answer (stopped with SIGSTOP) does not hang run: after the 250 ms deadline the registry is asked', async () => {
    const d = daemon;
    if (d === undefined) throw new Error('no daemon');
    d.child.kill('SIGSTOP');
    try {
      const r = await run(['-e', 'CODE=0', ref()], { env: debug });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/resolver: debug: the daemon's socket .*daemon\.sock did not answer within 250 ms; asking the registry/);
      asksTheTag(r);
    } finally {
      d.child.kill('SIGCONT');
    }
  }, 90_000);

  it('no daemon: the registry is asked', async () => {
    expect(await daemon?.stop()).toBe(0);
    daemon = undefined;
    const r = await run(['-e', 'CODE=0', ref()], { env: debug });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('resolver: debug: no daemon runs on this state folder; asking the registry');
    asksTheTag(r);
    expect(r.stdout).toBe('v2\n');
  }, 90_000);
});
