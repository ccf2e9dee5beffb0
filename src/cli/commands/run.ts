/**
 * `resolver run [OPTIONS] IMAGE [COMMAND] [ARG...]`, as `docker run`: resolve, pull if needed (progress on
 * stderr), create and start a container from the **child digest**, attach, forward signals, exit with the
 * container's code. Everything after IMAGE (`--` included) belongs to the container. Exit codes are
 * docker run's: 125 when resolver or the engine failed, 126/127 when the command cannot be invoked / does
 * not exist, else the container's own. `--pull` picks when the registry is asked (default `newer`: unless
 * the daemon of this state folder checked the tag for this platform within its schedule's period and the
 * engine holds that child (docs/run.md), every run, bounded to a few seconds when a known child could be
 * started instead).
 */
import { dirname } from 'node:path';
import { CommanderError, type Command } from 'commander';
import { RegistryHttpError, ResolverError } from '../../errors.js';
import type { ContainerRunner, ImageEngine } from '../../engine/engine.js';
import { onlyMatcher } from '../../platform/match.js';
import { formatPlatform, formatPlatformAll, platform as makePlatform } from '../../platform/platform.js';
import type { TargetPlatform } from '../../platform/detect.js';
import { familiarName, formatReference, parseReference, registryHost, withDefaultTag, type Reference } from '../../reference/reference.js';
import { hasRepoDigest, pullResolved } from '../../resolver/pull.js';
import { resolveImage, type Resolution } from '../../resolver/resolve.js';
import { StateStore } from '../../state/state-store.js';
import { createProgressRenderer } from '../progress.js';
import { addTimeoutOption, commandTimeoutMs, withinDeadline } from '../deadline.js';
import { addInsecureRegistryOption } from '../options.js';
import { withCommandDeps, type CommandDeps, type CommandProcess, type ProgramDeps } from '../command-deps.js';
import { platformMismatchError, pulledPlatformVerdict, type PullCommandDeps } from './pull.js';
import { printError } from '../output.js';
import type { RegistryReader } from '../../registry/registry.js';
import type { TargetOptions } from '../services.js';
import type { SignalHub } from '../signals.js';

/** When the registry is asked: docker's three policies and Podman's `newer`. */
export const pullPolicies = ['always', 'missing', 'never', 'newer'] as const;
/** A `--pull` value. */
export type PullPolicy = (typeof pullPolicies)[number];
/** resolver's default: the point of resolver is the tag's current child (README, `run`). */
export const defaultPullPolicy: PullPolicy = 'newer';
/** How long `--pull newer` waits for the registry when a known child could be started instead. */
export const defaultResolveBoundMs = 5000;
/** How long `--pull newer` waits for the daemon's answer before asking the registry (RESOLVER_RUN_DAEMON_TIMEOUT_MS). */
export const defaultDaemonTimeoutMs = 250;

/** Options of `run`. */
export interface RunOptions extends TargetOptions {
  readonly rm?: boolean;
  readonly name?: string;
  /** `KEY=VALUE`, or a bare `KEY` that the engine leaves unset (docker's `-e KEY` with KEY unset). */
  readonly env: string[];
  readonly detach?: boolean;
  readonly interactive?: boolean;
  readonly tty?: boolean;
  readonly network?: string;
  readonly volume: string[];
  readonly quiet?: boolean;
  readonly pull: PullPolicy;
  readonly resolveBoundMs?: number;
  /** The deadline of the resolution in ms (0: none; src/cli/deadline.ts); the layer download is not under it. */
  readonly timeoutMs?: number;
  /** How long `newer` waits for the daemon's last check (0: do not ask it); default `defaultDaemonTimeoutMs`. */
  readonly daemonTimeoutMs?: number;
  /** One stderr line saying whether the daemon's check was trusted, and why (RESOLVER_DEBUG). */
  readonly debug?: boolean;
}

export type { RunIo } from '../command-deps.js';

