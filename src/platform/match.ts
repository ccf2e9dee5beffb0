/**
 * Platform matching as containerd/platforms does it for Docker: the `Only(R)` preference vector
 * with its fallbacks (compare.go `platformVector`), the basic matcher (platforms.go `matcher.Match`),
 * the Windows os.version compatibility matrix (platform_windows_compat.go) and os.features
 * (rc.3+). See shared/spec/platform-matching.md §5. Pure.
 */
import { normalizePlatform, type Platform } from './platform.js';
import type { MatchRules } from './rules.js';

const arm64Minors: Readonly<Record<string, readonly number[]>> = {
  v8: [1, 2, 3, 4, 5, 6, 7, 8, 9],
  v9: [0, 1, 2, 3, 4, 5, 6, 7],
};

function withArch(base: Platform, architecture: string, variant: string): Platform {
  return { ...base, architecture, variant };
}

function numericVariant(variant: string): number | undefined {
  const text = variant.startsWith('v') ? variant.slice(1) : variant;
  if (!/^[+-]?\d+$/.test(text)) return undefined;
  return Number.parseInt(text, 10);
}

function arm32Fallbacks(base: Platform): Platform[] {
  return [8, 7, 6, 5].map((n) => withArch(base, 'arm', `v${n}`));
}

/** arm64 vector, or `[]` for a variant outside containerd's table (nothing matches, not even itself). */
function arm64Vector(r: Platform, rules: MatchRules): Platform[] {
  const variant = r.variant === '' ? 'v8' : r.variant;
  if (!rules.arm64Minors) {
    // containerd 1.6/1.7 and platforms v0.2 (Docker 23–27): arm64/vN, then the arm vector of vN.
    const level = numericVariant(variant);
    const arm: Platform[] = [withArch(r, 'arm', variant)];
    if (level !== undefined) for (let i = level - 1; i >= 5; i--) arm.push(withArch(r, 'arm', `v${i}`));
    return [r, ...arm];
  }
  const m = /^v(8|9)(?:\.(\d))?$/.exec(variant);
  if (m === null) return [];
  const major = m[1] === '9' ? 9 : 8;
  const minor = m[2] === undefined ? 0 : Number.parseInt(m[2], 10);
  if (!(arm64Minors[`v${major}`] ?? []).includes(minor) && minor !== 0) return [];
  const out: Platform[] = [];
  if (major === 9) {
    for (let i = minor; i >= 1; i--) out.push(withArch(r, 'arm64', `v9.${i}`));
    out.push(withArch(r, 'arm64', 'v9'));
    for (let i = Math.min(minor + 5, 9); i >= 1; i--) out.push(withArch(r, 'arm64', `v8.${i}`));
  } else {
    for (let i = minor; i >= 1; i--) out.push(withArch(r, 'arm64', `v8.${i}`));
  }
  out.push(withArch(r, 'arm64', ''));
  return [...out, ...arm32Fallbacks(r)];
}

/**
 * `platformVector(Normalize(R))`: the platforms `Only(R)` accepts, most preferred first.
 * Each element keeps R's os, os.version and os.features.
 */
export function platformVector(requested: Platform, rules: MatchRules, daemonOS: string): Platform[] {
  const r = normalizePlatform(requested, daemonOS);
  switch (r.architecture) {
    case 'amd64': {
      const out = [r];
      const level = numericVariant(r.variant);
      if (level !== undefined && level > 1) {
        for (let i = level - 1; i >= 1; i--) out.push(withArch(r, 'amd64', `v${i}`));
      }
      out.push(withArch(r, '386', ''));
      return out;
    }
    case 'arm': {
      const out = [r];
      const level = numericVariant(r.variant);
      if (level !== undefined && level > 5) {
        for (let i = level - 1; i >= 5; i--) out.push(withArch(r, 'arm', `v${i}`));
      }
      return out;
    }
    case 'arm64':
      return arm64Vector(r, rules);
    default:
      return [r];
  }
}

/** A parsed Windows version; all zero when it does not parse (getWindowsOSVersion). */
interface WindowsVersion {
  readonly major: number;
  readonly minor: number;
  readonly build: number;
}

function parseWindowsVersion(text: string): WindowsVersion {
  const zero = { major: 0, minor: 0, build: 0 };
  const parts = text.split('.');
  if (parts.length < 3) return zero;
  const nums = parts.slice(0, 3).map((p) => (/^\d+$/.test(p) ? Number.parseInt(p, 10) : Number.NaN));
  const [major = Number.NaN, minor = Number.NaN, build = Number.NaN] = nums;
  if (!(major <= 255 && minor <= 255 && build <= 65535)) return zero;
  return { major, minor, build };
}

