/**
 * Platforms: the OCI platform model, normalisation (containerd/platforms database.go
 * `normalizeOS`/`normalizeArch`, platforms.go `Normalize`) and the `--platform` specifier
 * syntax (`Parse`, `Format`, `FormatAll`). See shared/spec/platform-matching.md §2–3. Pure.
 */
import { ResolverError } from '../errors.js';

/** An OCI platform. Empty string means "not set". */
export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant: string;
  readonly osVersion: string;
  readonly osFeatures: readonly string[];
}

/** What `Parse` needs from the process (containerd uses GOOS/GOARCH/cpuVariant; we use the engine's). */
export interface ParseContext {
  readonly os: string;
  readonly architecture: string;
  /** The CPU variant as detected (e.g. `v7`), used only for one-word OS specifiers on arm. */
  readonly cpuVariant: string;
}

const knownOS = new Set([
  'aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'hurd', 'illumos', 'ios', 'js', 'linux',
  'nacl', 'netbsd', 'openbsd', 'plan9', 'solaris', 'windows', 'zos',
]);
const knownArch = new Set([
  '386', 'amd64', 'amd64p32', 'arm', 'armbe', 'arm64', 'arm64be', 'ppc64', 'ppc64le', 'loong64',
  'mips', 'mipsle', 'mips64', 'mips64le', 'mips64p32', 'mips64p32le', 'ppc', 'riscv', 'riscv64',
  's390', 's390x', 'sparc', 'sparc64', 'wasm',
]);

/** Builds a platform with defaults for the optional parts. */
export function platform(
  os: string,
  architecture: string,
  variant = '',
  extra: { osVersion?: string; osFeatures?: readonly string[] } = {},
): Platform {
  return { os, architecture, variant, osVersion: extra.osVersion ?? '', osFeatures: extra.osFeatures ?? [] };
}

/** `normalizeOS`: lower-case; `macos` → `darwin`. An empty OS stays empty (the caller fills it). */
export function normalizeOS(os: string): string {
  const lower = os.toLowerCase();
  return lower === 'macos' ? 'darwin' : lower;
}

/** `normalizeArch`: canonical architecture and variant (spec §2.2). */
export function normalizeArch(arch: string, variant: string): { architecture: string; variant: string } {
  const a = arch.toLowerCase();
  const v = variant.toLowerCase();
  switch (a) {
    case 'i386':
      return { architecture: '386', variant: '' };
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return { architecture: 'amd64', variant: v === 'v1' ? '' : v };
    case 'aarch64':
    case 'arm64':
      if (v === '8' || v === 'v8' || v === 'v8.0') return { architecture: 'arm64', variant: '' };
      if (v === '9' || v === '9.0' || v === 'v9.0') return { architecture: 'arm64', variant: 'v9' };
      return { architecture: 'arm64', variant: v };
    case 'armhf':
      return { architecture: 'arm', variant: 'v7' };
    case 'armel':
      return { architecture: 'arm', variant: 'v6' };
    case 'arm':
      if (v === '' || v === '7') return { architecture: 'arm', variant: 'v7' };
      if (v === '5' || v === '6' || v === '8') return { architecture: 'arm', variant: `v${v}` };
      return { architecture: 'arm', variant: v };
    default:
      return { architecture: a, variant: v };
  }
}

/**
 * `Normalize`: canonical os/arch/variant, sorted and de-duplicated os.features.
 * An empty OS becomes `defaultOS` (the daemon's OS: a candidate with only an architecture counts as that OS).
 */
export function normalizePlatform(p: Platform, defaultOS: string): Platform {
  const { architecture, variant } = normalizeArch(p.architecture, p.variant);
  const os = p.os === '' ? defaultOS : normalizeOS(p.os);
  return { os, architecture, variant, osVersion: p.osVersion, osFeatures: [...new Set(p.osFeatures)].sort() };
}

function invalidPlatform(spec: string, reason: string): ResolverError {
  return new ResolverError('ERR_PLATFORM_INVALID', `invalid platform "${spec}": ${reason}`, {
    details: ['expected os[/arch[/variant]], e.g. linux/amd64, linux/arm64/v8, linux/arm/v7, windows(10.0.20348)/amd64'],
  });
}