/** Options of `run`: the image, the container's command, and how to run it. */
export interface RunCommandOptions extends RunOptions {
  /** The image reference, e.g. `alpine:3.20`. */
  readonly image: string;
  /** The container's command and arguments (empty: the image's CMD). */
  readonly command: readonly string[];
}

/** What `run` needs: what a pull needs (but its progress sink), the terminal, and the process's signals. */
export interface RunDeps extends Omit<PullCommandDeps, 'sink' | 'signal' | 'engine'>, Pick<CommandDeps, 'output' | 'stderr' | 'io'> {
  /** Both halves of the engine: the image's (to pull) and the container's (to run it). */
  readonly engine: (signal?: AbortSignal) => Promise<ImageEngine & ContainerRunner>;
  /** SIGINT/SIGTERM: they cancel the pull, then go to the container. */
  readonly signals: SignalHub;
  /** The other signals forwarded to the container, and the forceful exit. */
  readonly process: Pick<CommandProcess, 'onSignal' | 'exit'>;
}

type ImageDeps = Omit<RunDeps, 'io' | 'signals' | 'process'> & { readonly signal: AbortSignal };

/** Registry failures after which a known child is started instead (transient, or no answer at all). */
function isUnreachable(error: unknown): boolean {
  if (!(error instanceof ResolverError)) return false;
  if (error instanceof RegistryHttpError) return error.status >= 500 || error.code === 'ERR_RATE_LIMITED';
  return error.code === 'ERR_NETWORK' || error.code === 'ERR_TLS' || error.code === 'ERR_RATE_LIMITED';
}

/** The child recorded for this reference and platform, if the engine still has it. */
async function knownChild(ref: Reference, platformText: string, deps: ImageDeps, engine: ImageEngine): Promise<{ reference: string; pulledAt: string; digest: string } | undefined> {
  const known = await deps.state.get(formatReference(ref), platformText);
  if (known === undefined) return undefined;
  const reference = `${familiarName(ref)}@${known.childDigest}`;
  const local = await engine.inspectImage(reference);
  if (local === undefined || !hasRepoDigest(local.repoDigests, ref, known.childDigest)) return undefined;
  return { reference, pulledAt: known.pulledAt, digest: known.childDigest };
}

/**
 * What `--pull missing|never` may run without asking the registry: the known child, else the engine's own
 * image of that name (`docker pull`, `docker load`) when its platform is one the target accepts.
 */
async function localImage(ref: Reference, target: TargetPlatform, deps: ImageDeps, engine: ImageEngine): Promise<string | undefined> {
  const known = await knownChild(ref, formatPlatformAll(target.platform), deps, engine);
  if (known !== undefined) return known.reference;
  const name = ref.digest === undefined ? `${familiarName(ref)}:${ref.tag ?? 'latest'}` : `${familiarName(ref)}@${ref.digest}`;
  const info = await engine.inspectImage(name);
  if (info === undefined) return undefined;
  const matcher = onlyMatcher(target.platform, target.rules, target.parseContext.os);
  return matcher.rank(makePlatform(info.os, info.architecture, info.variant)) >= 0 ? name : undefined;
}

/**
 * The child the daemon of run's state folder found for this tag and platform, when its check is younger than
 * the schedule's period (at most an hour; src/daemon/last-check.ts) and the engine holds that child by digest:
 * `run` then starts it without asking the registry (docs/run.md). Any doubt (no daemon, a slow or untrusted
 * socket, an older daemon, a stale check, another child) gives undefined, and the registry is asked as before.
 */
