/**
 * `resolver which IMAGE [--platform P] [--json] [--explain]`: prints the digest of the child image
 * Docker would pull on this host.
 */
import type { Command } from 'commander';
import { platformVector } from '../../platform/match.js';
import { formatPlatform, formatPlatformAll } from '../../platform/platform.js';
import { comparePodman, type PodmanComparison } from '../../platform/podman.js';
import type { TargetPlatform } from '../../platform/detect.js';
import type { Verdict } from '../../manifest/select.js';
import { formatReference, parseReference } from '../../reference/reference.js';
import type { RegistryReader } from '../../registry/registry.js';
import { resolveImage, type Resolution } from '../../resolver/resolve.js';
import { addTimeoutOption, commandTimeoutMs, withinDeadline } from '../deadline.js';
import { addInsecureRegistryOption, addRulesOptions } from '../options.js';
import { withCommandDeps, type ProgramDeps } from '../command-deps.js';
import { table } from '../output.js';
import type { Services, TargetOptions } from '../services.js';

/** Options of `which`. */
export interface WhichOptions extends TargetOptions {
  /** The image reference, e.g. `alpine:3.20`. */
  readonly image: string;
  readonly json?: boolean;
  readonly explain?: boolean;
  /** The command's overall deadline in ms (0: none; src/cli/deadline.ts); default none. */
  readonly timeoutMs?: number;
}

/** Result of `which`. */
export interface WhichResult {
  readonly resolution: Resolution;
  readonly target: TargetPlatform;
}

/** What `which` needs: a registry to read, the target platform, and the signal SIGINT/SIGTERM abort. */
export interface WhichDeps {
  readonly registry: RegistryReader;
  readonly target: Services['target'];
  readonly signal?: AbortSignal | undefined;
}

/** Resolves without printing. */
export async function run(options: WhichOptions, deps: WhichDeps): Promise<WhichResult> {
  const ref = parseReference(options.image);
  return withinDeadline(options.timeoutMs ?? 0, deps.signal, `resolving ${formatReference(ref)}`, async (signal) => {
    const target = await deps.target({ ...options, needsNamedEngine: true }, signal);
    const resolution = await resolveImage(deps.registry, ref, target, { signal, describeSingle: options.json === true || options.explain === true });
    return { resolution, target };
  });
}

function verdictText(v: Verdict): string {
  switch (v.kind) {
    case 'chosen':
      return v.rank < 0 ? 'CHOSEN (no platform: last resort)' : v.rank === 0 ? 'CHOSEN (exact match, rank 0)' : `CHOSEN (best available: rank ${v.rank})`;
    case 'accepted':
      return `accepted at rank ${v.rank} (preference ${v.order + 1})`;
    case 'last-resort':
      return `no platform: last resort (preference ${v.order + 1})`;
    case 'attestation':
      return 'attestation (unknown/unknown): skipped';
    case 'incompatible':
      return 'incompatible';
    case 'empty-platform':
      return 'empty platform {}: rejected by the containerd store';
    case 'skipped-media-type':
      return 'not an image or index media type: skipped (classic store)';
  }
}

/** The platform and where each part came from, one line. */
export function targetLine(t: TargetPlatform): string {
  const src = t.parts.os.source === t.parts.variant.source ? t.parts.os.source : `${t.parts.os.source}; variant: ${t.parts.variant.source}`;
  return `${formatPlatformAll(t.platform)} (${src})`;
}

/** Human explanation. */
export function explain(r: WhichResult): string {
  const { resolution: res, target } = r;
  const lines = [
    `reference  ${formatReference(res.reference)}`,
    `target     ${targetLine(target)}`,
    `rules      ${target.rulesSource}`,
    `vector     ${vectorText(target)}`,
  ];
  if (res.levels.length === 0) {
    lines.push(`manifest   ${res.top.digest} ${res.top.mediaType} (single-platform: no selection)`);
    if (res.chosen.platform !== undefined) lines.push(`platform   ${formatPlatformAll(res.chosen.platform)} (from the image config)`);
  }
  for (const level of res.levels) {
    lines.push(`index      ${level.digest} ${level.mediaType}`);
    const rows = [['  #', 'platform', 'digest', 'verdict']];
    for (const e of level.entries) {
      rows.push([`  ${e.position}`, e.platform === undefined ? '(none)' : formatPlatformAll(e.platform), e.descriptor.digest, verdictText(e.verdict)]);
    }
    lines.push(table(rows));
  }
  lines.push(`chosen     ${res.chosen.digest}`);
  const podman = target.podman === undefined ? undefined : comparePodman(res.levels, target.podman.wanted, res.chosen.digest);
  if (podman !== undefined) lines.push(`podman     ${podman.text}`);
  return lines.join('\n');
}

