/**
 * What Podman's own pull of a tag would pick (containers/image 5.23, as in Podman 4.3; read from
 * `internal/pkg/platform/platform_matcher.go` `WantedPlatforms`/`MatchesPlatform`, `manifest/*`
 * `ChooseInstance`, and containers/common `libimage.NormalizePlatform`), for showing where it differs
 * from Docker's choice. resolver itself keeps Docker's rules on Podman: it pulls the chosen child by
 * digest, so Podman's matcher never runs. Pure.
 *
 * The differences from containerd's `Only`: a wanted list instead of a vector (no arm64→arm and no
 * amd64→386 fallback, no amd64 levels); the variant-less entry comes first when the host has no variant
 * and second (after the exact variant chain) when it has one; entries are compared as exact strings,
 * never normalised (`aarch64`, `x86_64`, `arm64/v8` vs `arm64` are different); os.version and
 * os.features are ignored; a schema2 list entry without a platform never matches, an OCI index entry
 * without one is the last resort; the first matching entry in document order wins.
 */
import { cpuinfoField, mapRawVariant } from './cpuinfo.js';
import { normalizePlatform, parsePlatform, platform, type Platform } from './platform.js';

/** containers/image `compatibility`: known variants per architecture, most capable first. */
const compatibility: Readonly<Record<string, readonly string[]>> = { arm: ['v8', 'v7', 'v6', 'v5'], arm64: ['v8'] };

/** The Podman service's own view of its host: GOOS/GOARCH and the ARM variant from /proc/cpuinfo only. */
export interface PodmanHost {
  readonly os: string;
  readonly architecture: string;
  /** `getCPUVariantArm`: "Cpu architecture" from /proc/cpuinfo; no uname fallback, unknown → "". */
  readonly cpuVariant: string;
}

/** containers/image's ARM variant detection: cpuinfo only, anything unknown is no variant. */
export function podmanCpuVariant(cpuinfo: string, goarch: string): string {
  if (goarch !== 'arm' && goarch !== 'arm64') return '';
  const raw = cpuinfoField(cpuinfo, 'Cpu architecture');
  if (raw === undefined) return '';
  const v = mapRawVariant(raw);
  return v === 'unknown' ? '' : v;
}

/** A user's `--platform os/arch/variant`, split on "/" as Podman's compat API does, then normalised. */
export interface PodmanChoice {
  readonly os: string;
  readonly architecture: string;
  readonly variant: string;
}

/** containers/common `NormalizePlatform`: containerd's Normalize + Parse of the user's parts; empty parts stay empty. */
export function podmanNormalize(raw: PodmanChoice, host: PodmanHost): PodmanChoice {
  const n = normalizePlatform(platform(raw.os, raw.architecture, raw.variant), host.os);
  const variant0 = n.variant === '' && raw.variant !== '' ? raw.variant : n.variant;
  const text = [n.os === '' ? host.os : n.os, n.architecture === '' ? host.architecture : n.architecture, ...(variant0 === '' ? [] : [variant0])].join('/');
  let parsed: Platform;
  try {
    parsed = parsePlatform(text, { os: host.os, architecture: host.architecture, cpuVariant: host.cpuVariant });
  } catch {
    return raw;
  }
  return {
    os: raw.os === '' ? '' : parsed.os,
    architecture: raw.architecture === '' ? '' : parsed.architecture,
    variant: raw.variant !== '' || parsed.variant !== '' ? parsed.variant : raw.variant,
  };
}

/** Splits `--platform` the way Podman's compat `POST /images/create` does. */
export function podmanSplit(spec: string): PodmanChoice {
  const [os = '', architecture = '', variant = ''] = spec.split('/');
  return { os, architecture, variant };
}

/** What `podman pull [--platform P]` wants: `WantedPlatforms` of the normalised choice. */
export function podmanWanted(choice: PodmanChoice | undefined, host: PodmanHost): Platform[] {
  return wantedPlatforms(choice === undefined ? { os: '', architecture: '', variant: '' } : podmanNormalize(choice, host), host);
}

