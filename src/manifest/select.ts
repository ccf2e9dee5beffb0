/**
 * Child selection from an index, as moby does it (shared/spec/platform-matching.md §6–7):
 * filter with `Only(R)` keeping platform-less entries, stable-sort by rank (then, on Docker ≥ 29.6,
 * more os.features first), platform-less entries last, document order for ties; take the first
 * (containerd store) or the first pullable one (classic store). Every entry gets a verdict so a
 * person can see why. Pure.
 */
import { formatPlatformAll, isUnknownPlatform, platform, type Platform } from '../platform/platform.js';
import type { PlatformMatcher } from '../platform/match.js';
import type { MatchRules } from '../platform/rules.js';
import { isImageManifestMediaType, isIndexMediaType, isSchema1MediaType } from './media-types.js';
import type { Descriptor, DescriptorPlatform, ImageIndex } from './schema.js';

/** Why an entry was or was not taken. */
export type Verdict =
  | { kind: 'chosen'; rank: number }
  | { kind: 'accepted'; rank: number; order: number }
  | { kind: 'last-resort'; order: number }
  | { kind: 'attestation' }
  | { kind: 'incompatible' }
  | { kind: 'empty-platform' }
  | { kind: 'skipped-media-type' };

/** One index entry with its verdict. */
export interface EntryExplanation {
  readonly position: number;
  readonly descriptor: Descriptor;
  readonly platform: Platform | undefined;
  readonly verdict: Verdict;
}

/** The outcome of selecting from one index. */
export type Selection =
  | {
      kind: 'matched';
      descriptor: Descriptor;
      position: number;
      /** All acceptable entries in preference order (the classic store tries them in turn). */
      ordered: readonly Descriptor[];
      entries: readonly EntryExplanation[];
    }
  | { kind: 'no-match'; available: readonly string[]; entries: readonly EntryExplanation[] };

/** Converts an index entry's platform object to a Platform (empty strings for absent fields). */
export function descriptorPlatform(p: DescriptorPlatform): Platform {
  return platform(p.os ?? '', p.architecture ?? '', p.variant ?? '', {
    osVersion: p['os.version'] ?? '',
    osFeatures: p['os.features'] ?? [],
  });
}

/** moby's `toOCIPlatform` returns nil when every field is empty: the classic store treats `{}` as "no platform". */
function isEmptyPlatform(p: DescriptorPlatform): boolean {
  return (
    (p.os ?? '') === '' &&
    (p.architecture ?? '') === '' &&
    (p.variant ?? '') === '' &&
    (p['os.version'] ?? '') === '' &&
    (p['os.features'] ?? []).length === 0 &&
    (p.features ?? []).length === 0
  );
}

/** Formatted platforms of an index's entries, attestations left out, in document order without repeats. */
export function availablePlatforms(index: ImageIndex): string[] {
  const out: string[] = [];
  for (const d of index.manifests) {
    if (d.platform === undefined) continue;
    const p = descriptorPlatform(d.platform);
    if (isUnknownPlatform(p) || isEmptyPlatform(d.platform)) continue;
    const text = formatPlatformAll(p);
    if (!out.includes(text)) out.push(text);
  }
  return out;
}

function isPullable(mediaType: string): boolean {
  return isImageManifestMediaType(mediaType) || isIndexMediaType(mediaType) || isSchema1MediaType(mediaType);
}

/** Selects the child of `index` that Docker would take for `matcher`'s platform. */
export function selectManifest(index: ImageIndex, matcher: PlatformMatcher, rules: MatchRules): Selection {
  interface Candidate {
    position: number;
    descriptor: Descriptor;
    platform: Platform | undefined;
    rank: number;
    features: number;
  }
  const candidates: Candidate[] = [];
  const base: { position: number; descriptor: Descriptor; platform: Platform | undefined; verdict: Verdict }[] = [];
  index.manifests.forEach((descriptor, position) => {
    const raw = descriptor.platform;
    const noPlatform = raw === undefined || (rules.store === 'classic' && isEmptyPlatform(raw));
    const p = raw === undefined ? undefined : descriptorPlatform(raw);
    if (noPlatform) {
      candidates.push({ position, descriptor, platform: p, rank: Number.POSITIVE_INFINITY, features: 0 });
      base.push({ position, descriptor, platform: p, verdict: { kind: 'last-resort', order: -1 } });
      return;
    }
    const rank = p === undefined ? -1 : matcher.rank(p);
    if (rank >= 0 && p !== undefined) {
      candidates.push({ position, descriptor, platform: p, rank, features: rules.osFeatures ? p.osFeatures.length : 0 });
      base.push({ position, descriptor, platform: p, verdict: { kind: 'accepted', rank, order: -1 } });
      return;
    }
    const verdict: Verdict =
      p !== undefined && isUnknownPlatform(p)
        ? { kind: 'attestation' }
        : isEmptyPlatform(raw)
          ? { kind: 'empty-platform' }
          : { kind: 'incompatible' };
    base.push({ position, descriptor, platform: p, verdict });
  });

  // Array.prototype.sort is stable: equal keys keep document order.
  const ordered = [...candidates].sort((a, b) => a.rank - b.rank || b.features - a.features);
  const usable = rules.store === 'classic' ? ordered.filter((c) => isPullable(c.descriptor.mediaType)) : ordered;
  const chosen = usable[0];

  const entries: EntryExplanation[] = base.map((e) => {
    if (e.verdict.kind !== 'accepted' && e.verdict.kind !== 'last-resort') return e;
    const order = ordered.findIndex((c) => c.position === e.position);
    const c = ordered[order];
    if (rules.store === 'classic' && c !== undefined && !isPullable(c.descriptor.mediaType)) {
      return { ...e, verdict: { kind: 'skipped-media-type' } };
    }
    if (chosen?.position === e.position) {
      return { ...e, verdict: { kind: 'chosen', rank: e.verdict.kind === 'accepted' ? e.verdict.rank : -1 } };
    }
    return { ...e, verdict: e.verdict.kind === 'accepted' ? { kind: 'accepted', rank: e.verdict.rank, order } : { kind: 'last-resort', order } };
  });

  if (chosen === undefined) return { kind: 'no-match', available: availablePlatforms(index), entries };
  return { kind: 'matched', descriptor: chosen.descriptor, position: chosen.position, ordered: usable.map((c) => c.descriptor), entries };
}

/**
 * Docker's no-match message. `display` is the platform Docker prints: the containerd store prints the
 * platform it matched against; the classic store prints the requested one or the host default
 * without the amd64 level.
 */
export function noMatchMessage(display: Platform, rules: MatchRules): string {
  const text = `no matching manifest for ${formatPlatformAll(display)} in the manifest list entries`;
  const containerd = 'no match for platform in manifest: not found';
  if (rules.store !== 'containerd') return text;
  return rules.c8dNoMatchNamesPlatform ? `${text}: ${containerd}` : containerd;
}
