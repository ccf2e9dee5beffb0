/**
 * One check of one tracked tag, cheap and right (issue 4 §2):
 * - HEAD the tag; if the index digest is the one recorded and the recorded child is present locally,
 *   stop there: one registry request.
 * - If the index digest changed, GET the index by digest and select; if this platform's child is the same
 *   (another architecture was rebuilt), record the new index digest and pull nothing.
 * - If the child changed, pull it by digest, tag, verify, record, then prune older children beyond
 *   `retain`, never an image a container uses.
 * - If no child fits any more: `hold` keeps the current image and reports it; `fail` raises the error.
 * Idempotent: an interrupted check is simply redone by the next one.
 */
import { DiskSpaceError, NoMatchingPlatformError, ResolverError } from '../errors.js';
import type { ImageEngine, ImageInfo } from '../engine/engine.js';
import type { PullState } from '../engine/pull-progress.js';
import type { DiskPreflight } from '../preflight/preflight.js';
import type { TargetPlatform } from '../platform/detect.js';
import { formatPlatformAll } from '../platform/platform.js';
import { familiarName, formatReference, parseReference, withDefaultTag, type Reference } from '../reference/reference.js';
import type { RegistryReader } from '../registry/registry.js';
import type { CredentialStore } from '../registry/credentials.js';
import type { StateStore } from '../state/state-store.js';
import { childAliases, hasChild, pullResolved, type PullDeps } from './pull.js';
import { repositoryOf } from '../reference/repository.js';
import { resolveImage, type ServedBy } from './resolve.js';

/** A tracked tag. */
export interface TrackedImage {
  readonly reference: Reference;
  readonly target: TargetPlatform;
  readonly onMissingPlatform: 'hold' | 'fail';
  readonly retain: number;
  /**
   * False when another entry of the same tag (the host's platform) owns `name:tag`: this platform's child
   * is kept by digest only (RepoDigests), never tagged, so two entries of one tag do not re-tag it back and
   * forth every cycle. Default true.
   */
  readonly tag?: boolean;
  /**
   * The staged-rollout hook (issue 12 §3; docs/rollout.md): asked once a new child is known and before it is
   * pulled; an answer holds the pull (the check returns `waiting`). Absent: pull at once.
   */
  readonly rollout?: ((candidate: RolloutCandidate) => Promise<RolloutHold | undefined>) | undefined;
}

/** What the rollout hook is asked about. */
export interface RolloutCandidate {
  readonly indexDigest: string;
  readonly childDigest: string;
  readonly previous: string | undefined;
}

/** Why and until when a new child is held back; `until` undefined: until the control document changes. */
export interface RolloutHold {
  readonly until: string | undefined;
  readonly message: string;
}

/** What a check found and did; `servedBy`: which hosts answered (the tag; the content when any was read). */
export type CheckOutcome = (
  | { kind: 'unchanged'; indexDigest: string; childDigest: string; pulledAt: string }
  | { kind: 'index-changed'; indexDigest: string; childDigest: string; pulledAt: string }
  /** `wasPresent`: the first check of the entry found the engine already holding this child under the tag (nothing new arrived). */
  | { kind: 'pulled'; indexDigest: string; childDigest: string; previous: string | undefined; pruned: readonly string[]; size?: number | undefined; wasPresent?: true }
  | { kind: 'would-pull'; indexDigest: string; childDigest: string; previous: string | undefined }
  | { kind: 'held'; indexDigest: string; childDigest: string | undefined; pulledAt: string | undefined; message: string; available: readonly string[]; reason?: HoldReason; disk?: DiskShortage }
  | { kind: 'waiting'; indexDigest: string; childDigest: string; previous: string | undefined; until: string | undefined; message: string }
) & { servedBy?: ServedBy | undefined };

/** Why a check holds: no child for the platform, or no room for the new child on the engine's disk. */
export type HoldReason = 'platform' | 'disk-space';