async function daemonChild(ref: Reference, platformText: string, options: RunOptions, deps: ImageDeps, engine: ImageEngine): Promise<string | undefined> {
  const timeoutMs = options.daemonTimeoutMs ?? defaultDaemonTimeoutMs;
  if (timeoutMs <= 0 || ref.digest !== undefined) return undefined;
  const debug = (m: string): void => {
    if (options.debug === true) deps.output.err(`resolver: debug: ${m}`);
  };
  const image = formatReference(ref);
  const [{ queryDaemon }, { decideTrust }] = await Promise.all([import('../../daemon/lock.js'), import('../../daemon/last-check.js')]);
  const answer = await queryDaemon(dirname(deps.state.path), { op: 'last-check', image, platform: platformText }, timeoutMs);
  if (answer.kind !== 'answer') {
    debug(answer.kind === 'none' ? 'no daemon runs on this state folder; asking the registry' : `${answer.reason}; asking the registry`);
    return undefined;
  }
  // A newer record of this tag in the state file (a `--pull always` or `pull` since the daemon's check) wins.
  // Read-only: no folder created, and no temp file removed under the running daemon's own writes.
  const known = await new StateStore(dirname(deps.state.path), () => undefined, { readOnly: true }).get(image, platformText).catch(() => undefined);
  const decision = decideTrust(answer.value, { image, platform: platformText }, Date.now(), { known });
  if (decision.kind === 'ask') {
    debug(`${decision.reason}; asking the registry`);
    return undefined;
  }
  // The answer names a digest; only a child this engine pulled by that digest is started.
  const reference = `${familiarName(ref)}@${decision.childDigest}`;
  const local = await engine.inspectImage(reference);
  if (local === undefined || !hasRepoDigest(local.repoDigests, ref, decision.childDigest)) {
    debug(`the daemon's child ${decision.childDigest} is not in the engine; asking the registry`);
    return undefined;
  }
  debug(`running ${decision.childDigest}: the daemon checked ${image} for ${platformText} ${Math.round(decision.ageMs / 1000)} s ago (trusted up to ${Math.round(decision.boundMs / 1000)} s); not asking the registry (--pull always does)`);
  return reference;
}

/** Resolves, giving up after `ms` (the HTTP stack's own deadlines are a minute; undici cannot cancel a connect). */
function resolveWithin(ms: number, ref: Reference, target: TargetPlatform, registry: RegistryReader, outer: AbortSignal): Promise<Resolution> {
  return withinDeadline(ms, outer, { what: registryHost(ref), code: 'ERR_NETWORK', message: `${registryHost(ref)} did not answer within ${ms / 1000} s` }, (signal) =>
    resolveImage(registry, ref, target, { signal }));
}

/** How long a known child waits for the registry: 5 s, or the command's deadline when that is shorter. */
function knownChildBoundMs(options: RunOptions): number {
  const bound = options.resolveBoundMs ?? defaultResolveBoundMs;
  return options.timeoutMs === undefined || options.timeoutMs === 0 ? bound : Math.min(bound, options.timeoutMs);
}

/** The image `run` creates its container from, and the `--platform` it asks the engine for (none: not asked). */
interface ImageToRun {
  readonly reference: string;
  readonly platform: string | undefined;
}

async function imageToRun(options: RunCommandOptions, engine: ImageEngine, deps: ImageDeps): Promise<ImageToRun> {
  const ref = withDefaultTag(parseReference(options.image));
  const target = await deps.target(options, deps.signal);
  // As docker run --platform (DOCKER_DEFAULT_PLATFORM too): the create asks for it, so the engine refuses an
  // image of another platform and does not warn that no platform was requested.
  const requested = target.requested ? formatPlatform(target.platform) : undefined;
  const reference = await referenceToRun(ref, target, options, engine, deps);
  return { reference, platform: requested };
}

