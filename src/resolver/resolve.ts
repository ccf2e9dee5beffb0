/**
 * The `which` use case: reference + target platform → the child digest Docker would pull, with the
 * explanation of every index level. Depends on the RegistryReader interface only.
 */
import { NoMatchingPlatformError, ResolverError } from '../errors.js';
import { classifyManifest, configPlatform } from '../manifest/classify.js';
import { isIndexMediaType } from '../manifest/media-types.js';
import type { Descriptor } from '../manifest/schema.js';
import { availablePlatforms, noMatchMessage, selectManifest, type EntryExplanation } from '../manifest/select.js';
import { onlyMatcher } from '../platform/match.js';
import { formatPlatform, platform, type Platform } from '../platform/platform.js';
import type { TargetPlatform } from '../platform/detect.js';
import { formatReference, withDefaultTag, type Reference } from '../reference/reference.js';
import { repositoryOf } from '../reference/repository.js';
import type { RegistryReader, TagDescriptor } from '../registry/registry.js';

/** One index that was walked. */
export interface IndexLevel {
  readonly digest: string;
  readonly mediaType: string;
  readonly entries: readonly EntryExplanation[];
}

/** The answer. */
export interface Resolution {
  readonly reference: Reference;
  /** What the tag (or digest) points to. */
  readonly top: { readonly digest: string; readonly mediaType: string; readonly size: number };
  /** Index levels walked, outermost first; empty for a single-platform tag. */
  readonly levels: readonly IndexLevel[];
  readonly chosen: {
    readonly digest: string; readonly mediaType: string; readonly size: number; readonly platform: Platform | undefined;
    /** Bytes of the image (config + layers) when its manifest was read here (a single-platform tag), else undefined. */
    readonly contentBytes?: number | undefined;
  };
  /** Which hosts answered (docs/mirrors.md): the tag's, and the last manifest's read by digest. */
  readonly servedBy?: ServedBy | undefined;
}

/**
 * Which host answered (`host[:port]`: a mirror, or the registry itself; docs/mirrors.md): `resolve` for the tag,
 * `content` for the content read by digest (the manifests resolver read, or the child the engine pulled).
 */
export interface ServedBy {
  readonly resolve?: string | undefined;
  readonly content?: string | undefined;
}

const maxDepth = 4;

/** Options of `resolveImage`. */
export interface ResolveOptions {
  readonly signal?: AbortSignal | undefined;
  /** For a single-platform image, fetch its config to report its platform. */
  readonly describeSingle?: boolean;
  /** What a HEAD of the tag already returned (the daemon's check), to avoid a second HEAD. */
  readonly top?: TagDescriptor | undefined;
}

