/**
 * Verifies and classifies a manifest body: sha256 over the exact bytes first, then the media type
 * from Content-Type and the `mediaType` field (shared/spec/registry-protocol.md §2.3–2.4), then the
 * zod schema. Nothing is parsed before the digest check passes. Pure (node:crypto only hashes).
 */
import { createHash } from 'node:crypto';
import { ResolverError } from '../errors.js';
import { parseJson } from '../json/parse-json.js';
import { parseDigest } from '../reference/digest.js';
import { isImageManifestMediaType, isIndexMediaType, isSchema1MediaType, mediaTypes } from './media-types.js';
import { platform, type Platform } from '../platform/platform.js';
import { ImageConfigPlatform, ImageIndex, ImageManifest } from './schema.js';

/** A verified, classified document. */
export type Classified =
  | { kind: 'index'; mediaType: string; digest: string; size: number; index: ImageIndex }
  | { kind: 'manifest'; mediaType: string; digest: string; size: number; manifest: ImageManifest };

/** Hashes bytes with the digest's algorithm: `sha256:<hex>`. */
export function digestOf(body: Uint8Array, algorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(body).digest('hex')}`;
}

/**
 * Throws ERR_DIGEST_MISMATCH unless `body` hashes to `expected`.
 * @param what names the document in the message, e.g. `localhost:5000/app@sha256:…`.
 */
export function verifyDigest(body: Uint8Array, expected: string, what: string): void {
  const parsed = parseDigest(expected);
  if (!parsed.ok) throw new ResolverError('ERR_MANIFEST_INVALID', `cannot verify ${what}: ${parsed.reason}`);
  const actual = digestOf(body, parsed.algorithm);
  if (actual !== expected) {
    throw new ResolverError('ERR_DIGEST_MISMATCH', `digest mismatch for ${what}: expected ${expected}, the registry served bytes hashing to ${actual}`, {
      details: ['the content was altered in transit or by the registry; nothing was used'],
    });
  }
}

function bareContentType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

function sniff(doc: Record<string, unknown>): string {
  if ('fsLayers' in doc) return mediaTypes.dockerSchema1;
  if ('config' in doc && 'layers' in doc) return mediaTypes.ociManifest;
  return mediaTypes.ociIndex;
}

/**
 * Decides the media type, parses and validates. `digest` must already be verified against `body`.
 * @throws ResolverError ERR_MANIFEST_INVALID | ERR_UNSUPPORTED_MEDIA_TYPE
 */
export function classifyManifest(body: Uint8Array, contentType: string | undefined, digest: string, what: string): Classified {
  let doc: unknown;
  try {
    // ignoreBOM keeps a leading byte-order mark, so JSON.parse refuses it as Go's json.Unmarshal does (the
    // engine fails such a pull; a decoder that dropped it made `which` answer for a document docker refuses).
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body));
  } catch {
    throw new ResolverError('ERR_MANIFEST_INVALID', `${what} is not valid UTF-8 JSON`, body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? { details: ['it starts with a byte-order mark, which JSON does not allow (docker refuses it too)'] } : undefined);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new ResolverError('ERR_MANIFEST_INVALID', `${what} is not a JSON object`);
  }
  const record = doc as Record<string, unknown>;
  const field = typeof record['mediaType'] === 'string' ? record['mediaType'] : undefined;
  const header = bareContentType(contentType);
  const generic = header === '' || header === 'application/json' || header === 'application/octet-stream' || header === 'text/plain';
  let mediaType: string;
  if (!generic) {
    if (field !== undefined && field !== header) {
      throw new ResolverError('ERR_MANIFEST_INVALID', `${what}: Content-Type ${header} contradicts the document's mediaType ${field}`);
    }
    mediaType = header;
  } else {
    mediaType = field ?? sniff(record);
  }
  if (isSchema1MediaType(mediaType)) {
    throw new ResolverError('ERR_UNSUPPORTED_MEDIA_TYPE', `${what} is a legacy schema 1 manifest, which Docker no longer pulls`, {
      details: ['re-push the image with a current client to get a schema 2 or OCI manifest'],
    });
  }
  const size = body.byteLength;
  if (isIndexMediaType(mediaType)) {
    const parsed = ImageIndex.safeParse(doc);
    if (!parsed.success) throw invalidDoc(what, 'index', parsed.error.issues);
    if ('config' in record || 'layers' in record) throw new ResolverError('ERR_MANIFEST_INVALID', `${what}: an index must not have config or layers`);
    return { kind: 'index', mediaType, digest, size, index: parsed.data };
  }
  if (isImageManifestMediaType(mediaType)) {
    const parsed = ImageManifest.safeParse(doc);
    if (!parsed.success) throw invalidDoc(what, 'image manifest', parsed.error.issues);
    if ('manifests' in record) throw new ResolverError('ERR_MANIFEST_INVALID', `${what}: an image manifest must not have manifests`);
    return { kind: 'manifest', mediaType, digest, size, manifest: parsed.data };
  }
  throw new ResolverError('ERR_UNSUPPORTED_MEDIA_TYPE', `${what} has media type ${mediaType}, which is not an image or an index`, {
    details: ['artifacts (signatures, SBOMs, Helm charts) cannot be run'],
  });
}

function invalidDoc(what: string, kind: string, issues: readonly { path: readonly PropertyKey[]; message: string }[]): ResolverError {
  const first = issues[0];
  const where = first === undefined ? '' : ` at ${first.path.map(String).join('.') || '(root)'}: ${first.message}`;
  return new ResolverError('ERR_MANIFEST_INVALID', `${what} is not a valid ${kind}${where}`);
}

/** The platform an image config declares, or undefined when the config is not JSON or has none of the fields. */
export function configPlatform(config: Uint8Array): Platform | undefined {
  const parsed = parseJson(ImageConfigPlatform, Buffer.from(config).toString('utf8'));
  if (!parsed.success) return undefined;
  return platform(parsed.data.os ?? '', parsed.data.architecture ?? '', parsed.data.variant ?? '', { osVersion: parsed.data['os.version'] ?? '' });
}