/** A disk preflight that failed: bytes the child needs, bytes free, the watermark, the path read. */
export interface DiskShortage {
  readonly needed: number;
  readonly free: number;
  readonly minFree: number;
  readonly path: string;
  /** The child that was not pulled. */
  readonly childDigest: string;
}

/** What a check needs. */
export interface CheckDeps {
  readonly registry: RegistryReader;
  /** The image half only (pull, inspect, prune). */
  readonly engine: ImageEngine;
  readonly credentials: CredentialStore;
  readonly state: StateStore;
  /** A recent listing of the engine's images by canonical `name:tag`, shared by many checks (one request, indexed once). */
  readonly localTags?: (() => Promise<ReadonlyMap<string, ImageInfo>>) | undefined;
  /** The disk preflight before a pull; a shortage holds the entry (the current image stays). */
  readonly preflight?: DiskPreflight | undefined;
  /** Mirror repositories the engine pulls from (pull.ts); their names count as the child's. */
  readonly pullSources?: PullDeps['pullSources'];
  /** The resolver-side prefetch (pull.ts, docs/prefetch.md); its loopback names count as the child's too. */
  readonly prefetch?: PullDeps['prefetch'];
}

/** Options of a check. */
export interface CheckOptions {
  readonly dryRun?: boolean;
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((s: PullState) => void) | undefined;
  readonly stallTimeoutMs?: number;
}

async function prune(deps: CheckDeps, ref: Reference, keep: readonly string[], drop: readonly string[]): Promise<string[]> {
  if (drop.length === 0) return [];
  const inUse = await deps.engine.imagesInUse();
  const name = familiarName(ref);
  const removed: string[] = [];
  const aliases = await childAliases(deps, ref);
  for (const digest of drop) {
    if (keep.includes(digest)) continue;
    // The child may be known by the origin's name or by the mirror's it was pulled from (or both).
    let gone = false;
    for (const n of [name, ...aliases]) {
      const image = await deps.engine.inspectImage(`${n}@${digest}`);
      if (image === undefined || inUse.has(image.id)) continue;
      await deps.engine.removeImage(`${n}@${digest}`);
      gone = true;
    }
    if (gone) removed.push(digest);
  }
  return removed;
}

/** Canonical `name:tag` of an engine RepoTags entry (or of our own familiar form). */
export function canonicalTag(text: string): string {
  try {
    return formatReference(parseReference(text));
  } catch {
    return text;
  }
}

/** Indexes an image listing by canonical `name:tag`. */
export function indexByTag(images: readonly ImageInfo[]): Map<string, ImageInfo> {
  const map = new Map<string, ImageInfo>();
  for (const image of images) for (const tag of image.repoTags) map.set(canonicalTag(tag), image);
  return map;
}

/** `s` when it names a host, else undefined (a reader that does not say who answered). */
function known(s: ServedBy | undefined): ServedBy | undefined {
  return s?.resolve === undefined && s?.content === undefined ? undefined : s;
}