/** Resolves a reference to the child Docker would pull for `target`. */
export async function resolveImage(registry: RegistryReader, input: Reference, target: TargetPlatform, options: ResolveOptions = {}): Promise<Resolution> {
  const ref = withDefaultTag(input);
  const repo = repositoryOf(ref);
  const signal = options.signal;
  const what = formatReference(ref);

  let top: { digest: string; mediaType: string; size: number };
  let body: Buffer;
  let contentType: string;
  let resolvedBy: string | undefined;
  let contentFrom: string | undefined;
  if (ref.digest !== undefined) {
    const m = await registry.getManifest(repo, ref.digest, signal);
    body = m.body;
    contentType = m.contentType;
    contentFrom = m.servedBy;
    top = { digest: ref.digest, mediaType: contentType.split(';')[0]?.trim() ?? '', size: body.byteLength };
  } else {
    const tag = options.top ?? (await registry.resolveTag(repo, ref.tag ?? 'latest', signal));
    top = { digest: tag.digest, mediaType: tag.mediaType, size: tag.size };
    resolvedBy = tag.servedBy;
    // The document decides what it is, never a HEAD's Content-Type alone (issue 13.16): a HEAD that calls
    // an index an image manifest would otherwise make the index digest "the child".
    if (tag.body !== undefined) {
      body = tag.body;
      contentType = tag.mediaType;
      contentFrom = tag.servedBy;
    } else {
      const m = await registry.getManifest(repo, tag.digest, signal, tag.size);
      body = m.body;
      contentType = m.contentType;
      contentFrom = m.servedBy;
    }
  }

  const levels: IndexLevel[] = [];
  let outerAvailable: readonly string[] = [];
  let current = classifyManifest(body, contentType, top.digest, what);
  top = { ...top, mediaType: current.mediaType };
  const matcher = onlyMatcher(target.platform, target.rules, target.parseContext.os);
  let chosenDescriptor: Descriptor | undefined;
  while (current.kind === 'index') {
    if (levels.length >= maxDepth) throw new ResolverError('ERR_MANIFEST_INVALID', `${what}: indexes nested more than ${maxDepth} deep`);
    const selection = selectManifest(current.index, matcher, target.rules);
    levels.push({ digest: current.digest, mediaType: current.mediaType, entries: selection.entries });
    if (levels.length === 1) outerAvailable = availablePlatforms(current.index);
    if (selection.kind === 'no-match') throw new NoMatchingPlatformError(noMatchMessage(target.display, target.rules), selection.available);
    chosenDescriptor = selection.descriptor;
    if (!isIndexMediaType(chosenDescriptor.mediaType)) break;
    const m = await registry.getManifest(repo, chosenDescriptor.digest, signal, chosenDescriptor.size);
    contentFrom = m.servedBy ?? contentFrom;
    current = classifyManifest(m.body, m.contentType, chosenDescriptor.digest, `${what} → ${chosenDescriptor.digest}`);
  }
  const servedBy: ServedBy = { ...(resolvedBy === undefined ? {} : { resolve: resolvedBy }), ...(contentFrom === undefined ? {} : { content: contentFrom }) };

  if (chosenDescriptor === undefined) {
    let p: Platform | undefined;
    if (options.describeSingle && current.kind === 'manifest') {
      p = configPlatform(await registry.getBlob(repo, current.manifest.config.digest, signal));
    }
    const contentBytes = current.kind === 'manifest' ? current.manifest.layers.reduce((n, l) => n + l.size, current.manifest.config.size) : undefined;
    return { reference: ref, top, levels, chosen: { ...top, platform: p, contentBytes }, servedBy };
  }
  const raw = chosenDescriptor.platform;
  const verdict = levels.at(-1)?.entries.find((e) => e.verdict.kind === 'chosen')?.verdict;
  const lastResort = verdict?.kind === 'chosen' && verdict.rank < 0;
  if (lastResort && target.requested && target.rules.store === 'classic') {
    // With an explicit --platform, the classic store checks the pulled image's config platform and
    // fails the pull on a mismatch (observed with Docker 26.1.5): a platform-less last resort may not
    // fit. The containerd store has no such check (moby daemon/containerd/image_pull.go, 26.1–29.7):
    // it pulls the last resort whatever its config says (seen with 26.1.5's containerd store).
    const m = await registry.getManifest(repo, chosenDescriptor.digest, signal, chosenDescriptor.size);
    const image = classifyManifest(m.body, m.contentType, chosenDescriptor.digest, `${what} → ${chosenDescriptor.digest}`);
    const actual = image.kind === 'manifest' ? configPlatform(await registry.getBlob(repo, image.manifest.config.digest, signal)) : undefined;
    if (actual !== undefined && matcher.rank(actual) < 0) {
      throw new NoMatchingPlatformError(
        `image with reference ${what} was found but does not match the specified platform: wanted ${formatPlatform(target.platform)}, actual: ${formatPlatform(actual)}`,
        outerAvailable,
      );
    }
  }
  const chosenPlatform = raw === undefined ? undefined : platform(raw.os ?? '', raw.architecture ?? '', raw.variant ?? '', { osVersion: raw['os.version'] ?? '', osFeatures: raw['os.features'] ?? [] });
  return {
    reference: ref, top, levels, servedBy,
    chosen: { digest: chosenDescriptor.digest, mediaType: chosenDescriptor.mediaType, size: chosenDescriptor.size, platform: chosenPlatform },
  };
}
