/**
 * `manifest push --from-spec`: builds a multi-platform index from per-platform images named in a
 * manifest-tool-style YAML spec and pushes it. Children in other repositories of the same registry are
 * brought in with cross-repository blob mounts, copied (streamed; see copy-blob.ts) when the registry
 * refuses to mount or the child lives on another registry. A source that is itself an index
 * (buildx's image + attestation) stands for its image, and its attestations travel along (see
 * source-child.ts). Missing platforms are filled from each image's config; a contradiction or a duplicate
 * platform is an error naming the entry.
 */
import { z } from 'zod';
import { ResolverError } from '../errors.js';
import { linkAbort } from '../limit/abort.js';
import { KeyedLimiter } from '../limit/limiter.js';
import { classifyManifest, configPlatform, digestOf } from '../manifest/classify.js';
import { mediaTypes } from '../manifest/media-types.js';
import type { Descriptor, ImageManifest } from '../manifest/schema.js';
import { formatPlatform, normalizePlatform, platform as makePlatform, type Platform } from '../platform/platform.js';
import { formatReference, isValidTag, parseReference, withDefaultTag, type Reference } from '../reference/reference.js';
import type { Registry, Repository } from '../registry/registry.js';
import { repositoryOf } from '../reference/repository.js';
import { BlobCopier } from './copy-blob.js';
import { pickSourceChild } from './source-child.js';

/** One platform field of a spec (no slashes: `linux/arm/v7` is three fields). */
export const PlatformField = z.string().regex(/^[A-Za-z0-9_.-]+$/, 'one word, e.g. os: linux, architecture: arm, variant: v7 (not linux/arm/v7)');
const SpecPlatform = z.strictObject({
  architecture: PlatformField,
  os: PlatformField,
  variant: PlatformField.optional(),
  'os.version': PlatformField.optional(),
  'os.features': z.array(z.string()).optional(),
  features: z.array(z.string()).optional(),
});

/** The spec file (manifest-tool's shape). */
export const ManifestSpec = z.strictObject({
  image: z.string().describe('the multi-platform name:tag to push'),
  tags: z.array(z.string()).default([]).describe('extra tags for the same index'),
  manifests: z.array(z.strictObject({ image: z.string(), platform: SpecPlatform.optional() })).min(1, 'list at least one image under manifests'),
});
export type ManifestSpec = z.infer<typeof ManifestSpec>;

/** What was pushed. */
export interface PushedIndex {
  readonly reference: string;
  readonly digest: string;
  readonly mediaType: string;
  readonly tags: readonly string[];
  readonly mounted: number;
  readonly copied: number;
  readonly attestations: number;
  readonly warnings: readonly string[];
}

/** Options of a push. */
export interface PushOptions {
  readonly format?: 'oci' | 'docker' | undefined;
  /** Carry the sources' attestation manifests (default true). */
  readonly attestations?: boolean | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Where copied blobs are spooled (default: the OS temporary folder). */
  readonly spoolDir?: string | undefined;
  /** Called once per blob as it is settled. */
  readonly onBlob?: ((event: BlobEvent) => void) | undefined;
}

/** A manifest read from a source repository, verified. */
interface Fetched {
  readonly digest: string;
  readonly body: Buffer;
  readonly mediaType: string;
  readonly manifest: ImageManifest;
}

/** One spec entry, read and checked: the image, its platform, and the attestations that point at it. */
interface Planned {
  readonly repo: Repository;
  readonly image: Fetched;
  /** The platform settled from the spec or the config, and the index entry's `platform` object for it. */
  readonly chosen: Platform;
  readonly platform: Record<string, unknown>;
  readonly attestations: readonly (Fetched & { readonly entry: Descriptor })[];
}

/** What happened to one blob of a push. */
export interface BlobEvent {
  readonly digest: string;
  readonly size: number;
  /** Already in the target; mounted from the source repository; copied (piped, or through a file after a failed pipe). */
  readonly how: 'present' | 'mounted' | 'copied' | 'copied-via-file';
}

/** Blobs moved at once: as many as docker push and skopeo copy run side by side, within a small budget. */
export const blobConcurrency = 4;

/** Moves a manifest and its blobs into the target repository: nothing, mounts, or copies. */
class Transfer {
  mounted = 0;
  copied = 0;
  readonly #copier: BlobCopier;
  readonly #done = new Set<string>();
  readonly registry: Registry;
  readonly target: Repository;
  readonly options: PushOptions;

  constructor(registry: Registry, target: Repository, options: PushOptions) {
    this.registry = registry;
    this.target = target;
    this.options = options;
    this.#copier = new BlobCopier(registry, options.spoolDir);
  }

