import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ResolverError, type ErrorCode } from '../../errors.js';
import { StateStore } from '../../state/state-store.js';
import { FakeEngine } from '../../../test/fakes/fake-engine.js';
import { FakeRegistry } from '../../../test/fakes/fake-registry.js';
import { expectResolverError } from '../../../test/fakes/expect-error.js';
import { targetFor } from '../../../test/fakes/daemon-rig.js';
import { SignalHub } from '../signals.js';
import { containerEnv, run, runFailureExitCode, type RunDeps } from './run.js';

describe('containerEnv (-e as docker run reads it)', () => {
  it('keeps KEY=VALUE, fills a bare KEY from this environment, and leaves an unset KEY bare (unset in the container)', () => {
    expect(containerEnv(['A=1', 'B=', 'C=x=y', 'SET', 'UNSET'], { SET: 'here', EMPTY: '' })).toEqual(['A=1', 'B=', 'C=x=y', 'SET=here', 'UNSET']);
    expect(containerEnv(['EMPTY'], { EMPTY: '' })).toEqual(['EMPTY=']);
  });

  it.each(['=x', ''])('refuses %j', (entry) => {
    expect(() => containerEnv([entry], {})).toThrow(ResolverError);
  });
});

describe('runFailureExitCode (docker run: 125 for its own failures)', () => {
  it.each([
    ['ERR_COMMAND_NOT_FOUND', 127],
    ['ERR_COMMAND_NOT_INVOKABLE', 126],
    ['ERR_CONTAINER_FAILED', 125],
    ['ERR_NO_MATCHING_PLATFORM', 125],
    ['ERR_NETWORK', 125],
    ['ERR_USAGE', 125],
    ['ERR_ENGINE_UNAVAILABLE', 125],
    ['ERR_ABORTED', 130],
  ] as [ErrorCode, number][])('%s → %i', (code, exit) => {
    expect(runFailureExitCode(new ResolverError(code, 'x'), new SignalHub())).toBe(exit);
  });
});

function runSetup(): { registry: FakeRegistry; engine: FakeEngine; state: StateStore; out: string[]; err: string[]; hooked: string[]; deps: RunDeps } {
  const registry = new FakeRegistry();
  const engine = new FakeEngine();
  engine.runExitCode = 7;
  const state = new StateStore(join(mkdtempSync(join(tmpdir(), 'run-cmd-')), 'state'), () => undefined);
  const out: string[] = [];
  const err: string[] = [];
  const hooked: string[] = [];
  const stream = (): NodeJS.WriteStream => Object.assign(new PassThrough(), { isTTY: false, rows: 24, columns: 80 }) as unknown as NodeJS.WriteStream;
  const deps: RunDeps = {
    registry: registry.asClient(), target: (o) => targetFor(engine, o.platform), engine: () => Promise.resolve(engine),
    credentials: { get: () => Promise.resolve(undefined) }, state,
    output: { out: (t) => void out.push(t), err: (t) => void err.push(t) },
    stderr: { write: () => undefined, isTTY: false, columns: 80, noEscapes: true },
    io: { stdin: Object.assign(new PassThrough(), { isTTY: false }) as unknown as NodeJS.ReadStream, stdout: stream(), stderr: stream() },
    signals: new SignalHub(),
    process: {
      onSignal: (signal) => {
        hooked.push(`on ${signal}`);
        return () => void hooked.push(`off ${signal}`);
      },
      exit: () => undefined,
    },
  };
  return { registry, engine, state, out, err, hooked, deps };
}

const image = 'localhost:5001/fleet/app:stable';
const base = { env: [], volume: [], pull: 'newer' as const, command: [] };