/** The stable-ABI LTSC builds each containerd/platforms release knows (WS2022; WS2025 since rc.2). */
const ltscBuilds: Readonly<Record<MatchRules['windowsFloor'], readonly number[]>> = { rc1: [20348], rc4: [20348, 26100], rc5: [20348, 26100] };

/** checkWindowsHostAndContainerCompat, as the release named by `floorRule` computes it. */
export function isWindowsCompatible(hostVersion: string, containerVersion: string, floorRule: MatchRules['windowsFloor']): boolean {
  const host = parseWindowsVersion(hostVersion);
  const ctr = parseWindowsVersion(containerVersion);
  if (host.major !== ctr.major || host.minor !== ctr.minor || ctr.major === 0) return false;
  if (host.build < 20348) return host.build === ctr.build;
  const table = ltscBuilds[floorRule];
  let floor: number;
  if (floorRule === 'rc1') {
    // The latest LTSC at or below the host.
    floor = table.findLast((b) => b <= host.build) ?? 20348;
  } else if (floorRule === 'rc5') {
    // The LTSC before the host's generation (stay at the first).
    const idx = table.findLastIndex((b) => b <= host.build);
    floor = table[Math.max(idx - 1, 0)] ?? 20348;
  } else {
    // The LTSC strictly below the host (moby#53397: 26200 gets 26100).
    floor = table.findLast((b) => b < host.build) ?? 20348;
  }
  return ctr.build >= floor && ctr.build <= host.build;
}

/** True when `requested` (as given) is a Windows platform whose os.version takes part in matching. */
function windowsVersionApplies(requested: Platform, rules: MatchRules, daemonOS: string): boolean {
  return requested.os === 'windows' && (rules.windowsVersionOnAnyHost || daemonOS === 'windows');
}

/**
 * The basic matcher: does `candidate` equal vector element `element`?
 * `requested` is R as given (the Windows rule checks R's OS before normalisation).
 */
export function matchesElement(
  element: Platform,
  candidate: Platform,
  ctx: { requested: Platform; rules: MatchRules; daemonOS: string },
): boolean {
  const e = normalizePlatform(element, ctx.daemonOS);
  const c = normalizePlatform(candidate, ctx.daemonOS);
  if (e.os !== c.os || e.architecture !== c.architecture || e.variant !== c.variant) return false;
  if (windowsVersionApplies(ctx.requested, ctx.rules, ctx.daemonOS)) {
    const hostVersion = parseWindowsVersion(ctx.requested.osVersion);
    const hostIsZero = hostVersion.major === 0 && hostVersion.minor === 0 && hostVersion.build === 0;
    if (!hostIsZero && candidate.osVersion !== '' && !isWindowsCompatible(ctx.requested.osVersion, candidate.osVersion, ctx.rules.windowsFloor)) {
      return false;
    }
  }
  if (ctx.rules.osFeatures && c.osFeatures.length > 0) {
    const have = new Set(e.osFeatures);
    const need = ctx.requested.os === 'windows' ? c.osFeatures.filter((f) => f !== 'win32k') : c.osFeatures;
    if (!need.every((f) => have.has(f))) return false;
  }
  return true;
}

/** A compiled `Only(R)` matcher. */
export interface PlatformMatcher {
  readonly requested: Platform;
  readonly vector: readonly Platform[];
  /** Index of the first vector element the candidate matches, or -1. */
  rank(candidate: Platform): number;
}

/** Builds `Only(requested)`. */
export function onlyMatcher(requested: Platform, rules: MatchRules, daemonOS: string): PlatformMatcher {
  const vector = platformVector(requested, rules, daemonOS);
  const ctx = { requested, rules, daemonOS };
  return {
    requested,
    vector,
    rank: (candidate) => vector.findIndex((element) => matchesElement(element, candidate, ctx)),
  };
}

/** `OnlyStrict(R)`: exact normalised equality, no fallbacks. */
export function strictMatcher(requested: Platform, rules: MatchRules, daemonOS: string): PlatformMatcher {
  const vector = [normalizePlatform(requested, daemonOS)];
  const ctx = { requested, rules, daemonOS };
  return { requested, vector, rank: (candidate) => vector.findIndex((element) => matchesElement(element, candidate, ctx)) };
}
