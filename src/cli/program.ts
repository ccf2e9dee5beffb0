/**
 * The commander program. Commands are registered here; each lives in commands/<name>.ts.
 */
import { Command, CommanderError } from 'commander';
import { ResolverError } from '../errors.js';
import * as daemonCommands from './commands/daemon.js';
import * as manifestCommands from './commands/manifest.js';
import * as notifyCommand from './commands/notify.js';
import * as platformCommand from './commands/platform.js';
import * as pullCommand from './commands/pull.js';
import * as runCommand from './commands/run.js';
import * as whichCommand from './commands/which.js';
import { addEngineOptions, type EngineOptions } from './options.js';
import { resolverVersion } from './version.js';
import type { ProgramDeps } from './command-deps.js';

export type { ProgramDeps } from './command-deps.js';

/** Commands that take the engine from their config file, not from the global --host/--context. */
const configuredCommands = new Set(['daemon', 'check', 'status', 'config']);

function topLevel(cmd: Command, root: Command): string {
  let c = cmd;
  while (c.parent !== null && c.parent !== root) c = c.parent;
  return c.name();
}

/** Builds the program. */
export function buildProgram(programDeps: ProgramDeps): Command {
  const program = new Command('resolver')
    .description('Resolve a multi-arch image tag to the child Docker would pull on this host, by Docker\'s own rules.')
    .version(resolverVersion())
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeOut: (s) => programDeps.output.out(s), writeErr: (s) => programDeps.output.err(s) });
  addEngineOptions(program);
  // A global --host/--context would be silently ignored by the daemon commands: refuse it there.
  program.hook('preAction', (_root, action) => {
    const engine = program.opts<EngineOptions>();
    const top = topLevel(action, program);
    if ((engine.host !== undefined || engine.context !== undefined) && configuredCommands.has(top)) {
      throw new ResolverError('ERR_USAGE', `--host/--context do not apply to "resolver ${top}"`, {
        details: ['set engine.host in the config file (or DOCKER_HOST / DOCKER_CONTEXT in the environment of the daemon)'],
      });
    }
  });
  // Every command's services see the global engine options (read when the command runs, after parsing).
  const deps: ProgramDeps = {
    ...programDeps,
    services: (o) => {
      const engine = program.opts<EngineOptions>();
      return programDeps.services({ ...o, engineHost: engine.host, engineContext: engine.context });
    },
  };
  // Every command gets the same deps; each command's run(options, deps) is wired in withCommandDeps (command-deps.ts).
  for (const command of [whichCommand, platformCommand, pullCommand, runCommand, daemonCommands, notifyCommand, manifestCommands]) command.register(program, deps);
  // A usage error is one line and a pointer to the help, as docker prints it ("See 'docker run --help'."),
  // not the whole help text on stderr.
  const hint = (cmd: Command, path: string): void => {
    cmd.showHelpAfterError(`See '${path} --help'.`);
    for (const sub of cmd.commands) hint(sub, `${path} ${sub.name()}`);
  };
  hint(program, 'resolver');
  // run sets its own: its usage errors exit as docker run's do.
  for (const cmd of program.commands) if (cmd.name() !== 'run') cmd.exitOverride();
  return program;
}

/** Turns commander's exits into our errors (usage → exit 2); help and version are success. */
export function commanderExit(error: unknown): ResolverError | undefined {
  if (!(error instanceof CommanderError)) return undefined;
  if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return undefined;
  return new ResolverError('ERR_USAGE', error.message.replace(/^error: /, ''));
}
