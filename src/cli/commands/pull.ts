/**
 * `resolver pull IMAGE [--platform P] [--quiet]`: resolve, pull the child by digest through the
 * engine, tag it `name:tag`, verify, record. Progress on stderr; the child digest on stdout.
 */
import type { Command } from 'commander';
import { formatReference, parseReference } from '../../reference/reference.js';
import { pullResolved, type PullOutcome } from '../../resolver/pull.js';
import type { RegistryReader } from '../../registry/registry.js';
import { resolveImage } from '../../resolver/resolve.js';
import { addTimeoutOption, commandTimeoutMs, withinDeadline } from '../deadline.js';
import { formatBytes } from '../format-bytes.js';
import { createProgressRenderer, type ProgressSink } from '../progress.js';
import { addInsecureRegistryOption } from '../options.js';
import { withCommandDeps, type CommandDeps, type ProgramDeps } from '../command-deps.js';
import type { DiskPreflight } from '../../preflight/preflight.js';
import type { ImageEngine } from '../../engine/engine.js';
import type { TargetOptions } from '../services.js';
import { ResolverError } from '../../errors.js';
import type { TargetPlatform } from '../../platform/detect.js';
import { platform as makePlatform } from '../../platform/platform.js';
import type { Reference } from '../../reference/reference.js';
import { pullPlatformVerdict, type PullPlatformVerdict } from '../../resolver/platform-check.js';

/** Options of `pull`. */
export interface PullCommandOptions extends TargetOptions {
  /** The image reference, e.g. `alpine:3.20`. */
  readonly image: string;
  readonly quiet?: boolean;
  readonly json?: boolean;
  /**
   * The deadline of the resolution in ms (0: none; src/cli/deadline.ts); default none. The engine's layer
   * download is not under it (docker's pull has no overall timeout): its stall timeout bounds it.
   */
  readonly timeoutMs?: number;
}

/** What `pull` needs: the registry, the target platform, the engine's image half, credentials and state; progress goes to `sink`. */
export interface PullCommandDeps extends Pick<CommandDeps, 'target' | 'credentials' | 'state'> {
  readonly registry: RegistryReader;
  /** The engine's image operations: a pull cannot start a container. */
  readonly engine: (signal?: AbortSignal) => Promise<ImageEngine>;
  /** The disk preflight before the pull (docs/preflight.md); none: no check. */
  readonly preflight?: DiskPreflight | undefined;
  /** Mirror repositories the engine pulls from first (docs/mirrors.md). */
  readonly pullSources?: CommandDeps['pullSources'] | undefined;
  /** Where progress is drawn; none for --quiet and --json. */
  readonly sink?: ProgressSink | undefined;
  readonly signal?: AbortSignal | undefined;
}

/**
 * What Docker does once `--platform P` pulled a single-platform image of another platform (src/resolver/
 * platform-check.ts): the image's platform is read from the engine, as dockerd reads it from its store.
 * An index's child was chosen for P by its entry: nothing to check (no request).
 */
export async function pulledPlatformVerdict(engine: ImageEngine, target: TargetPlatform, ref: Reference, o: PullOutcome): Promise<PullPlatformVerdict> {
  if (!target.requested || o.resolution.levels.length > 0) return { kind: 'match' };
  const info = await engine.inspectImage(o.digestReference);
  if (info === undefined) return { kind: 'match' };
  return pullPlatformVerdict(target, ref, makePlatform(info.os, info.architecture, info.variant));
}

/** The failed pull of an engine that refuses a pulled image of another platform (Docker 24.0–27.x, classic store). */
export function platformMismatchError(message: string, target: TargetPlatform): ResolverError {
  return new ResolverError('ERR_NO_MATCHING_PLATFORM', message, {
    details: [`the tag names an image of one platform; the engine (Docker ${target.rules.engineVersion}, ${target.rules.store} store) keeps it pulled and tagged, as docker pull does. Pull it without --platform, or with the image's own platform`],
  });
}

/**
 * Pulls without printing anything but progress to `deps.sink`; `verdict`: Docker's warning about the pulled
 * image's platform. @throws ResolverError ERR_NO_MATCHING_PLATFORM where that engine fails such a pull.
 */