describe('run: run(options, deps)', () => {
  it('pulls the child, creates the container from its digest, forwards the other signals while it runs, and exits with its code', async () => {
    const { registry, engine, hooked, deps } = runSetup();
    const { children } = registry.publish(image, [{ architecture: 'arm64', variant: 'v8', label: 'b' }, { architecture: 'amd64', label: 'a' }]);
    const code = await run({ ...base, image, command: ['sh', '-c', 'exit 7'], env: ['A=1'], rm: true }, deps);
    expect(code).toBe(7);
    expect(engine.created).toEqual([expect.objectContaining({ image: `localhost:5001/fleet/app@${children[1]}`, cmd: ['sh', '-c', 'exit 7'], env: ['A=1'], autoRemove: true, tty: false, stdin: false })]);
    expect(hooked).toEqual(['on SIGHUP', 'on SIGQUIT', 'on SIGUSR1', 'on SIGUSR2', 'off SIGHUP', 'off SIGQUIT', 'off SIGUSR1', 'off SIGUSR2']);
  });

  it('--detach prints the container ID once it exists and starts it; the engine\'s warnings go to stderr', async () => {
    const { registry, engine, out, err, deps } = runSetup();
    registry.publish(image, [{ architecture: 'amd64', label: 'a' }]);
    engine.createWarnings = ['The requested image\'s platform does not match'];
    expect(await run({ ...base, image, detach: true }, deps)).toBe(0);
    expect(out).toEqual(['fake-container-1']);
    expect(err).toContain('WARNING: The requested image\'s platform does not match');
    expect(engine.calls).toContain('start fake-container-1');
  });

  it('--pull missing runs the engine\'s own image of that name without asking the registry; --pull never without one is ERR_NOT_FOUND', async () => {
    const { registry, engine, deps } = runSetup();
    engine.addImage({ tags: [image] });
    expect(await run({ ...base, image, pull: 'missing' }, deps)).toBe(7);
    expect(engine.created.map((c) => c.image)).toEqual([image]);
    expect(registry.log).toEqual([]);
    const e = await expectResolverError(run({ ...base, image: 'localhost:5001/fleet/other:1', pull: 'never' }, deps), 'ERR_NOT_FOUND');
    expect(e.message).toMatch(/^No such image: localhost:5001\/fleet\/other:1 for linux\/amd64/);
  });

  it('--platform goes to the create, as docker run sends it (the engine then refuses another platform and does not warn); none without it', async () => {
    const { registry, engine, deps } = runSetup();
    registry.publish(image, [{ architecture: 'arm64', variant: 'v8', label: 'b' }, { architecture: 'amd64', label: 'a' }]);
    await run({ ...base, image, platform: 'linux/arm64' }, deps);
    await run({ ...base, image }, deps);
    expect(engine.created.map((c) => c.platform)).toEqual(['linux/arm64', undefined]);
  });

  it('--platform and a single-platform image of another platform: the pull\'s warning (Docker 20.10), or its failure before any create (26.1)', async () => {
    const { registry, engine, err, deps } = runSetup();
    registry.publishSingle(image, { architecture: 'arm64', label: 'arm' });
    engine.pulledPlatform = { os: 'linux', architecture: 'arm64', variant: '' };
    Object.assign(engine.factsValue, { version: '20.10.24' });
    await run({ ...base, image, platform: 'linux/amd64' }, deps);
    expect(err).toContain('WARNING: image with reference localhost:5001/fleet/app was found but does not match the specified platform: wanted linux/amd64, actual: linux/arm64');
    expect(engine.created.map((c) => c.platform)).toEqual(['linux/amd64']);
    const other = runSetup();
    other.registry.publishSingle(image, { architecture: 'arm64', label: 'arm' });
    other.engine.pulledPlatform = { os: 'linux', architecture: 'arm64', variant: '' };
    await expectResolverError(run({ ...base, image, platform: 'linux/amd64' }, other.deps), 'ERR_NO_MATCHING_PLATFORM');
    expect(other.engine.created).toEqual([]);
  });

  it('-it without a terminal on stdin exits 1 before anything is pulled or created, as docker run', async () => {
    const { registry, engine, err, deps } = runSetup();
    registry.publish(image, [{ architecture: 'amd64', label: 'a' }]);
    expect(await run({ ...base, image, interactive: true, tty: true }, deps)).toBe(1);
    expect(err).toEqual(['resolver: the input device is not a TTY']);
    expect(registry.log).toEqual([]);
    expect(engine.created).toEqual([]);
  });
});
