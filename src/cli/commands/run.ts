/**
 * `resolver run IMAGE [options] [--] [CMD ARGS…]`: resolve, pull if needed (progress on stderr), create
 * and start a container from the **child digest**, attach, forward SIGINT/SIGTERM, exit with the
 * container's code. Offline first: when the registry cannot be reached, run the child recorded for this
 * reference and platform if the engine has it, with a warning.
 */
import type { Command } from 'commander';
import { ResolverError } from '../../errors.js';
import type { Engine } from '../../engine/engine.js';
import { formatPlatformAll } from '../../platform/platform.js';
import { familiarName, formatReference, parseReference, withDefaultTag } from '../../reference/reference.js';
import { hasRepoDigest, pullResolved } from '../../resolver/pull.js';
import { resolveImage } from '../../resolver/resolve.js';
import { createProgressRenderer, type ProgressSink } from '../progress.js';
import type { Output } from '../output.js';
import type { Services, TargetOptions } from '../services.js';
import type { SignalHub } from '../signals.js';

/** Options of `run`. */
export interface RunOptions extends TargetOptions {
  readonly rm?: boolean;
  readonly name?: string;
  readonly env: string[];
  readonly detach?: boolean;
  readonly interactive?: boolean;
  readonly tty?: boolean;
  readonly network?: string;
  readonly volume: string[];
  readonly quiet?: boolean;
}

/** Terminal streams of the process. */
export interface RunIo {
  readonly stdin: NodeJS.ReadStream;
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
}

const offlineCodes = new Set(['ERR_NETWORK', 'ERR_TLS']);

async function imageToRun(image: string, options: RunOptions, services: Services, engine: Engine, deps: { output: Output; stderr: ProgressSink; signal: AbortSignal }): Promise<string> {
  const ref = withDefaultTag(parseReference(image));
  const target = await services.target(options, deps.signal);
  let resolution;
  try {
    resolution = await resolveImage(services.registry, ref, target, { signal: deps.signal });
  } catch (error) {
    if (!(error instanceof ResolverError) || !offlineCodes.has(error.code)) throw error;
    const platform = formatPlatformAll(target.platform);
    const known = await services.state.get(formatReference(ref), platform);
    const local = known === undefined ? undefined : await engine.inspectImage(`${familiarName(ref)}@${known.childDigest}`);
    if (known === undefined || local === undefined || !hasRepoDigest(local.repoDigests, ref, known.childDigest)) {
      throw new ResolverError(error.code, `${error.message}; and no image was pulled before for ${formatReference(ref)} on ${platform}`, { cause: error, details: error.details });
    }
    deps.output.err(`warning: ${error.message}`);
    deps.output.err(`warning: running ${known.childDigest}, pulled ${known.pulledAt} for ${platform}; it may be stale`);
    return `${familiarName(ref)}@${known.childDigest}`;
  }
  const renderer = options.quiet === true ? undefined : createProgressRenderer(deps.stderr);
  const outcome = await pullResolved({ registry: services.registry, engine, credentials: services.credentials, state: services.state }, ref, resolution, target, {
    signal: deps.signal, onProgress: renderer === undefined ? undefined : (s) => renderer.update(s),
  });
  renderer?.finish();
  return outcome.digestReference;
}

/** Runs the command; returns the exit code. */
export async function run(image: string, command: readonly string[], options: RunOptions, services: Services, deps: { output: Output; stderr: ProgressSink; io: RunIo; signals: SignalHub }): Promise<number> {
  const signal = deps.signals.controller.signal;
  const engine = await services.engine(signal);
  const reference = await imageToRun(image, options, services, engine, { ...deps, signal });
  const tty = options.tty === true;
  const stdin = options.interactive === true;
  const id = await engine.createContainer({
    image: reference, name: options.name, cmd: command.length > 0 ? command : undefined, env: options.env, tty, stdin,
    networkMode: options.network, binds: options.volume,
  });
  if (options.detach === true) {
    await engine.start(id);
    deps.output.out(id);
    return 0;
  }
  const forward = deps.signals.push((sig) => {
    void engine.kill(id, sig);
  });
  const rawMode = tty && stdin && deps.io.stdin.isTTY;
  const onResize = (): void => void engine.resize(id, deps.io.stdout.rows, deps.io.stdout.columns);
  try {
    if (rawMode) deps.io.stdin.setRawMode(true);
    if (tty && deps.io.stdout.isTTY) deps.io.stdout.on('resize', onResize);
    const code = await engine.runAttached(id, { stdin: stdin ? deps.io.stdin : undefined, stdout: deps.io.stdout, stderr: deps.io.stderr }, { tty, stdin });
    if (tty && deps.io.stdout.isTTY) onResize();
    return code;
  } finally {
    forward();
    if (rawMode) deps.io.stdin.setRawMode(false);
    deps.io.stdout.off('resize', onResize);
    if (stdin) deps.io.stdin.pause();
    if (options.rm === true) await engine.remove(id);
  }
}

const collect = (v: string, acc: string[]): string[] => [...acc, v];

/** Registers the command. */
export function register(
  program: Command,
  deps: { output: Output; stderr: ProgressSink; io: RunIo; signals: SignalHub; services: (opts: { insecureRegistries: string[] }) => Services; setExitCode: (code: number) => void },
): void {
  program
    .command('run')
    .description('resolve IMAGE for this host, pull the child if needed, and run it (pinned to its digest)')
    .argument('<image>', 'image reference')
    .argument('[command...]', 'command and arguments (override the image\'s CMD)')
    .option('--platform <platform>', 'target platform instead of the host; default $DOCKER_DEFAULT_PLATFORM')
    .option('--rm', 'remove the container when it exits')
    .option('--name <name>', 'container name')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collect, [] as string[])
    .option('-d, --detach', 'run in the background and print the container ID')
    .option('-i, --interactive', 'keep stdin open')
    .option('-t, --tty', 'allocate a terminal')
    .option('--network <network>', 'network mode (e.g. none, host, bridge)')
    .option('-v, --volume <src:dst>', 'bind mount (repeatable)', collect, [] as string[])
    .option('-q, --quiet', 'no pull progress')
    .option('--insecure-registry <host>', 'allow plain HTTP / unverified TLS for this registry (repeatable)', collect, [] as string[])
    .passThroughOptions()
    .action(async (image: string, command: string[], opts: RunOptions & { insecureRegistry: string[] }) => {
      const services = deps.services({ insecureRegistries: opts.insecureRegistry });
      try {
        for (const e of opts.env) {
          if (!/^[^=]+=/.test(e) && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(e)) throw new ResolverError('ERR_USAGE', `-e ${e}: expected KEY=VALUE`);
        }
        const env = opts.env.map((e) => (e.includes('=') ? e : `${e}=${process.env[e] ?? ''}`));
        deps.setExitCode(await run(image, command, { ...opts, env }, services, deps));
      } finally {
        await services.close();
      }
    });
}
