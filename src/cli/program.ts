/**
 * The commander program. Commands are registered here; each lives in commands/<name>.ts.
 */
import { Command, CommanderError } from 'commander';
import { ResolverError } from '../errors.js';
import * as platformCommand from './commands/platform.js';
import * as whichCommand from './commands/which.js';
import type { Output } from './output.js';
import type { Services } from './services.js';

/** Dependencies of the program. */
export interface ProgramDeps {
  readonly output: Output;
  readonly services: (opts: { insecureRegistries: string[] }) => Services;
}

/** Builds the program. */
export function buildProgram(deps: ProgramDeps): Command {
  const program = new Command('resolver')
    .description('Resolve a multi-arch image tag to the child Docker would pull on this host, by Docker\'s own rules.')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => deps.output.out(s), writeErr: (s) => deps.output.err(s) });
  whichCommand.register(program, deps);
  platformCommand.register(program, deps);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

/** Turns commander's exits into our errors (usage → exit 2); help and version are success. */
export function commanderExit(error: unknown): ResolverError | undefined {
  if (!(error instanceof CommanderError)) return undefined;
  if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return undefined;
  return new ResolverError('ERR_USAGE', error.message.replace(/^error: /, ''));
}
