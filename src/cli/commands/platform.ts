/**
 * `resolver platform [--json]`: the target platform, where each part came from, and known traps.
 */
import type { Command } from 'commander';
import { platformVector } from '../../platform/match.js';
import { formatPlatform, formatPlatformAll } from '../../platform/platform.js';
import { podmanWantedText } from '../../platform/podman.js';
import type { TargetPlatform } from '../../platform/detect.js';
import { addRulesOptions } from '../options.js';
import { withCommandDeps, type ProgramDeps } from '../command-deps.js';
import { table } from '../output.js';
import type { Services, TargetOptions } from '../services.js';

const podmanNote = "resolver pulls Docker's choice by digest; `which --explain` shows where Podman's own `podman pull` of a tag would take another child (containers/image compares exact strings: no arm64→arm or amd64→386 fallback, no amd64 levels, the variant-less entry first)";

/** What `platform` needs: the target platform's detection, and the signal SIGINT/SIGTERM abort. */
export interface PlatformDeps {
  readonly target: Services['target'];
  readonly signal?: AbortSignal | undefined;
}

/** Detects without printing. */
export function run(options: TargetOptions, deps: PlatformDeps): Promise<TargetPlatform> {
  return deps.target({ ...options, needsNamedEngine: true }, deps.signal);
}

/** JSON shape. */
export function toJson(t: TargetPlatform): unknown {
  return {
    platform: formatPlatformAll(t.platform),
    requested: t.requested,
    parts: t.parts,
    engine: t.engine ?? null,
    rules: { ...t.rules, source: t.rulesSource },
    podman: t.podman === undefined ? null : { wanted: t.podman.wanted.map(formatPlatform), note: podmanNote },
    warnings: t.warnings,
  };
}

/** Human text. */
export function describe(t: TargetPlatform): string {
  const rows = [
    ['os', t.parts.os.value || '-', t.parts.os.source],
    ['architecture', t.parts.architecture.value || '-', t.parts.architecture.source],
    ['variant', t.parts.variant.value || '-', t.parts.variant.source],
  ];
  if (t.platform.os === 'windows') rows.push(['os.version', t.parts.osVersion.value || '-', t.parts.osVersion.source]);
  const engine =
    t.engine === undefined ? 'none reachable'
    : t.engine.product === 'podman' ? `Podman Engine ${t.engine.version} (Docker API ${t.engine.apiVersion}) at ${t.engine.endpoint}, kernel ${t.engine.kernelArch ?? '?'}`
    : `Docker ${t.engine.version} (API ${t.engine.apiVersion}) at ${t.engine.endpoint}, ${t.engine.store} image store, kernel ${t.engine.kernelArch ?? '?'}`;
  const podman = t.podman === undefined ? [] : [
    `podman    Podman's own pull would want ${podmanWantedText(t.podman.wanted)}; Docker's vector: ${platformVector(t.platform, t.rules, t.parseContext.os).map(formatPlatform).join(', ') || '(empty)'}`,
    `          ${podmanNote}`,
  ];
  return [`platform  ${formatPlatformAll(t.platform)}`, table(rows.map((r) => ['  ' + (r[0] ?? ''), r[1] ?? '', r[2] ?? ''])), `engine    ${engine}`, `rules     ${t.rulesSource}`, ...podman, ...t.warnings.map((w) => `warning   ${w}`)].join('\n');
}

/** Registers the command. */
export function register(program: Command, deps: ProgramDeps): void {
  const cmd = program
    .command('platform')
    .description('show the platform resolver matches against and where each part came from')
    .option('--platform <platform>', 'parse and show this platform instead of the host\'s')
    .option('--json', 'print a JSON object');
  addRulesOptions(cmd, { store: 'imitate this image store', engineVersion: 'imitate this Docker Engine version' });
  cmd.action(async (opts: TargetOptions & { json?: boolean }) => {
    const t = await withCommandDeps(deps, [], (d) => run(opts, d));
    deps.output.out(opts.json === true ? JSON.stringify(toJson(t), null, 2) : describe(t));
  });
}
