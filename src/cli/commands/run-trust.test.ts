/**
 * `resolver run` (default `--pull newer`) trusting the daemon's last check (issue 10 §4; docs/run.md): a
 * real Daemon on fakes (FakeEngine, FakeRegistry) holding the real lock and control socket in a temp state
 * folder, and `run` on the same folder, engine and registry. What is counted is the registry's request log.
 */
import { mkdtempSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { StateStore } from '../../state/state-store.js';
import { rig, type Rig } from '../../../test/fakes/daemon-rig.js';
import { targetFor } from '../../../test/fakes/daemon-rig.js';
import { SignalHub } from '../signals.js';
import { daemonTimeoutOf, run, type RunCommandOptions, type RunDeps } from './run.js';

const image = 'localhost:5001/fleet/app:stable';
// Yearly: the daemon checks once at start, and trusts that check for at most an hour.
const yaml = `schedule: "0 0 1 1 *"\nsplay: 0s\nstateDir: STATE\nimages:\n  - image: ${image}\n`;

let r: Rig | undefined;
let silent: { server: Server; sockets: Socket[] } | undefined;
afterEach(async () => {
  await r?.daemon.stop();
  r = undefined;
  for (const s of silent?.sockets ?? []) s.destroy();
  await new Promise((done) => (silent === undefined ? done(undefined) : silent.server.close(done)));
  silent = undefined;
  vi.useRealTimers();
});

function depsFor(rg: Pick<Rig, 'engine' | 'registry'>, stateDir: string, err: string[] = []): RunDeps {
  const stream = (): NodeJS.WriteStream => Object.assign(new PassThrough(), { isTTY: false, rows: 24, columns: 80 }) as unknown as NodeJS.WriteStream;
  return {
    registry: rg.registry.asClient(), target: (o) => targetFor(rg.engine, o.platform), engine: () => Promise.resolve(rg.engine),
    credentials: { get: () => Promise.resolve(undefined) }, state: new StateStore(stateDir, () => undefined),
    output: { out: () => undefined, err: (t) => void err.push(t) },
    stderr: { write: () => undefined, isTTY: false, columns: 80, noEscapes: true },
    io: { stdin: Object.assign(new PassThrough(), { isTTY: false }) as unknown as NodeJS.ReadStream, stdout: stream(), stderr: stream() },
    signals: new SignalHub(),
    process: { onSignal: () => () => undefined, exit: () => undefined },
  };
}

// A generous socket deadline: the test machine is loaded, and the fallback is what a miss would look like.
const options = (extra: Partial<RunCommandOptions> = {}): RunCommandOptions => ({ image, command: [], env: [], volume: [], pull: 'newer', rm: true, daemonTimeoutMs: 10_000, debug: true, ...extra });

/** A daemon (lock held) that has checked `image` once: the engine holds the child; returns the rig and the child. */
async function checkedDaemon(): Promise<{ rg: Rig; child: string; stateDir: string }> {
  const rg = rig(yaml, { lock: true });
  r = rg;
  const { children } = rg.registry.publish(image, [{ architecture: 'amd64', label: 'a1' }, { architecture: 'arm64', variant: 'v8', label: 'b1' }]);
  await rg.daemon.start();
  const end = Date.now() + 10_000;
  while (rg.daemon.status().images[0]?.state !== 'ok') {
    if (Date.now() > end) throw new Error('timed out waiting for the daemon\'s first check');
    await new Promise((done) => setTimeout(done, 10));
  }
  rg.registry.log.length = 0;
  return { rg, child: children[0] ?? '', stateDir: join(rg.dir, 'state') };
}

describe('run --pull newer trusts a recent daemon check', () => {
  it('fresh: starts the daemon\'s child without a registry request, and exits with the container\'s code', async () => {
    const { rg, child, stateDir } = await checkedDaemon();
    rg.engine.runExitCode = 7;
    const err: string[] = [];
    expect(await run(options(), depsFor(rg, stateDir, err))).toBe(7);
    expect(rg.registry.log).toEqual([]);
    expect(rg.engine.created.map((c) => c.image)).toEqual([`localhost:5001/fleet/app@${child}`]);
    expect(err).toEqual([expect.stringMatching(/^resolver: debug: running sha256:[0-9a-f]{64}: the daemon checked .* s ago \(trusted up to 3600 s\); not asking the registry/)]);
  });

  it('prints nothing extra without RESOLVER_DEBUG', async () => {
    const { rg, stateDir } = await checkedDaemon();
    rg.engine.runExitCode = 0;
    const err: string[] = [];
    await run(options({ debug: false }), depsFor(rg, stateDir, err));
    expect(err).toEqual([]);
    expect(rg.registry.log).toEqual([]);
  });

  it.each([
    ['--pull always', { pull: 'always' as const }],
    ['another target platform (--platform linux/arm64)', { platform: 'linux/arm64' }],
    ['RESOLVER_RUN_DAEMON_TIMEOUT_MS=0', { daemonTimeoutMs: 0 }],
  ])('asks the registry with %s', async (_what, extra) => {
    const { rg, stateDir } = await checkedDaemon();
    rg.engine.runExitCode = 0;
    await run(options(extra), depsFor(rg, stateDir));
    expect(rg.registry.log).toContainEqual(`HEAD localhost:5001/fleet/app:stable`);
  });

  it('stale: a check older than the bound is not trusted', async () => {
    const { rg, stateDir } = await checkedDaemon();
    rg.engine.runExitCode = 0;
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 61 * 60_000 });
    const err: string[] = [];
    await run(options(), depsFor(rg, stateDir, err));
    expect(rg.registry.log).toContainEqual(`HEAD localhost:5001/fleet/app:stable`);
    expect(err).toContainEqual(expect.stringMatching(/the daemon's check is \d+ s old \(trusted up to 3600 s\); asking the registry/));
  });

  it('absent child: the engine no longer holds it by digest, so the registry is asked (and the child pulled again)', async () => {
    const { rg, child, stateDir } = await checkedDaemon();
    rg.engine.runExitCode = 0;
    await rg.engine.removeImage(`localhost:5001/fleet/app@${child}`);
    const err: string[] = [];
    await run(options(), depsFor(rg, stateDir, err));
    expect(rg.registry.log).toContainEqual(`HEAD localhost:5001/fleet/app:stable`);
    expect(err).toContainEqual(`resolver: debug: the daemon's child ${child} is not in the engine; asking the registry`);
  });

  it('a newer child in the state file (pulled after the daemon\'s check, e.g. by run --pull always) is not undone: the registry is asked', async () => {
    const { rg, child, stateDir } = await checkedDaemon();
    rg.engine.runExitCode = 0;
    // The tag moves after the daemon's check; run --pull always pulls the new child and records it.
    const { children } = rg.registry.publish(image, [{ architecture: 'amd64', label: 'a2' }]);
    await run(options({ pull: 'always' }), depsFor(rg, stateDir));
    rg.registry.log.length = 0;
    const err: string[] = [];
    await run(options(), depsFor(rg, stateDir, err));
    expect(rg.registry.log).toContainEqual(`HEAD localhost:5001/fleet/app:stable`);
    expect(rg.engine.created.at(-1)?.image).toBe(`localhost:5001/fleet/app@${children[0] ?? ''}`);
    expect(err).toContainEqual(expect.stringMatching(new RegExp(`^resolver: debug: ${children[0] ?? ''} was pulled here after the daemon's check .* which found ${child}; asking the registry$`)));
  });

  it('daemon down: no socket, the registry is asked', async () => {
    const { rg, stateDir } = await checkedDaemon();
    rg.engine.runExitCode = 0;
    await rg.daemon.stop();
    r = undefined;
    await run(options(), depsFor(rg, stateDir));
    expect(rg.registry.log).toContainEqual(`HEAD localhost:5001/fleet/app:stable`);
  });

  it('a socket that accepts and never answers: falls back to the registry after the deadline', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'run-trust-'));
    const sockets: Socket[] = [];
    const server = createServer((s) => void sockets.push(s));
    silent = { server, sockets };
    await new Promise<void>((done) => server.listen(join(stateDir, 'daemon.sock'), done));
    const rg = rig(yaml);
    rg.registry.publish(image, [{ architecture: 'amd64', label: 'a1' }]);
    rg.engine.runExitCode = 3;
    const err: string[] = [];
    expect(await run(options({ daemonTimeoutMs: 50 }), depsFor(rg, stateDir, err))).toBe(3);
    expect(sockets.length).toBe(1);
    expect(rg.registry.log).toContainEqual(`HEAD localhost:5001/fleet/app:stable`);
    expect(err).toContainEqual(expect.stringMatching(/did not answer within 50 ms; asking the registry$/));
  });
});

describe('RESOLVER_RUN_DAEMON_TIMEOUT_MS', () => {
  it.each([[undefined, 250], ['', 250], ['0', 0], ['1000', 1000]])('%j → %i ms', (text, ms) => {
    expect(daemonTimeoutOf({ RESOLVER_RUN_DAEMON_TIMEOUT_MS: text })).toBe(ms);
  });
  it.each(['-1', '1.5', 'soon'])('refuses %j', (text) => {
    expect(() => daemonTimeoutOf({ RESOLVER_RUN_DAEMON_TIMEOUT_MS: text })).toThrow(/RESOLVER_RUN_DAEMON_TIMEOUT_MS/);
  });
});
