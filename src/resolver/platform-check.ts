/**
 * What Docker does after `docker pull --platform P` stored a single-platform image whose config says
 * another platform (docs/run.md, "A pulled image of another platform"). Pure: the caller reads the image's
 * platform from the engine (`inspect`), as dockerd reads it from its image store.
 *
 * dockerd's PullImage (daemon/images/image_pull.go) asks GetImage for the pulled reference with the
 * requested platform; GetImage (daemon/images/image.go) matches the config's os/architecture/variant with
 * `OnlyPlatformWithFallback(P)` and, on a mismatch, returns the image *and* a NotFound error, which
 * PullImage turns into a `WARNING: …` progress line (moby#42325, 20.10 backport moby#42633). Observed
 * against the real engines (test/e2e/pull-platform.test.ts):
 *
 * | engine | image store | `docker pull --platform P` of a single-platform image of Q |
 * |---|---|---|
 * | 20.10 – 23.0 | classic | pulled and tagged; `WARNING: image with reference NAME was found but does not match the specified platform: wanted P, actual: Q`; exit 0 |
 * | 24.0 – 27.x | classic | pulled and tagged, then the pull fails: `image with reference NAME:TAG… was found but does not match …` (GetImage, split into a wrapper in 24.0, drops the image on any error, so the warning branch never runs); exit 1 |
 * | 28.0 + | classic | a warning again (GetImage returns both once more), worded `… was found but its platform (Q) does not match the specified platform (P)` |
 * | any | containerd | nothing: that store has no post-pull platform check (daemon/containerd/image_pull.go) |
 *
 * The check applies only when the tag names an image, not an index: for an index child, dockerd also
 * accepts the image when the index entry it came from matches P (manifestMatchesPlatform), which resolver's
 * choice of that entry already says.
 */
import { formatPlatform, formatPlatformAll, normalizeArch, normalizeOS, type Platform } from '../platform/platform.js';
import type { TargetPlatform } from '../platform/detect.js';
import { onlyMatcher } from '../platform/match.js';
import { compareVersion } from '../platform/rules.js';
import { familiarName, familiarString, formatReference, withDefaultTag, type Reference } from '../reference/reference.js';

/** What Docker does with the pulled image: nothing, a warning line (exit 0), or a failed pull. */
export type PullPlatformVerdict =
  | { readonly kind: 'match' }
  | { readonly kind: 'warn'; readonly message: string }
  | { readonly kind: 'fail'; readonly message: string };

/** moby's OnlyPlatformWithFallback: `Only(P)`, or, for a config with no variant, the same OS and architecture. */
function fits(target: TargetPlatform, actual: Platform): boolean {
  if (onlyMatcher(target.platform, target.rules, target.parseContext.os).rank(actual) >= 0) return true;
  if (actual.variant !== '') return false;
  const want = normalizeArch(target.platform.architecture, target.platform.variant);
  const have = normalizeArch(actual.architecture, '');
  return normalizeOS(target.platform.os) === normalizeOS(actual.os) && want.architecture === have.architecture;
}

/**
 * The verdict for a single-platform image of platform `actual`, pulled for `target` as `ref` (undefined:
 * no check, when the platform was not asked for, the engine is Podman, or the image store has no check).
 */
export function pullPlatformVerdict(target: TargetPlatform, ref: Reference, actual: Platform): PullPlatformVerdict {
  if (!target.requested || target.podman !== undefined || target.rules.store !== 'classic') return { kind: 'match' };
  if (fits(target, actual)) return { kind: 'match' };
  const version = target.rules.engineVersion;
  const tagged = withDefaultTag(ref);
  const wanted = formatPlatform(target.display);
  const have = formatPlatform(actual);
  if (compareVersion(version, '24') < 0) {
    // The CLI sends the familiar name without the tag as `fromImage`; 20.10 names the image by it.
    return { kind: 'warn', message: `image with reference ${familiarName(ref)} was found but does not match the specified platform: wanted ${wanted}, actual: ${have}` };
  }
  if (compareVersion(version, '28') < 0) {
    return { kind: 'fail', message: `image with reference ${formatReference(tagged)} was found but does not match the specified platform: wanted ${wanted}, actual: ${have}` };
  }
  // 28.2 prints both with FormatAll (an OS version shows); 28.0–28.1 with Format.
  const all = compareVersion(version, '28.2') >= 0;
  return {
    kind: 'warn',
    message: `image with reference ${familiarString(tagged)} was found but its platform (${have}) does not match the specified platform (${all ? formatPlatformAll(target.display) : wanted})`,
  };
}