async function referenceToRun(ref: Reference, target: TargetPlatform, options: RunCommandOptions, engine: ImageEngine, deps: ImageDeps): Promise<string> {
  const platformText = formatPlatformAll(target.platform);
  if (options.pull === 'never' || options.pull === 'missing') {
    const local = await localImage(ref, target, deps, engine);
    if (local !== undefined) return local;
    if (options.pull === 'never') {
      throw new ResolverError('ERR_NOT_FOUND', `No such image: ${formatReference(ref)} for ${platformText} (--pull never)`, {
        details: ['pull it first (resolver pull), or run with --pull missing or --pull newer'],
      });
    }
  }
  if (options.pull === 'newer') {
    const trusted = await daemonChild(ref, platformText, options, deps, engine);
    if (trusted !== undefined) return trusted;
  }
  const known = options.pull === 'newer' ? await knownChild(ref, platformText, deps, engine) : undefined;
  let resolution: Resolution;
  try {
    resolution = known === undefined
      ? await withinDeadline(options.timeoutMs ?? 0, deps.signal, `resolving ${formatReference(ref)}`, (signal) => resolveImage(deps.registry, ref, target, { signal }))
      : await resolveWithin(knownChildBoundMs(options), ref, target, deps.registry, deps.signal);
  } catch (error) {
    if (deps.signal.aborted || !isUnreachable(error) || !(error instanceof ResolverError)) throw error;
    if (known === undefined) {
      const why = options.pull === 'newer' ? 'and no image was pulled before' : 'and --pull always does not start a known child';
      throw new ResolverError(error.code, `${error.message}; ${why} for ${formatReference(ref)} on ${platformText}`, { cause: error, details: error.details });
    }
    deps.output.err(`warning: ${error.message}`);
    deps.output.err(`warning: running ${known.digest}, pulled ${known.pulledAt} for ${platformText}; it may be stale`);
    return known.reference;
  }
  const renderer = options.quiet === true ? undefined : createProgressRenderer(deps.stderr);
  const { pullSources } = deps;
  const outcome = await pullResolved({ registry: deps.registry, engine, credentials: deps.credentials, state: deps.state, preflight: deps.preflight, pullSources: pullSources === undefined ? undefined : (r) => pullSources(r, target.rules.store) }, ref, resolution, target, {
    signal: deps.signal, onProgress: renderer === undefined ? undefined : (s) => renderer.update(s),
  });
  renderer?.finish();
  // As the pull inside docker run --platform: the engine's warning about an image of another platform (the
  // create then refuses it), or the failed pull (exit 125). docker run -q suppresses the pull's output.
  const verdict = await pulledPlatformVerdict(engine, target, ref, outcome);
  if (verdict.kind === 'fail') throw platformMismatchError(verdict.message, target);
  if (verdict.kind === 'warn' && options.quiet !== true) deps.output.err(`WARNING: ${verdict.message}`);
  return outcome.digestReference;
}

/** The docker CLI exits (status 1) at the third SIGINT/SIGTERM, whatever the container does. */
export const forcefulExitLimit = 3;