/** Checks one tag and brings the engine to the current child. */
export async function checkImage(deps: CheckDeps, job: TrackedImage, options: CheckOptions = {}): Promise<CheckOutcome> {
  const ref = withDefaultTag(job.reference);
  const repo = repositoryOf(ref);
  const key = formatReference(ref);
  const platform = formatPlatformAll(job.target.platform);
  const record = await deps.state.get(key, platform);
  const top = await deps.registry.resolveTag(repo, ref.tag ?? 'latest', options.signal);
  const name = familiarName(ref);
  const tagged = ref.tag === undefined || job.tag === false ? undefined : `${name}:${ref.tag}`;

  const aliases = await childAliases(deps, ref, options.signal);
  const presentAsTagged = async (child: string): Promise<boolean> => {
    const image = await deps.engine.inspectImage(tagged ?? `${name}@${child}`);
    return image !== undefined && hasChild(image.repoDigests, ref, child, aliases);
  };

  const presentInListing = async (child: string): Promise<boolean> => {
    if (deps.localTags === undefined || tagged === undefined) return presentAsTagged(child);
    const image = (await deps.localTags()).get(canonicalTag(tagged));
    return image !== undefined && hasChild(image.repoDigests, ref, child, aliases);
  };

  const tagBy: ServedBy | undefined = top.servedBy === undefined ? undefined : { resolve: top.servedBy };
  if (record !== undefined && (record.indexDigest ?? record.childDigest) === top.digest && (await presentInListing(record.childDigest))) {
    return { kind: 'unchanged', indexDigest: top.digest, childDigest: record.childDigest, pulledAt: record.pulledAt, servedBy: tagBy };
  }

  let resolution;
  try {
    resolution = await resolveImage(deps.registry, ref, job.target, { signal: options.signal, top });
  } catch (error) {
    if (error instanceof NoMatchingPlatformError && job.onMissingPlatform === 'hold') {
      return { kind: 'held', indexDigest: top.digest, childDigest: record?.childDigest, pulledAt: record?.pulledAt, message: error.message, available: error.available, servedBy: tagBy };
    }
    throw error;
  }
  const servedBy = known(resolution.servedBy) ?? tagBy;
  const child = resolution.chosen.digest;
  const indexDigest = resolution.levels[0]?.digest ?? top.digest;

  if (record?.childDigest === child && (await presentAsTagged(child))) {
    if (!options.dryRun) await deps.state.put({ ...record, indexDigest: resolution.levels[0]?.digest ?? null, checkedAt: new Date().toISOString(), servedBy });
    return { kind: 'index-changed', indexDigest, childDigest: child, pulledAt: record.pulledAt, servedBy };
  }
  const hold = await job.rollout?.({ indexDigest, childDigest: child, previous: record?.childDigest });
  if (hold !== undefined) return { kind: 'waiting', indexDigest, childDigest: child, previous: record?.childDigest, until: hold.until, message: hold.message, servedBy };
  if (options.dryRun) return { kind: 'would-pull', indexDigest, childDigest: child, previous: record?.childDigest, servedBy };
  // A first check (nothing recorded) of a tag the engine already has at this child: recorded by the pull below
  // (cheap: every layer is there), but nothing new arrived, so it is not a change to notify (docs/notifications.md).
  const wasPresent = record === undefined && (await presentAsTagged(child));

  let pull;
  try {
    pull = await pullResolved(deps, ref, resolution, job.target, {
      signal: options.signal, onProgress: options.onProgress, tag: job.tag !== false,
      ...(options.stallTimeoutMs === undefined ? {} : { stallTimeoutMs: options.stallTimeoutMs }),
    });
  } catch (error) {
    // No room for the new child: hold the current one (not a failure: nothing is wrong but the disk).
    if (!(error instanceof DiskSpaceError)) throw error;
    const disk = { needed: error.needed, free: error.free, minFree: error.minFree, path: error.path, childDigest: child };
    return { kind: 'held', reason: 'disk-space', disk, indexDigest, childDigest: record?.childDigest, pulledAt: record?.pulledAt, message: error.message, available: [], servedBy };
  }
  const after = await deps.state.get(key, platform);
  if (after === undefined) throw new ResolverError('ERR_PULL_FAILED', `${key}: the pull was not recorded`);
  const keep = after.previousChildren.slice(0, job.retain);
  const drop = after.previousChildren.slice(job.retain);
  const pruned = await prune(deps, ref, [child, ...keep], drop);
  if (drop.length > 0) {
    const kept = [...keep, ...drop.filter((d) => !pruned.includes(d))];
    await deps.state.put({ ...after, previousChildren: kept });
  }
  return { kind: 'pulled', indexDigest, childDigest: child, previous: record?.childDigest, pruned, size: pull.childBytes ?? resolution.chosen.contentBytes, ...(wasPresent ? { wasPresent: true as const } : {}), servedBy: known(pull.servedBy) ?? servedBy };
}
