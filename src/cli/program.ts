/**
 * The commander program. Commands are registered here; each lives in commands/<name>.ts.
 */
import { Command, CommanderError } from 'commander';
import { ResolverError } from '../errors.js';
import * as daemonCommands from './commands/daemon.js';
import * as manifestCommands from './commands/manifest.js';
import * as platformCommand from './commands/platform.js';
import * as pullCommand from './commands/pull.js';
import * as runCommand from './commands/run.js';
import * as whichCommand from './commands/which.js';
import type { Output } from './output.js';
import type { ProgressSink } from './progress.js';
import type { RunIo } from './commands/run.js';
import type { Services } from './services.js';
import type { SignalHub } from './signals.js';

/** Dependencies of the program. */
export interface ProgramDeps {
  readonly output: Output;
  readonly stderr: ProgressSink;
  readonly io: RunIo;
  readonly signals: SignalHub;
  readonly services: (opts: { insecureRegistries: string[] }) => Services;
  readonly setExitCode: (code: number) => void;
}

/** Builds the program. */
export function buildProgram(deps: ProgramDeps): Command {
  const program = new Command('resolver')
    .description('Resolve a multi-arch image tag to the child Docker would pull on this host, by Docker\'s own rules.')
    .version('0.1.0')
    .showHelpAfterError()
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeOut: (s) => deps.output.out(s), writeErr: (s) => deps.output.err(s) });
  // Every command that waits on the network gets the signal that SIGINT/SIGTERM abort (exit 130/143).
  const signal = deps.signals.controller.signal;
  whichCommand.register(program, { ...deps, signal });
  platformCommand.register(program, { ...deps, signal });
  pullCommand.register(program, { ...deps, signal });
  runCommand.register(program, deps);
  daemonCommands.register(program, deps);
  manifestCommands.register(program, { ...deps, signal, writeRaw: (bytes) => void process.stdout.write(bytes) });
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

/** Turns commander's exits into our errors (usage → exit 2); help and version are success. */
export function commanderExit(error: unknown): ResolverError | undefined {
  if (!(error instanceof CommanderError)) return undefined;
  if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return undefined;
  return new ResolverError('ERR_USAGE', error.message.replace(/^error: /, ''));
}