/** containers/image `WantedPlatforms` for a SystemContext's OS/Architecture/VariantChoice: most wanted first. */
export function wantedPlatforms(c: PodmanChoice, host: PodmanHost): Platform[] {
  const arch = c.architecture === '' ? host.architecture : c.architecture;
  // The variant is detected only when the architecture is the default one.
  let wantedVariant = c.architecture === '' ? host.cpuVariant : '';
  if (c.variant !== '') wantedVariant = c.variant;
  const os = c.os === '' ? host.os : c.os;
  const table = compatibility[arch];
  let variants: string[];
  if (wantedVariant !== '') {
    const at = table?.indexOf(wantedVariant) ?? -1;
    variants = [...(table !== undefined && at >= 0 ? table.slice(at) : [wantedVariant]), ''];
  } else {
    variants = ['', ...(table ?? [])];
  }
  return variants.map((v) => platform(os, arch, v));
}

/** One index entry as Podman sees it. */
export interface PodmanEntry {
  readonly position: number;
  readonly digest: string;
  /** undefined: the entry has no `platform` key. */
  readonly platform: Platform | undefined;
}

/** What `podman pull` of the tag would take from this index, or why it would fail. */
export type PodmanPick = { kind: 'entry'; position: number; digest: string; wanted: number } | { kind: 'none'; message: string };

/** `ChooseInstance` of a schema2 list (`oci` false) or an OCI index (`oci` true). */
export function podmanPick(entries: readonly PodmanEntry[], wanted: readonly Platform[], oci: boolean): PodmanPick {
  for (const [i, w] of wanted.entries()) {
    for (const e of entries) {
      // A schema2 list entry always has a platform object: without one, all its fields are empty.
      const p = e.platform ?? (oci ? undefined : platform('', ''));
      if (p?.architecture === w.architecture && p.os === w.os && p.variant === w.variant) {
        return { kind: 'entry', position: e.position, digest: e.digest, wanted: i };
      }
    }
  }
  if (oci) {
    const bare = entries.find((e) => e.platform === undefined);
    if (bare !== undefined) return { kind: 'entry', position: bare.position, digest: bare.digest, wanted: -1 };
  }
  const first = wanted[0] ?? platform('', '');
  return { kind: 'none', message: `no image found in ${oci ? 'image index' : 'manifest list'} for architecture ${first.architecture}, variant "${first.variant}", OS ${first.os}` };
}

/** An index level as resolver walked it (structurally: resolve.ts `IndexLevel`). */
export interface PodmanLevel {
  readonly mediaType: string;
  readonly entries: readonly { readonly position: number; readonly descriptor: { readonly digest: string; readonly mediaType: string }; readonly platform: Platform | undefined }[];
}

/** Podman's pick from the top index, beside Docker's. */
export interface PodmanComparison {
  readonly pick: PodmanPick;
  /** True when Podman's own pull would end with the child resolver chose. */
  readonly same: boolean;
  readonly text: string;
}

const indexTypes = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

/** Compares Podman's own choice from `levels` (outermost first) with Docker's `chosen` child. */
export function comparePodman(levels: readonly PodmanLevel[], wanted: readonly Platform[], chosen: string): PodmanComparison | undefined {
  const top = levels[0];
  if (top === undefined) return undefined;
  const pick = podmanPick(top.entries.map((e) => ({ position: e.position, digest: e.descriptor.digest, platform: e.platform })), wanted, top.mediaType === 'application/vnd.oci.image.index.v1+json');
  if (pick.kind === 'none') return { pick, same: false, text: `Podman's own pull of this tag would fail: ${pick.message}` };
  const entry = top.entries.find((e) => e.position === pick.position);
  const where = `#${pick.position} ${entry?.platform === undefined ? '(no platform)' : [entry.platform.os, entry.platform.architecture, entry.platform.variant].filter((x) => x !== '').join('/')}`;
  if (entry !== undefined && indexTypes.has(entry.descriptor.mediaType)) {
    // containers/image copies the chosen instance as one image; a nested index is not descended into.
    return { pick, same: false, text: `Podman's own pull of this tag would take ${where}, a nested index, and fail (containers/image does not descend into it)` };
  }
  if (pick.digest === chosen) return { pick, same: true, text: `Podman's own pull of this tag would take the same child (${where})` };
  return { pick, same: false, text: `Podman's own pull of this tag would take ${where} ${pick.digest}, not this child (containers/image compares exact strings: no arm64→arm or amd64→386 fallback, no amd64 levels, the variant-less entry first)` };
}

/** Podman's wanted list, one line. */
export function podmanWantedText(wanted: readonly Platform[]): string {
  return wanted.map((p) => [p.os, p.architecture, p.variant].filter((x) => x !== '').join('/')).join(', ');
}
