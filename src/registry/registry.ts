/**
 * What `resolver/` and `publish/` need from a registry, as two small interfaces (issue 14): reading
 * (resolve a tag, fetch manifests and blobs) and writing (blobs, mounts, manifests). `RegistryClient`
 * implements both; tests and later features (mirrors, budgets) can stand in for either.
 */
import type { StreamBody } from '../http/http.js';
import type { Repository } from '../reference/repository.js';

export type { Repository } from '../reference/repository.js';

/** A manifest as served, verified against its digest. */
export interface FetchedManifest {
  readonly digest: string;
  readonly contentType: string;
  readonly body: Buffer;
  /** The host that served it (`host[:port]`): a mirror, or the registry itself (docs/mirrors.md). */
  readonly servedBy?: string;
}

/** What a HEAD (or the GET fallback) says about a tag. */
export interface TagDescriptor {
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
  /** Present when the tag had to be fetched with GET (the body is already verified by hashing). */
  readonly body?: Buffer;
  /** The host that answered (`host[:port]`): a mirror with `resolve`, or the registry itself. */
  readonly servedBy?: string;
}

/** Where `downloadBlob` writes. */
export interface BlobSink {
  start(): Promise<void>;
  write(chunk: Buffer): Promise<void>;
  /** The bytes are complete and verified. */
  end(): Promise<void>;
}

/** Where `downloadBlobRange` writes: `begin(from)` once, with the offset the body starts at, then the bytes. */
export interface RangeSink {
  begin(from: number): Promise<void>;
  write(chunk: Buffer): Promise<void>;
}

/** Fetches part of a blob (the resolver-side prefetch, docs/prefetch.md). `RegistryClient` implements it. */
export interface BlobRangeReader {
  downloadBlobRange(repo: Repository, blob: { readonly digest: string; readonly size: number }, offset: number, sink: RangeSink, options?: { signal?: AbortSignal | undefined }): Promise<void>;
}

/** Reads from registries. Every method verifies what it returns against its digest. */
export interface RegistryReader {
  /** What a tag (or digest) points to. */
  resolveTag(repo: Repository, reference: string, signal?: AbortSignal): Promise<TagDescriptor>;
  /** A manifest by digest, verified byte for byte (and against `expectedSize` when given). */
  getManifest(repo: Repository, digest: string, signal?: AbortSignal, expectedSize?: number): Promise<FetchedManifest>;
  /** A small blob (an image config) by digest, verified. */
  getBlob(repo: Repository, digest: string, signal?: AbortSignal, maxBytes?: number): Promise<Buffer>;
  /** Streams a blob of a known size into `sink`, verifying size and sha256. */
  downloadBlob(repo: Repository, blob: { readonly digest: string; readonly size: number }, sink: BlobSink, options?: { signal?: AbortSignal | undefined; retry?: boolean }): Promise<void>;
}

/** Writes to registries. */
export interface RegistryWriter {
  hasBlob(repo: Repository, digest: string, signal?: AbortSignal): Promise<boolean>;
  /** True when mounted from `fromPath` on the same registry; false when it must be copied. */
  mountBlob(target: Repository, digest: string, fromPath: string, signal?: AbortSignal): Promise<boolean>;
  pushBlob(target: Repository, digest: string, bytes: Buffer | StreamBody, signal?: AbortSignal): Promise<void>;
  putManifest(target: Repository, reference: string, mediaType: string, body: Buffer, signal?: AbortSignal): Promise<void>;
}

/** Both halves, for the publishing use case (it reads its sources and writes its target). */
export type Registry = RegistryReader & RegistryWriter;