/** Signals the docker CLI forwards too (SIGINT/SIGTERM come through the hub, which also cancels a pull). */
const extraForwarded = ['SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;

/** Runs the command; returns the exit code (the container's, or 1 for docker's terminal check). */
export async function run(options: RunCommandOptions, deps: RunDeps): Promise<number> {
  const { command } = options;
  const tty = options.tty === true;
  const stdin = options.interactive === true && options.detach !== true;
  // docker checks this before pulling or creating anything (cli/command/container/run.go, CheckTty).
  if (stdin && tty && !deps.io.stdin.isTTY) {
    deps.output.err('resolver: the input device is not a TTY');
    return 1;
  }
  const signal = deps.signals.controller.signal;
  const engine = await deps.engine(signal);
  const { reference, platform } = await imageToRun(options, engine, { ...deps, signal });
  const autoRemove = options.rm === true;
  const { id, warnings } = await engine.createContainer({
    image: reference, name: options.name, cmd: command.length > 0 ? command : undefined, env: options.env, tty, stdin,
    networkMode: options.network, binds: options.volume, autoRemove, platform,
  });
  // As docker run: the engine's warnings (an image platform that does not match the host's, …) on stderr.
  for (const warning of warnings) deps.output.err(`WARNING: ${warning}`);
  if (options.detach === true) {
    // As docker: the ID is printed once the container exists, also when its start then fails.
    deps.output.out(id);
    try {
      await engine.start(id);
    } catch (error) {
      if (autoRemove) await engine.remove(id);
      throw error;
    }
    return 0;
  }
  const rawMode = tty && stdin && deps.io.stdin.isTTY;
  // As the docker CLI: SIGINT/SIGTERM go to the container; the third one makes the CLI give up waiting
  // (cmd/docker/docker.go, exitLimit). The container keeps running; with --rm the engine removes it later.
  let interrupts = 0;
  const forward = deps.signals.push((sig) => {
    interrupts += 1;
    if (interrupts >= forcefulExitLimit) {
      if (rawMode) deps.io.stdin.setRawMode(false);
      deps.output.err(`got ${interrupts} SIGTERM/SIGINTs, forcefully exiting`);
      deps.process.exit(1);
      return;
    }
    void engine.kill(id, sig);
  });
  const extra = extraForwarded.map((sig) => deps.process.onSignal(sig, () => void engine.kill(id, sig)));
  const sized = tty && deps.io.stdout.isTTY;
  const onResize = (): void => void engine.resize(id, deps.io.stdout.rows, deps.io.stdout.columns);
  try {
    if (rawMode) deps.io.stdin.setRawMode(true);
    if (sized) deps.io.stdout.on('resize', onResize);
    // As docker: the terminal is sized once the container started, then at every SIGWINCH.
    return await engine.runAttached(id, { stdin: stdin ? deps.io.stdin : undefined, stdout: deps.io.stdout, stderr: deps.io.stderr }, {
      tty, stdin, autoRemove, onStarted: sized ? onResize : undefined,
    });
  } catch (error) {
    // The engine removes an AutoRemove container whose start failed; this covers engines that do not.
    if (autoRemove) await engine.remove(id).catch(() => undefined);
    throw error;
  } finally {
    forward();
    for (const off of extra) off();
    if (rawMode) deps.io.stdin.setRawMode(false);
    deps.io.stdout.off('resize', onResize);
    if (stdin) deps.io.stdin.pause();
  }
}

/** docker run's exit status for a failure of run itself: 126/127 kept, 130/143 for a signal, else 125. */
export function runFailureExitCode(error: ResolverError, signals: SignalHub): number {
  if (error.code === 'ERR_COMMAND_NOT_FOUND') return 127;
  if (error.code === 'ERR_COMMAND_NOT_INVOKABLE') return 126;
  if (error.code === 'ERR_ABORTED') return signals.exitCode();
  return 125;
}

/** `-e KEY=VALUE` as given; `-e KEY` takes KEY's value here, or stays bare (unset in the container) as docker does. */
export function containerEnv(entries: readonly string[], env: Readonly<Record<string, string | undefined>>): string[] {
  return entries.map((e) => {
    if (e.includes('=')) {
      if (e.startsWith('=')) throw new ResolverError('ERR_USAGE', `invalid environment variable: ${e}`);
      return e;
    }
    if (e.trim() === '') throw new ResolverError('ERR_USAGE', `invalid environment variable: ${e}`);
    const value = env[e];
    return value === undefined ? e : `${e}=${value}`;
  });
}

const collect = (v: string, acc: string[]): string[] => [...acc, v];

/** The CommanderError code of a `run` usage error; its exitCode is docker run's (main.ts returns it). */
export const runUsageCode = 'resolver.run.usage';

/** docker run: a bad flag exits 125, a missing IMAGE 1 ("'docker run' requires at least 1 argument"). */
function runUsageExit(error: CommanderError): never {
  if (error.code === 'commander.helpDisplayed' || error.code === 'commander.help' || error.code === 'commander.version') throw error;
  throw new CommanderError(error.code === 'commander.missingArgument' ? 1 : 125, runUsageCode, error.message);
}

/** RESOLVER_RUN_DAEMON_TIMEOUT_MS: milliseconds `run` waits for the daemon (0: never ask it); default 250. */
export function daemonTimeoutOf(env: Readonly<Record<string, string | undefined>>): number {
  const text = env['RESOLVER_RUN_DAEMON_TIMEOUT_MS'];
  if (text === undefined || text === '') return defaultDaemonTimeoutMs;
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms < 0) throw new ResolverError('ERR_USAGE', `invalid RESOLVER_RUN_DAEMON_TIMEOUT_MS: '${text}': must be a whole number of milliseconds (0: do not ask the daemon)`);
  return ms;
}

