/**
 * The `pull` use case: resolve with the registry client, pull the child **by digest** through the
 * engine with `X-Registry-Auth` from the same credentials, tag it `name:tag`, verify with inspect that
 * the tag points to the child, and record it. Nothing is tagged until the pull succeeded and was verified.
 */
import { ResolverError } from '../errors.js';
import type { ImageEngine, RegistryAuth } from '../engine/engine.js';
import type { PullState } from '../engine/pull-progress.js';
import type { TargetPlatform } from '../platform/detect.js';
import { classifyManifest } from '../manifest/classify.js';
import { formatPlatformAll } from '../platform/platform.js';
import { parseDiffIds } from '../preflight/estimate.js';
import type { ChildLayers, DiskPreflight, PreflightVerdict } from '../preflight/preflight.js';
import { repositoryOf } from '../reference/repository.js';
import { credentialKey, familiarName, formatReference, parseReference, registryHost, repositoryName, withDefaultTag, type Reference } from '../reference/reference.js';
import type { RegistryReader } from '../registry/registry.js';
import type { CredentialStore } from '../registry/credentials.js';
import type { StateStore } from '../state/state-store.js';
import type { Prefetch, StagedChild } from '../prefetch/prefetch.js';
import { resolveImage, type Resolution, type ServedBy } from './resolve.js';

/** What a pull needs. */
export interface PullDeps {
  readonly registry: RegistryReader;
  /** The image half only: a pull never creates or starts a container. */
  readonly engine: ImageEngine;
  readonly credentials: CredentialStore;
  readonly state: StateStore;
  readonly now?: () => Date;
  /** Checks the engine's disk before a pull (docs/preflight.md); none: no check. */
  readonly preflight?: DiskPreflight | undefined;
  /**
   * Repositories (familiar names, e.g. `mirror.lan:5000/app`) the engine should pull the child from before the
   * origin, when the engine does not apply the mirrors itself (docs/mirrors.md). The child is then tagged under
   * the origin's name.
   */
  readonly pullSources?: ((ref: Reference, signal?: AbortSignal) => Promise<readonly string[]>) | undefined;
  /**
   * The resolver-side prefetch (docs/prefetch.md): the child's blobs are fetched into resolver's content store
   * (resumable, capped) and the engine pulls them from a loopback registry before any other source.
   */
  readonly prefetch?: Prefetch | undefined;
}

/** Every name the child may be known by in the engine besides the origin's: mirrors, then the prefetch's loopback registry. */
export async function childAliases(deps: Pick<PullDeps, 'pullSources' | 'prefetch'>, ref: Reference, signal?: AbortSignal): Promise<readonly string[]> {
  return [...((await deps.pullSources?.(ref, signal)) ?? []), ...((await deps.prefetch?.aliases(ref)) ?? [])];
}

/** The outcome. */
export interface PullOutcome {
  readonly resolution: Resolution;
  /** `name@sha256:child`, as the engine knows it. */
  readonly digestReference: string;
  /** `name:tag` that now points to the child, if the reference had a tag. */
  readonly tagged: string | undefined;
  readonly imageId: string;
  /** False when the child was already present and no pull happened. */
  readonly pulled: boolean;
  readonly progress: PullState | undefined;
  /** The engine reported the pull as failed, yet it holds the child: what it said. */
  readonly streamError?: string | undefined;
  /** With `recordFailure: 'warn'`: the image is pulled and tagged, but its state record could not be written (why). */
  readonly stateWarning?: string | undefined;
  /** What the disk preflight found, when a pull was needed and a preflight is configured. */
  readonly preflight?: PreflightVerdict | undefined;
  /** The repository the engine pulled from when it was a mirror's (`mirror.lan/app`); undefined: the origin's name. */
  readonly pulledFrom?: string | undefined;
  /** Mirrors the engine failed to pull from before the one that worked, with why. */
  readonly mirrorFailures?: readonly string[];
  /**
   * Compressed bytes of the child (its config + layers, as the registry serves them), when the child's manifest
   * was read on the way: the disk preflight GETs it anyway, so an index's child costs no extra request for it.
   */
  readonly childBytes?: number | undefined;
  /** Which hosts answered: the tag's, and the content's (the engine's pull source when it pulled; docs/mirrors.md). */
  readonly servedBy?: ServedBy | undefined;
}

