/**
 * Pure: which image of a source index a spec entry means. `docker buildx build --push` with its default
 * provenance writes even a single-platform build as an index: the image plus an attestation manifest
 * (`unknown/unknown`, annotated `vnd.docker.reference.type: attestation-manifest` and pointing at the image
 * with `vnd.docker.reference.digest`). Such a source stands for its one image, and its attestations travel
 * with it, as `docker buildx imagetools create` does. A source with several platforms needs the spec's
 * `platform:` to pick one.
 */
import { ResolverError } from '../errors.js';
import { isImageManifestMediaType } from '../manifest/media-types.js';
import type { Descriptor, ImageIndex } from '../manifest/schema.js';
import { descriptorPlatform } from '../manifest/select.js';
import { formatPlatform, formatPlatformAll, normalizePlatform, type Platform } from '../platform/platform.js';

export const referenceTypeAnnotation = 'vnd.docker.reference.type';
export const referenceDigestAnnotation = 'vnd.docker.reference.digest';

/** True for buildx's attestation entries. */
export function isAttestationEntry(d: Descriptor): boolean {
  return d.annotations?.[referenceTypeAnnotation] === 'attestation-manifest';
}

/** The chosen image of a source index and the attestation entries that point at it. */
export interface SourceChild {
  readonly image: Descriptor;
  readonly attestations: readonly Descriptor[];
}

function samePlatform(a: Platform, b: Platform): boolean {
  const x = normalizePlatform(a, 'linux');
  const y = normalizePlatform(b, 'linux');
  return x.os === y.os && x.architecture === y.architecture && x.variant === y.variant && (a.osVersion === '' || a.osVersion === b.osVersion);
}

/**
 * Picks the image a spec entry means from a source index: the only image, or the one whose platform equals
 * `wanted` (after normalisation: arm64 = arm64/v8). `where` names the entry in errors.
 */
export function pickSourceChild(index: ImageIndex, wanted: Platform | undefined, where: string): SourceChild {
  const images = index.manifests.filter((d) => isImageManifestMediaType(d.mediaType) && !isAttestationEntry(d));
  const nested = index.manifests.filter((d) => !isImageManifestMediaType(d.mediaType) && !isAttestationEntry(d));
  if (nested.length > 0) throw new ResolverError('ERR_USAGE', `${where} is an index of indexes; name one per-platform image`);
  const listed = images.map((d) => (d.platform === undefined ? '(no platform)' : formatPlatformAll(descriptorPlatform(d.platform)))).join(', ');
  let candidates = images;
  if (wanted !== undefined && images.length > 1) {
    candidates = images.filter((d) => d.platform !== undefined && samePlatform(wanted, descriptorPlatform(d.platform)));
    if (candidates.length === 0) {
      throw new ResolverError('ERR_USAGE', `${where} is a multi-platform index without ${formatPlatform(wanted)}`, { details: [`it has: ${listed}`] });
    }
  }
  const image = candidates[0];
  if (image === undefined) throw new ResolverError('ERR_USAGE', `${where} is an index with no image in it`);
  if (candidates.length > 1 && wanted !== undefined) {
    throw new ResolverError('ERR_USAGE', `${where} lists ${formatPlatform(wanted)} more than once`, { details: ['name the image by digest'] });
  }
  if (candidates.length > 1) {
    throw new ResolverError('ERR_USAGE', `${where} is a multi-platform index (${listed})`, {
      details: ['give platform: in the spec to pick one of its images, or name a per-platform image'],
    });
  }
  const attestations = index.manifests.filter((d) => isAttestationEntry(d) && d.annotations?.[referenceDigestAnnotation] === image.digest);
  return { image, attestations };
}