/** The preference vector, rank 0 first. */
function vectorText(t: TargetPlatform): string {
  const v = platformVector(t.platform, t.rules, t.parseContext.os);
  return v.length === 0 ? '(empty: this variant is outside Docker\'s table, nothing can match)' : v.map((p, i) => `${i}:${formatPlatform(p)}`).join('  ');
}

function podmanJson(c: PodmanComparison | undefined): unknown {
  if (c === undefined) return { same: true, digest: null, error: null, text: 'a single-platform tag: Podman pulls it as is' };
  return { same: c.same, digest: c.pick.kind === 'entry' ? c.pick.digest : null, error: c.pick.kind === 'none' ? c.pick.message : null, text: c.text };
}

/** JSON shape. */
export function toJson(r: WhichResult): unknown {
  const { resolution: res, target } = r;
  const index = res.levels[0];
  return {
    reference: formatReference(res.reference),
    index: index === undefined ? null : { digest: index.digest, mediaType: index.mediaType },
    chosen: {
      digest: res.chosen.digest,
      mediaType: res.chosen.mediaType,
      size: res.chosen.size,
      platform: res.chosen.platform === undefined ? null : formatPlatformAll(res.chosen.platform),
    },
    target: {
      platform: formatPlatformAll(target.platform),
      requested: target.requested,
      source: target.parts,
      rules: { store: target.rules.store, engineVersion: target.rules.engineVersion, source: target.rulesSource },
    },
    ...(target.podman === undefined ? {} : { podman: podmanJson(comparePodman(res.levels, target.podman.wanted, res.chosen.digest)) }),
    levels: res.levels.map((l) => ({
      digest: l.digest,
      mediaType: l.mediaType,
      entries: l.entries.map((e) => ({
        position: e.position,
        digest: e.descriptor.digest,
        mediaType: e.descriptor.mediaType,
        platform: e.platform === undefined ? null : formatPlatformAll(e.platform),
        verdict: e.verdict,
      })),
    })),
  };
}

/** Registers the command. */
export function register(program: Command, deps: ProgramDeps): void {
  const cmd = program
    .command('which')
    .description('print the digest of the child image Docker would pull for IMAGE on this host')
    .argument('<image>', 'image reference, e.g. alpine:3.20 or localhost:5000/app:v1')
    .option('--platform <platform>', 'target platform instead of the host (os[/arch[/variant]]); default $DOCKER_DEFAULT_PLATFORM')
    .option('--json', 'print a JSON object')
    .option('--explain', 'show every index entry and why it was or was not chosen')
  addInsecureRegistryOption(cmd);
  addTimeoutOption(cmd, 'the whole resolution');
  addRulesOptions(cmd, { store: 'imitate this image store (default: the engine\'s)', engineVersion: 'imitate this Docker Engine version (default: the engine\'s, else 29.7)' });
  cmd.action(async (image: string, opts: Omit<WhichOptions, 'image'> & { insecureRegistry: string[]; timeout?: number }) => {
    const timeoutMs = commandTimeoutMs(opts.timeout, deps.process.env);
    const result = await withCommandDeps(deps, opts.insecureRegistry, (d) => run({ ...opts, image, timeoutMs }, d));
    for (const w of result.target.warnings) {
      if (!(result.target.requested && w.startsWith('no Docker Engine reachable'))) deps.output.err(`warning: ${w}`);
    }
    if (opts.json === true) deps.output.out(JSON.stringify(toJson(result), null, 2));
    else if (opts.explain === true) deps.output.out(explain(result));
    else deps.output.out(result.resolution.chosen.digest);
  });
}