const osPartRe = /^([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.%-]*)((?:\+[A-Za-z0-9_.%-]+)*)\))?$/;
const partRe = /^[A-Za-z0-9_.-]+$/;

function decode(spec: string, text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw invalidPlatform(spec, `bad percent-encoding in "${text}"`);
  }
}

/**
 * Parses a `--platform` specifier exactly as containerd's `platforms.Parse` does.
 * Missing parts come from `ctx` (the engine's OS/arch, as the daemon would fill them).
 * @throws ResolverError ERR_PLATFORM_INVALID
 */
export function parsePlatform(spec: string, ctx: ParseContext): Platform {
  if (spec.includes('*')) throw invalidPlatform(spec, 'wildcards not yet supported');
  const parts = spec.split('/');
  if (parts.length > 3) throw invalidPlatform(spec, 'cannot parse platform specifier (at most os/arch/variant)');
  const [first = '', second, third] = parts;
  const m = osPartRe.exec(first);
  if (m === null) {
    throw invalidPlatform(spec, first === '' ? 'the OS part is empty' : `"${first}" is an invalid OS component`);
  }
  for (const part of [second, third]) {
    if (part !== undefined && !partRe.test(part)) {
      throw invalidPlatform(spec, part === '' ? 'empty component (leading, trailing or doubled "/")' : `"${part}" is an invalid component`);
    }
  }
  const os = normalizeOS(m[1] ?? '');
  const osVersion = decode(spec, m[2] ?? '');
  const osFeatures = (m[3] ?? '').split('+').filter((f) => f !== '').map((f) => decode(spec, f));
  const extra = { osVersion, osFeatures };

  if (second === undefined) {
    if (knownOS.has(os)) {
      const variant = ctx.architecture === 'arm' && ctx.cpuVariant !== 'v7' ? ctx.cpuVariant : '';
      return platform(os, ctx.architecture, variant, extra);
    }
    const n = normalizeArch(first, '');
    const variant = n.architecture === 'arm' && n.variant === 'v7' ? '' : n.variant;
    if (knownArch.has(n.architecture)) return platform(ctx.os, n.architecture, variant);
    throw invalidPlatform(spec, 'unknown operating system or architecture');
  }
  if (third === undefined) {
    const n = normalizeArch(second, '');
    const variant = n.architecture === 'arm' && n.variant === 'v7' ? '' : n.variant;
    return platform(os, n.architecture, variant, extra);
  }
  const n = normalizeArch(second, third);
  const variant = n.architecture === 'arm64' && n.variant === '' ? 'v8' : n.variant;
  return platform(os, n.architecture, variant, extra);
}

/** `Format`: `os/arch[/variant]`, or `unknown` without an OS. */
export function formatPlatform(p: Pick<Platform, 'os' | 'architecture' | 'variant'>): string {
  if (p.os === '') return 'unknown';
  return [p.os, p.architecture, p.variant].filter((s) => s !== '').join('/');
}

function escapeOsPart(s: string): string {
  return s.replace(/[%+()/]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/** `FormatAll`: like `Format`, plus `(os.version+feature…)` after the OS. */
export function formatPlatformAll(p: Platform): string {
  if (p.os === '') return 'unknown';
  const features = [...new Set(p.osFeatures.filter((f) => f !== ''))].sort();
  let os = p.os;
  if (p.osVersion !== '' || features.length > 0) {
    os += `(${escapeOsPart(p.osVersion)}${features.map((f) => `+${escapeOsPart(f)}`).join('')})`;
  }
  return [os, p.architecture, p.variant].filter((s) => s !== '').join('/');
}

/** True for BuildKit attestation pseudo-platforms (`unknown/unknown`). */
export function isUnknownPlatform(p: Pick<Platform, 'os' | 'architecture'>): boolean {
  return p.os === 'unknown' && p.architecture === 'unknown';
}

/** True for an OS that Go (and so containerd's parser) knows, after `normalizeOS`. */
export function isKnownOS(os: string): boolean {
  return knownOS.has(os);
}

/** True for an architecture that Go (and so containerd's parser) knows, after `normalizeArch`. */
export function isKnownArchitecture(architecture: string): boolean {
  return knownArch.has(architecture);
}