  async manifest(from: Repository, m: Fetched): Promise<void> {
    if (from.host === this.target.host && from.path === this.target.path) return;
    const blobs: Descriptor[] = [];
    for (const b of [m.manifest.config, ...m.manifest.layers]) {
      if (this.#done.has(b.digest)) continue;
      this.#done.add(b.digest);
      blobs.push(b);
    }
    await inPool(blobs, blobConcurrency, this.options.signal, (blob, signal) => this.#blob(from, blob, signal));
    await this.registry.putManifest(this.target, m.digest, m.mediaType, m.body, this.options.signal);
  }

  async #blob(from: Repository, blob: { digest: string; size: number }, signal: AbortSignal): Promise<void> {
    let how: BlobEvent['how'];
    if (await this.registry.hasBlob(this.target, blob.digest, signal)) {
      how = 'present';
    } else if (from.host === this.target.host && (await this.registry.mountBlob(this.target, blob.digest, from.path, signal))) {
      how = 'mounted';
      this.mounted++;
    } else {
      how = (await this.#copier.copy(from, this.target, blob, signal)) === 'streamed' ? 'copied' : 'copied-via-file';
      this.copied++;
    }
    this.options.onBlob?.({ digest: blob.digest, size: blob.size, how });
  }

  close(): Promise<void> {
    return this.#copier.close();
  }
}

/**
 * Runs `work` over `items`, `limit` at a time (one `KeyedLimiter` key), in order; the first failure aborts
 * the work in flight, starts no more and is thrown once everything started has settled.
 */
export async function inPool<T>(items: readonly T[], limit: number, outer: AbortSignal | undefined, work: (item: T, signal: AbortSignal) => Promise<void>): Promise<void> {
  // `stop` is what the work sees (the caller's abort or the first failure); `failed` only stops admission, so
  // a caller's abort reaches the work and the work's own error is what is thrown.
  const stop = new AbortController();
  const failed = new AbortController();
  const unlink = linkAbort(outer, stop);
  const limiter = new KeyedLimiter<null>(limit);
  let failure: { error: unknown } | undefined;
  const one = async (item: T): Promise<void> => {
    // A free slot is taken at once, so the first `limit` works start before inPool returns its promise.
    const release = limiter.tryAcquire(null) ?? (await limiter.acquire(null, failed.signal).catch(() => undefined));
    if (release === undefined) return; // not started: an earlier item failed
    try {
      await work(item, stop.signal);
    } catch (error) {
      failure ??= { error };
      failed.abort();
      stop.abort(error);
    } finally {
      release();
    }
  };
  try {
    await Promise.all(items.map(one));
  } finally {
    unlink();
  }
  if (failure !== undefined) throw failure.error;
}

async function fetchImage(registry: Registry, repo: Repository, digest: string, where: string, signal: AbortSignal | undefined): Promise<Fetched> {
  const fetched = await registry.getManifest(repo, digest, signal);
  const doc = classifyManifest(fetched.body, fetched.contentType, digest, where);
  if (doc.kind !== 'manifest') throw new ResolverError('ERR_USAGE', `${where} points to an index inside an index; name one per-platform image`);
  return { digest, body: fetched.body, mediaType: doc.mediaType, manifest: doc.manifest };
}

/** The references of a spec, checked before any request: the target by tag, valid extra tags, each entry. */
export function parseSpecReferences(spec: ManifestSpec): { target: Reference; entries: { entry: ManifestSpec['manifests'][number]; ref: Reference }[] } {
  const named = (text: string, where: string): Reference => {
    try {
      return withDefaultTag(parseReference(text));
    } catch (error) {
      if (error instanceof ResolverError) throw new ResolverError(error.code, `${where}: ${error.message}`, { details: error.details });
      throw error;
    }
  };
  const target = named(spec.image, 'image');
  if (target.digest !== undefined) {
    throw new ResolverError('ERR_USAGE', `image: ${spec.image} names a digest; an index is pushed under a tag`, { details: ['write image: NAME:TAG'] });
  }
  for (const [i, tag] of spec.tags.entries()) {
    if (!isValidTag(tag)) throw new ResolverError('ERR_USAGE', `tags[${i}]: "${tag}" is not a valid tag`, { details: ['a tag is up to 128 letters, digits, _ . and -, not starting with . or -'] });
  }
  const entries = spec.manifests.map((entry, i) => ({ entry, ref: named(entry.image, `manifests[${i}]`) }));
  return { target, entries };
}

/** Reads one entry and settles its platform; moves nothing. */
async function plan(registry: Registry, entry: ManifestSpec['manifests'][number], ref: Reference, where: string, options: PushOptions): Promise<Planned> {
  const signal = options.signal;
  const repo = repositoryOf(ref);
  const given = entry.platform === undefined ? undefined : makePlatform(entry.platform.os, entry.platform.architecture, entry.platform.variant ?? '', { osVersion: entry.platform['os.version'] ?? '', osFeatures: entry.platform['os.features'] ?? [] });
  const top = ref.digest ?? (await registry.resolveTag(repo, ref.tag ?? 'latest', signal)).digest;
  const fetched = await registry.getManifest(repo, top, signal);
  const doc = classifyManifest(fetched.body, fetched.contentType, top, where);
  let image: Fetched;
  const attestations: (Fetched & { entry: Descriptor })[] = [];
  if (doc.kind === 'manifest') {
    image = { digest: top, body: fetched.body, mediaType: doc.mediaType, manifest: doc.manifest };
  } else {
    const picked = pickSourceChild(doc.index, given, where);
    image = await fetchImage(registry, repo, picked.image.digest, where, signal);
    if (options.attestations !== false) {
      for (const a of picked.attestations) attestations.push({ entry: a, ...(await fetchImage(registry, repo, a.digest, `${where} attestation ${a.digest}`, signal)) });
    }
  }
  const fromConfig = configPlatform(await registry.getBlob(repo, image.manifest.config.digest, signal));
  const chosen = given ?? fromConfig;
  if (chosen === undefined || chosen.architecture === '') throw new ResolverError('ERR_USAGE', `${where} has no platform in its config; give one in the spec`);
  if (given !== undefined && fromConfig !== undefined && fromConfig.architecture !== '') {
    const a = normalizePlatform(given, 'linux');
    const b = normalizePlatform(fromConfig, 'linux');
    // A config without a variant does not contradict a spec that names one (arm64 configs rarely do).
    if (a.os !== b.os || a.architecture !== b.architecture || (b.variant !== '' && a.variant !== b.variant)) {
      throw new ResolverError('ERR_USAGE', `${where}: the spec says ${formatPlatform(given)} but the image's config says ${formatPlatform(fromConfig)}`);
    }
  }
  const platform = {
    architecture: chosen.architecture, os: chosen.os,
    ...(chosen.variant === '' ? {} : { variant: chosen.variant }),
    ...(chosen.osVersion === '' ? {} : { 'os.version': chosen.osVersion }),
    ...(chosen.osFeatures.length === 0 ? {} : { 'os.features': chosen.osFeatures }),
    ...(entry.platform?.features === undefined ? {} : { features: entry.platform.features }),
  };
  return { repo, image, chosen, platform, attestations };
}

/**
 * Pushes the index a spec describes. Every entry is read and checked first (missing images, contradicting
 * or duplicate platforms fail before anything is written); then blobs and manifests move; the tags last.
 */
export async function pushFromSpec(registry: Registry, spec: ManifestSpec, options: PushOptions = {}): Promise<PushedIndex> {
  const { target, entries } = parseSpecReferences(spec);
  const targetRepo = repositoryOf(target);
  const planned: Planned[] = [];
  const seen = new Map<string, string>();
  for (const [i, { entry, ref }] of entries.entries()) {
    const where = `manifests[${i}] (${entry.image})`;
    const p = await plan(registry, entry, ref, where, options);
    const key = `${formatPlatform(normalizePlatform(p.chosen, 'linux'))} ${p.chosen.osVersion}`;
    const other = seen.get(key);
    if (other !== undefined) throw new ResolverError('ERR_USAGE', `${where} and ${other} are both ${formatPlatform(p.chosen)}; an index needs one image per platform`);
    seen.set(key, where);
    planned.push(p);
  }

  const format = options.format ?? (planned.every((p) => p.image.mediaType === mediaTypes.ociManifest) ? 'oci' : 'docker');
  const mediaType = format === 'oci' ? mediaTypes.ociIndex : mediaTypes.dockerList;
  const warnings: string[] = [];
  const attestationCount = planned.reduce((n, p) => n + p.attestations.length, 0);
  // A Docker manifest list cannot carry attestations: decided before any of them is copied.
  const carry = format === 'oci';
  if (!carry && attestationCount > 0) {
    warnings.push(`left out ${attestationCount} attestation manifest${attestationCount === 1 ? '' : 's'}: a Docker manifest list cannot carry them (use --format oci to keep them)`);
  }

  const transfer = new Transfer(registry, targetRepo, options);
  try {
    for (const p of planned) {
      await transfer.manifest(p.repo, p.image);
      if (carry) for (const a of p.attestations) await transfer.manifest(p.repo, a);
    }
  } finally {
    await transfer.close();
  }
  // Images first, then attestations, as buildx orders them.
  const manifests = [
    ...planned.map((p) => ({ mediaType: p.image.mediaType, digest: p.image.digest, size: p.image.body.byteLength, platform: p.platform })),
    ...(carry ? planned.flatMap((p) => p.attestations) : []).map((a) => ({
      mediaType: a.mediaType, digest: a.digest, size: a.body.byteLength,
      ...(a.entry.annotations === undefined ? {} : { annotations: a.entry.annotations }),
      platform: a.entry.platform ?? { architecture: 'unknown', os: 'unknown' },
    })),
  ];
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests }, null, 2));
  const tags = [target.tag ?? 'latest', ...spec.tags];
  for (const tag of tags) await registry.putManifest(targetRepo, tag, mediaType, body, options.signal);
  return {
    reference: formatReference(target), digest: digestOf(body), mediaType, tags, mounted: transfer.mounted, copied: transfer.copied,
    attestations: carry ? attestationCount : 0, warnings,
  };
}
