import { describe, expect, it } from 'vitest';
import { ResolverError } from '../errors.js';
import { withCommandDeps, type CommandDeps, type ProgramDeps } from './command-deps.js';
import type { DaemonCommandDeps } from './commands/daemon.js';
import type { AnnotateDeps, ManifestReadDeps, PushCommandDeps } from './commands/manifest.js';
import type { NotifyCommandDeps } from './commands/notify.js';
import type { PlatformDeps } from './commands/platform.js';
import type { PullCommandDeps } from './commands/pull.js';
import type { RunDeps } from './commands/run.js';
import type { WhichDeps } from './commands/which.js';
import type { ServiceOptions, Services } from './services.js';
import { SignalHub } from './signals.js';

// Every command's deps is a part of CommandDeps: one object, wired in withCommandDeps, serves them all (typecheck).
export const _everyCommand = (d: CommandDeps): [WhichDeps, PlatformDeps, PullCommandDeps, RunDeps, ManifestReadDeps, AnnotateDeps, PushCommandDeps, DaemonCommandDeps, NotifyCommandDeps] => [d, d, d, d, d, d, d, d, d];

function programDeps(): { deps: ProgramDeps; asked: ServiceOptions[]; closed: number[] } {
  const asked: ServiceOptions[] = [];
  const closed: number[] = [];
  const deps: ProgramDeps = {
    output: { out: () => undefined, err: () => undefined },
    stderr: { write: () => undefined, isTTY: false },
    io: { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
    signals: new SignalHub(),
    setExitCode: () => undefined,
    process: { env: { HOME: '/nonexistent' }, hostname: 'unit', uid: 1000, stdoutIsTTY: false, onHangup: () => () => undefined, onSignal: () => () => undefined, exit: () => undefined },
    clock: () => 0,
    services: (o) => {
      asked.push(o);
      const n = asked.length;
      return { registry: { name: `registry ${n}` }, state: { name: `state ${n}` }, close: () => Promise.resolve(void closed.push(n)) } as unknown as Services;
    },
  };
  return { deps, asked, closed };
}

describe('withCommandDeps: the one place a command\'s deps are wired', () => {
  it('builds the services once for the command\'s insecure registries, before the command runs, and closes them after', async () => {
    const { deps, asked, closed } = programDeps();
    const seen = await withCommandDeps(deps, ['a.example:5000'], (d) => {
      expect(asked).toEqual([{ insecureRegistries: ['a.example:5000'] }]);
      return Promise.resolve([d.registry, d.state, d.signal === deps.signals.controller.signal, d.process.hostname]);
    });
    expect(seen).toEqual([{ name: 'registry 1' }, { name: 'state 1' }, true, 'unit']);
    expect(asked).toHaveLength(1);
    expect(closed).toEqual([1]);
  });

  it('closes them when the command fails, and the failure is the command\'s', async () => {
    const { deps, closed } = programDeps();
    const failure = new ResolverError('ERR_NOT_FOUND', 'no such image');
    await expect(withCommandDeps(deps, [], () => Promise.reject(failure))).rejects.toBe(failure);
    expect(closed).toEqual([1]);
  });

  it('lazy: a command that needs no registry or engine builds no services (manifest rm, annotate with every flag)', async () => {
    const { deps, asked, closed } = programDeps();
    await withCommandDeps(deps, [], () => Promise.resolve(), { lazy: true });
    expect(asked).toEqual([]);
    expect(closed).toEqual([]);
    await withCommandDeps(deps, [], (d) => Promise.resolve(d.registry), { lazy: true });
    expect(asked).toHaveLength(1);
    expect(closed).toEqual([1]);
  });
});