/** Options of a pull. */
export interface PullOptions {
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((s: PullState) => void) | undefined;
  readonly stallTimeoutMs?: number;
  /** False: keep the child by digest only and leave `name:tag` alone (another platform's entry owns it). */
  readonly tag?: boolean;
  /**
   * A state write that fails for want of room (ENOSPC, EDQUOT, EROFS): 'throw' (default; the daemon
   * retries on its next round) or 'warn' (the `pull` command: the image is pulled and tagged, so the
   * command succeeded; the outcome carries stateWarning and the record is written by the next pull).
   */
  readonly recordFailure?: 'throw' | 'warn';
}

const noRoom = new Set(['ENOSPC', 'EDQUOT', 'EROFS']);
/** Engine pull failures after which the next mirror (or the origin) is tried. */
const mirrorFallback = new Set<string>(['ERR_PULL_FAILED', 'ERR_NOT_FOUND', 'ERR_REGISTRY_AUTH', 'ERR_NETWORK', 'ERR_RATE_LIMITED', 'ERR_DIGEST_MISMATCH']);

/** `X-Registry-Auth` for a reference, from the credential store. */
export async function registryAuthFor(credentials: CredentialStore, ref: Reference, signal?: AbortSignal): Promise<RegistryAuth | undefined> {
  const key = credentialKey(ref);
  const c = await credentials.get(key, signal);
  if (c === undefined) return undefined;
  return { serveraddress: key, username: c.username, password: c.password, identitytoken: c.identityToken, registrytoken: c.registryToken };
}

/** True when an inspect's RepoDigests names `repository@digest` (in any spelling of the name). */
export function hasRepoDigest(repoDigests: readonly string[], ref: Reference, digest: string): boolean {
  const want = `${repositoryName(ref)}@${digest}`;
  return repoDigests.some((entry) => {
    try {
      const r = parseReference(entry);
      return `${repositoryName(r)}@${r.digest ?? ''}` === want;
    } catch {
      return false;
    }
  });
}

/** The child's layers for the disk preflight: its manifest (GET by digest) and its config blob, both verified. */
export async function childLayers(registry: RegistryReader, ref: Reference, resolution: Resolution, signal?: AbortSignal): Promise<ChildLayers> {
  const repo = repositoryOf(ref);
  const { digest, size } = resolution.chosen;
  const m = await registry.getManifest(repo, digest, signal, size);
  const image = classifyManifest(m.body, m.contentType, digest, `${formatReference(ref)} → ${digest}`);
  if (image.kind !== 'manifest') throw new ResolverError('ERR_MANIFEST_INVALID', `${formatReference(ref)} → ${digest} is an index, not an image`);
  const config = await registry.getBlob(repo, image.manifest.config.digest, signal);
  return { layers: image.manifest.layers.map((l) => ({ digest: l.digest, size: l.size })), configSize: image.manifest.config.size, diffIds: parseDiffIds(config) };
}

/** True when RepoDigests names the child under `ref`'s name or one of the mirror names it was pulled from. */
export function hasChild(repoDigests: readonly string[], ref: Reference, digest: string, aliases: readonly string[] = []): boolean {
  if (hasRepoDigest(repoDigests, ref, digest)) return true;
  return aliases.some((a) => {
    try {
      return hasRepoDigest(repoDigests, parseReference(a), digest);
    } catch {
      return false;
    }
  });
}