export async function run(options: PullCommandOptions, deps: PullCommandDeps): Promise<PullOutcome & { readonly verdict: PullPlatformVerdict }> {
  const ref = parseReference(options.image);
  const { signal, sink } = deps;
  const { target, resolution } = await withinDeadline(options.timeoutMs ?? 0, signal, `resolving ${formatReference(ref)}`, async (s) => {
    const t = await deps.target(options, s);
    return { target: t, resolution: await resolveImage(deps.registry, ref, t, { signal: s }) };
  });
  const engine = await deps.engine(signal);
  const renderer = sink === undefined ? undefined : createProgressRenderer(sink);
  const outcome = await pullResolved({ registry: deps.registry, engine, credentials: deps.credentials, state: deps.state, preflight: deps.preflight, pullSources: deps.pullSources === undefined ? undefined : (r) => deps.pullSources?.(r, target.rules.store) ?? Promise.resolve([]) }, ref, resolution, target, {
    signal, onProgress: renderer === undefined ? undefined : (s) => renderer.update(s), recordFailure: 'warn',
  });
  renderer?.finish();
  const verdict = await pulledPlatformVerdict(engine, target, ref, outcome);
  // As docker pull --platform (src/resolver/platform-check.ts): pulled and tagged all the same, then failed.
  if (verdict.kind === 'fail') throw platformMismatchError(verdict.message, target);
  return { ...outcome, verdict };
}

/** What `pull` says on stderr once done (not with --quiet or --json): what was pulled, in how long. */
export function pullSummary(o: PullOutcome, seconds: number): string {
  const bytes = [...(o.progress?.layers.values() ?? [])].reduce((a, l) => a + l.total, 0);
  const layers = o.progress?.layers.size ?? 0;
  const what = o.pulled ? `pulled ${layers} layer${layers === 1 ? '' : 's'} (${formatBytes(bytes)})` : 'already present, nothing pulled';
  return `${o.tagged ?? o.digestReference}: ${what} in ${seconds.toFixed(1)} s`;
}

/** Registers the command. */
export function register(program: Command, deps: ProgramDeps): void {
  const cmd = program
    .command('pull')
    .description('pull the child image Docker would pull for IMAGE, by digest, and tag it name:tag')
    .argument('<image>', 'image reference')
    .option('--platform <platform>', 'target platform instead of the host; default $DOCKER_DEFAULT_PLATFORM')
    .option('-q, --quiet', 'print only the digest')
    .option('--json', 'print a JSON object');
  addInsecureRegistryOption(cmd);
  addTimeoutOption(cmd, 'resolving IMAGE (the layer download has its own stall timeout)');
  cmd.action(async (image: string, opts: Omit<PullCommandOptions, 'image'> & { insecureRegistry: string[]; timeout?: number }) => {
    const timeoutMs = commandTimeoutMs(opts.timeout, deps.process.env);
    const started = deps.clock();
    const quiet = opts.quiet === true || opts.json === true;
    const o = await withCommandDeps(deps, opts.insecureRegistry, (d) => run({ ...opts, image, timeoutMs }, { ...d, sink: quiet ? undefined : d.stderr }));
    // As docker pull --platform (src/resolver/platform-check.ts): the engine's line about a pulled image of another
    // platform (exit 0). docker pull -q discards the pull's stream, this line with it.
    if (o.verdict.kind === 'warn' && opts.quiet !== true) deps.output.err(`WARNING: ${o.verdict.message}`);
    // Pulled and tagged, only the record failed (full disk): exit 0 like docker, say so on stderr.
    if (o.stateWarning !== undefined) deps.output.err(`resolver: warning: ${o.stateWarning}`);
    if (o.preflight?.kind === 'skipped' && !quiet) deps.output.err(`resolver: note: disk preflight skipped: ${o.preflight.reason}`);
    if (opts.json === true) {
      deps.output.out(JSON.stringify({ digest: o.resolution.chosen.digest, reference: o.digestReference, tagged: o.tagged ?? null, imageId: o.imageId, pulled: o.pulled }, null, 2));
      return;
    }
    if (!quiet) deps.output.err(pullSummary(o, (deps.clock() - started) / 1000));
    deps.output.out(o.resolution.chosen.digest);
  });
}