function pullPolicy(value: string): PullPolicy {
  const policy = pullPolicies.find((p) => p === value);
  if (policy === undefined) throw new ResolverError('ERR_USAGE', `invalid pull option: '${value}': must be one of "always", "missing", "never" or "newer"`);
  return policy;
}

/** Registers the command. */
export function register(program: Command, deps: ProgramDeps): void {
  const cmd = program
    .command('run')
    .usage('[OPTIONS] IMAGE [COMMAND] [ARG...]')
    .summary('resolve IMAGE for this host, pull the child if needed, and run it, as docker run')
    .description('resolve IMAGE for this host, pull the child if needed, and run it (pinned to its digest), as docker run: everything after IMAGE, -- included, is the container\'s command. Exit status: the container\'s own, or 125 when resolver or the engine failed, 126 when the command cannot be invoked, 127 when it does not exist')
    .argument('<image>', 'image reference')
    .argument('[command...]', 'command and arguments (override the image\'s CMD)')
    .option('--platform <platform>', 'target platform instead of the host; default $DOCKER_DEFAULT_PLATFORM')
    .option('--pull <policy>', 'when to ask the registry: newer (unless the daemon checked the tag within its schedule, at most 1 h, and the engine has that child; a known child starts if the registry does not answer within 5 s), always (every run), missing, never', defaultPullPolicy)
    .option('--rm', 'remove the container when it exits')
    .option('--name <name>', 'container name')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable; -e KEY takes it from here, unset stays unset)', collect, [] as string[])
    .option('-d, --detach', 'run in the background and print the container ID')
    .option('-i, --interactive', 'keep stdin open')
    .option('-t, --tty', 'allocate a terminal')
    .option('--network <network>', 'network mode (e.g. none, host, bridge)')
    .option('-v, --volume <src:dst>', 'bind mount (repeatable)', collect, [] as string[])
    .option('-q, --quiet', 'no pull progress');
  addTimeoutOption(addInsecureRegistryOption(cmd), 'resolving IMAGE (the layer download has its own stall timeout)')
    .passThroughOptions()
    .exitOverride(runUsageExit)
    .action(async (image: string, command: string[], opts: Omit<RunOptions, 'pull'> & { pull: string; insecureRegistry: string[]; timeout?: number }) => {
      // A failure to build the services (an unknown context) is resolver's own error, not docker run's 125.
      await withCommandDeps(deps, opts.insecureRegistry, async (d) => {
        try {
          const pull = pullPolicy(opts.pull);
          const env = containerEnv(opts.env, deps.process.env);
          const timeoutMs = commandTimeoutMs(opts.timeout, deps.process.env);
          const daemonTimeoutMs = daemonTimeoutOf(deps.process.env);
          const debug = (deps.process.env['RESOLVER_DEBUG'] ?? '') !== '';
          deps.setExitCode(await run({ ...opts, image, command, env, pull, timeoutMs, daemonTimeoutMs, debug }, d));
        } catch (error) {
          if (!(error instanceof ResolverError)) throw error;
          printError(deps.output, error, false, deps.process.env);
          deps.setExitCode(runFailureExitCode(error, deps.signals));
        }
      });
    });
}