/** Makes sure the child for `target` is present, tagged and recorded; pulls only when needed. */
export async function pullResolved(deps: PullDeps, input: Reference, resolution: Resolution, target: TargetPlatform, options: PullOptions = {}): Promise<PullOutcome> {
  const ref = withDefaultTag(input);
  const name = familiarName(ref);
  const child = resolution.chosen.digest;
  const digestReference = `${name}@${child}`;
  let progress: PullState | undefined;
  let pulled = false;
  let streamError: string | undefined;
  let preflight: PreflightVerdict | undefined;
  let pulledFrom: string | undefined;
  /** The engine pulled from resolver's own prefetch registry (docs/prefetch.md), not from a registry or mirror. */
  let fromPrefetch = false;
  let childBytes = resolution.chosen.contentBytes;
  const mirrorFailures: string[] = [];
  const mirrors = (await deps.pullSources?.(ref, options.signal)) ?? [];
  const aliases = [...mirrors, ...((await deps.prefetch?.aliases(ref)) ?? [])];
  const has = (image: { repoDigests: readonly string[] } | undefined): boolean => image !== undefined && hasChild(image.repoDigests, ref, child, aliases);
  const tagged = options.tag !== false && ref.digest === undefined && ref.tag !== undefined ? `${name}:${ref.tag}` : undefined;
  // Fast path: the tag (or the digest reference) already points to the child. One inspect, nothing else.
  let check = await deps.engine.inspectImage(tagged ?? digestReference);
  if (!has(check)) {
    let present = tagged === undefined ? check : await deps.engine.inspectImage(digestReference);
    let source = has(present) ? name : undefined;
    for (const alias of aliases) {
      if (source !== undefined) break;
      present = await deps.engine.inspectImage(`${alias}@${child}`);
      if (has(present)) source = alias;
    }
    if (source === undefined) {
      // Before anything is fetched into the engine: room for the child (a DiskSpaceError pulls nothing).
      // The manifest it reads also gives the child's size (the `pulled` event's), without a request of its own.
      const readLayers = async (s?: AbortSignal): Promise<ChildLayers> => {
        const layers = await childLayers(deps.registry, ref, resolution, s);
        childBytes = layers.layers.reduce((n, l) => n + l.size, layers.configSize);
        return layers;
      };
      preflight = deps.preflight === undefined ? undefined : await deps.preflight.check(digestReference, readLayers, deps.engine, options.signal);
      let staged: StagedChild | undefined;
      let handedOver = false;
      try {
        // The prefetch fetches the child itself (a failure here fails the pull: the next one resumes what came).
        staged = deps.prefetch === undefined ? undefined : await deps.prefetch.stage(ref, { digest: child, size: resolution.chosen.size }, options.signal);
        // The loopback name may be new (a port picked just now): the child is known by it once pulled.
        if (staged !== undefined && !aliases.includes(staged.repository)) aliases.push(staged.repository);
        // The prefetch's loopback registry and the mirrors first (the engine would not use them itself), then the origin's name.
        const names = [...(staged === undefined ? [] : [staged.repository]), ...mirrors, name];
        for (const [i, from] of names.entries()) {
          const last = i === names.length - 1;
          const fromRef = parseReference(from);
          const auth = await registryAuthFor(deps.credentials, fromRef, options.signal);
          try {
            progress = await deps.engine.pull({
              repository: from, digest: child, auth, signal: options.signal, onProgress: options.onProgress,
              ...(options.stallTimeoutMs === undefined ? {} : { stallTimeoutMs: options.stallTimeoutMs }),
            });
            source = from;
            handedOver = from === staged?.repository;
            fromPrefetch = handedOver;
            break;
          } catch (error) {
            // A failed stream is not the last word: the engine may hold the child all the same (content is
            // addressed by digest, so a present child is the whole child). Such a child is tagged and
            // recorded like any other, or it would never be pruned; otherwise the pull failed.
            if (!(error instanceof ResolverError) || error.code === 'ERR_ABORTED') throw error;
            if (error.code === 'ERR_PULL_FAILED') {
              const after = await deps.engine.inspectImage(`${from}@${child}`).catch(() => undefined);
              if (after !== undefined && hasChild(after.repoDigests, fromRef, child)) {
                streamError = error.message;
                source = from;
                break;
              }
            }
            if (last || !mirrorFallback.has(error.code)) throw error;
            mirrorFailures.push(`${from}: ${error.message}`);
          }
        }
      } finally {
        if (preflight?.kind === 'fits') preflight.release();
        await staged?.release(handedOver);
      }
      pulled = true;
    }
    pulledFrom = source === name ? undefined : source;
    if (tagged !== undefined && ref.tag !== undefined) await deps.engine.tag(`${source ?? name}@${child}`, name, ref.tag);
    check = await deps.engine.inspectImage(tagged ?? `${source ?? name}@${child}`);
  }
  if (check === undefined || !has(check)) {
    throw new ResolverError('ERR_DIGEST_MISMATCH', `after the pull, ${tagged ?? digestReference} does not point to ${child}`, {
      details: [`the engine reports ${check === undefined ? 'no such image' : `RepoDigests ${check.repoDigests.join(', ') || '(none)'}`}`],
    });
  }
  // The content's host: where the engine pulled the child from (a mirror's name or the origin's), else where the
  // manifests came from (also when the engine pulled from resolver's loopback prefetch registry, which is no source).
  const contentHost = pulled && !fromPrefetch ? repositoryOf(parseReference(pulledFrom ?? name)).host : resolution.servedBy?.content;
  const servedBy: ServedBy = { ...(resolution.servedBy?.resolve === undefined ? {} : { resolve: resolution.servedBy.resolve }), ...(contentHost === undefined ? {} : { content: contentHost }) };
  const now = (deps.now ?? (() => new Date()))().toISOString();
  const platformText = formatPlatformAll(target.platform);
  const previous = await deps.state.get(formatReference(ref), platformText);
  const unchanged = previous !== undefined && !pulled && previous.childDigest === child && previous.imageId === check.id && previous.indexDigest === (resolution.levels[0]?.digest ?? null);
  // An unchanged image costs no disk write (SD cards on edge devices wear out).
  const record = unchanged ? undefined : {
    reference: formatReference(ref),
    platform: platformText,
    registry: registryHost(ref),
    indexDigest: resolution.levels[0]?.digest ?? null,
    childDigest: child,
    imageId: check.id,
    pulledAt: pulled || previous === undefined ? now : previous.pulledAt,
    checkedAt: now,
    // The child this one replaces becomes the newest rollback candidate.
    previousChildren:
      previous === undefined || previous.childDigest === child
        ? (previous?.previousChildren ?? [])
        : [previous.childDigest, ...previous.previousChildren.filter((d) => d !== child && d !== previous.childDigest)],
    ...(servedBy.resolve === undefined && servedBy.content === undefined ? {} : { servedBy }),
  };
  let stateWarning: string | undefined;
  if (record !== undefined) {
    try {
      await deps.state.put(record);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException | undefined)?.code;
      if (options.recordFailure !== 'warn' || code === undefined || !noRoom.has(code)) throw error;
      stateWarning = `${tagged ?? digestReference} was pulled, but its state record could not be written (${code}: ${code === 'EROFS' ? 'the file system is read-only' : 'the disk is full'}); free space in the state folder (RESOLVER_STATE_DIR) and pull again to record it`;
    }
  }
  return { resolution, digestReference, tagged, imageId: check.id, pulled, progress, streamError, ...(stateWarning === undefined ? {} : { stateWarning }), ...(preflight === undefined ? {} : { preflight }),
    ...(pulledFrom === undefined ? {} : { pulledFrom }), ...(mirrorFailures.length === 0 ? {} : { mirrorFailures }), ...(childBytes === undefined ? {} : { childBytes }), servedBy };
}

/** Resolves and pulls. */
export async function pullImage(deps: PullDeps, ref: Reference, target: TargetPlatform, options: PullOptions = {}): Promise<PullOutcome> {
  const resolution = await resolveImage(deps.registry, ref, target, { signal: options.signal });
  return pullResolved(deps, ref, resolution, target, options);
}
