/**
 * OCI Distribution client for resolving tags and publishing (registry-protocol.md §2–§7): HEAD the tag
 * with all four Accept types, GET by digest only when needed, sha256 over the exact bytes, a 4 MiB cap.
 * The request path is a chain of layers (layers.ts; docs/registry-client.md): retry with backoff and one
 * deadline per operation, auth bound to the origin that challenged, rate-limit bookkeeping, scheme
 * fallback. Error responses become errors naming the registry and repository (errors.ts).
 */
import { createHash } from 'node:crypto';
import type { RegistryBudget } from '../budget/budget.js';
import { budgetLayer } from '../budget/layer.js';
import { RegistryHttpError, ResolverError } from '../errors.js';
import { sleep } from '../limit/abort.js';
import type { HttpClient, HttpResponse, ReceivedResponse, StreamBody } from '../http/http.js';
import { isLoopbackIp } from '../http/ip.js';
import { sanitizeRemoteText } from '../http/remote-text.js';
import { digestOf, verifyDigest } from '../manifest/classify.js';
import { manifestAccept } from '../manifest/media-types.js';
import { isSha256Digest, parseDigest } from '../reference/digest.js';
import type { Repository } from '../reference/repository.js';
import type { Clock, TokenCache } from './auth.js';
import type { CredentialStore, Credentials } from './credentials.js';
import { registryError } from './errors.js';
import { contentTypeOf, parseRateLimit, parseRetryAfter, uploadTarget, type RateLimit } from './headers.js';
import { authLayer, compose, HostTable, rateLimitLayer, retryLayer, schemeSend, type Method, type RegistryRequest, type RegistryResponse, type RetryPolicy, type Send } from './layers.js';
import { PromiseMemo } from '../memo/promise-memo.js';
import { mirrorLayer, type MirrorAnswer, type MirrorSkip } from './mirror-layer.js';
import type { MirrorTable } from '../mirror/read.js';
import type { BlobRangeReader, BlobSink, FetchedManifest, RangeSink, RegistryReader, RegistryWriter, TagDescriptor } from './registry.js';

export type { Repository } from '../reference/repository.js';
export type { BlobSink, FetchedManifest, Registry, RegistryReader, RegistryWriter, TagDescriptor } from './registry.js';
export { parseRateLimit, parseRetryAfter, uploadTarget, type RateLimit } from './headers.js';
export type { RetryPolicy } from './layers.js';
export type { MirrorAnswer, MirrorSkip } from './mirror-layer.js';

interface RequestExtra {
  readonly body?: Buffer | StreamBody | undefined;
  readonly receive?: ((chunks: AsyncIterable<Buffer>, response?: ReceivedResponse) => Promise<void>) | undefined;
  /** One attempt only (a one-shot stream body, or a download feeding one). */
  readonly noRetry?: boolean;
  /** Overall deadline of the whole operation, every try and backoff included; default 60 s, 600 s with a body. */
  readonly deadlineMs?: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly scopes?: readonly string[];
  readonly maxBytes?: number;
}

/**
 * Overall deadline for moving a blob of `size` bytes: a minute plus the time at 64 KiB/s, so a layer of any
 * size can finish on a slow link. A stalled transfer is caught sooner by the 15 s between-chunks body timeout.
 */
export function blobDeadlineMs(size: number): number {
  return 60_000 + Math.ceil(size / 64);
}

/** The token scope every write (and the HEAD before it) asks for. */
function pushScope(repo: Repository): string {
  return `repository:${repo.path}:pull,push`;
}

/** Manifest size cap (registry-protocol.md §2.5). */
export const maxManifestBytes = 4 * 1024 * 1024;

/** Dependencies of a client. */
export interface RegistryClientOptions {
  readonly http: HttpClient;
  readonly tokens: TokenCache;
  readonly credentials: CredentialStore;
  readonly clock: Clock;
  /** Hosts (`host` or `host:port`) to reach over plain HTTP or unverified TLS, besides loopback. */
  readonly insecureRegistries?: readonly string[];
  readonly retry?: Partial<RetryPolicy>;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly random?: () => number;
  readonly onWarning?: (message: string) => void;
  /**
   * Overall deadline of one operation (all its tries and backoffs), when the call names none (13.23).
   * @default 60_000
   */
  readonly deadlineMs?: number;
  /** Mirrors per registry namespace (hosts.toml, daemon.json, resolver.yaml; docs/mirrors.md). */
  readonly mirrors?: MirrorTable;
  /** Which host answered a read (a mirror or the origin), when mirrors are configured for it. */
  readonly onMirrorAnswer?: (answer: MirrorAnswer) => void;
  /** A mirror that was tried and skipped, and why. */
  readonly onMirrorSkip?: (skip: MirrorSkip) => void;
  /**
   * The request budget (issue 12 §2; docs/budget.md), shared by every client of one daemon across reloads.
   * Without one, nothing is refused for its count.
   */
  readonly budget?: RegistryBudget | undefined;
}

const knownManifestTypes = new Set(manifestAccept);

/**
 * True for hosts Docker treats as insecure by default (127.0.0.0/8, ::1, localhost). Host names are
 * case-insensitive (`LOCALHOST:5000`, 13.21); IPv4-mapped loopback counts, as for dockerd's CIDR check.
 */
export function isLoopbackHost(host: string): boolean {
  const hostname = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase();
  return hostname === 'localhost' || isLoopbackIp(hostname);
}

/** Resolves tags and fetches manifests from OCI registries, and publishes to them. */
export class RegistryClient implements RegistryReader, RegistryWriter, BlobRangeReader {
  readonly #o: RegistryClientOptions;
  readonly #retry: RetryPolicy;
  readonly #deadlineMs: number;
  readonly #creds = new PromiseMemo<string, Credentials | undefined>();
  readonly #send: Send;
  readonly #counters = { requests: { HEAD: 0, GET: 0 }, writes: 0, schemeProbes: 0 };
  /** Registry requests answered, by method (token requests are counted by the TokenCache). */
  readonly requests = this.#counters.requests;
  /** Last rate-limit headers seen per host. */
  readonly rateLimits = new Map<string, RateLimit>();
  /** Mirror hosts configured with `skip_verify = true`. */
  readonly #skipVerify = new Set<string>();

  constructor(options: RegistryClientOptions) {
    this.#o = options;
    this.#retry = { attempts: 3, baseDelayMs: 500, maxDelayMs: 5_000, maxRetryAfterMs: 10_000, retryAfterCapMs: 900_000, ...options.retry };
    this.#deadlineMs = options.deadlineMs ?? 60_000;
    const hosts = new HostTable((host) => this.#isInsecure(host));
    // Outermost first; mirrors and a request budget (issue 12) plug in here (docs/registry-client.md).
    this.#send = compose(
      schemeSend(options.http, hosts, this.#counters),
      retryLayer({ policy: this.#retry, sleep: options.sleep ?? sleep, random: options.random ?? Math.random }),
      ...(options.mirrors === undefined ? [] : [mirrorLayer({ table: options.mirrors, hosts, skipVerify: this.#skipVerify, onAnswer: options.onMirrorAnswer, onSkip: options.onMirrorSkip })]),
      ...(options.budget === undefined ? [] : [budgetLayer<RegistryRequest, RegistryResponse>({
        budget: options.budget, parseAllowance: parseRateLimit, parseRetryAfter: (v) => parseRetryAfter(v),
        // Only a registry that challenged gets credentials (the auth layer asks the same memo).
        identity: async (req) => {
          if (hosts.state(req.repo.host).challenge === undefined) return 'anonymous';
          const c = await this.#credentials(req.repo, req.signal).catch(() => undefined);
          return c === undefined ? 'anonymous' : `${c.source}:${c.username}`;
        },
      })]),
      authLayer({ hosts, tokens: options.tokens, credentials: (repo, signal) => this.#credentials(repo, signal) }),
      rateLimitLayer(this.rateLimits),
    );
  }

  /** Failed HTTPS attempts on insecure hosts before falling back to HTTP (once per host and process). */
  get schemeProbes(): number {
    return this.#counters.schemeProbes;
  }

  /** POST/PUT/DELETE requests (publishing). */
  get writes(): number {
    return this.#counters.writes;
  }

  #isInsecure(host: string): boolean {
    const list = (this.#o.insecureRegistries ?? []).map((h) => h.toLowerCase());
    const h = host.toLowerCase();
    return isLoopbackHost(h) || list.includes(h) || list.includes(h.replace(/:\d+$/, '')) || this.#skipVerify.has(host);
  }

  #credentials(repo: Repository, signal?: AbortSignal): Promise<Credentials | undefined> {
    // A failed lookup (a helper timeout) is forgotten, so the next check asks again (issue 14, defect 1).
    return this.#creds.get(repo.credentialKey, () => this.#o.credentials.get(repo.credentialKey, signal));
  }

  /** One logical request through the layers. Returns 2xx responses (and a HEAD's 404/405/501) only. */
  async #request(repo: Repository, method: Method, path: string, accept: string | undefined, what: string, signal?: AbortSignal, extra: RequestExtra = {}): Promise<RegistryResponse> {
    const headers: Record<string, string> = { ...extra.headers };
    if (accept !== undefined) headers['accept'] = accept;
    // One deadline for the operation, not one per try (13.23): a trickling body cost `which` 3 × 60 s.
    const budgetMs = extra.deadlineMs ?? (extra.body === undefined ? this.#deadlineMs : Math.max(this.#deadlineMs, 600_000));
    const res = await this.#send({
      repo, method, path, what, headers, signal, scopes: extra.scopes ?? [`repository:${repo.path}:pull`],
      body: extra.body, receive: extra.receive, maxBytes: extra.maxBytes ?? maxManifestBytes,
      budgetMs, deadlineMs: budgetMs, noRetry: extra.noRetry === true,
    });
    if (res.status >= 200 && res.status < 300) return res;
    if (res.status === 401 || res.status === 429 || res.status >= 500) throw this.#error(res, method, what, repo);
    if (method === 'HEAD') {
      // A HEAD has no body: GET once to read the registry's reason.
      if (res.status !== 404 && res.status !== 405 && res.status !== 501) return this.#request(repo, 'GET', path, accept, what, signal);
      return res;
    }
    throw this.#error(res, method, what, repo);
  }

  #error(res: RegistryResponse, method: string, what: string, repo: Repository): RegistryHttpError {
    return registryError(res, { repo, method, what, auth: res.auth, retryAfterCapMs: this.#retry.retryAfterCapMs, rateLimit: this.rateLimits.get(repo.host) });
  }

  /**
   * What a tag (or digest) points to: HEAD with all four Accept types; GET (and hash) when the HEAD
   * lacks a digest or a known media type, or the registry does not support HEAD.
   */
  async resolveTag(repo: Repository, reference: string, signal?: AbortSignal): Promise<TagDescriptor> {
    const what = `${repo.host}/${repo.path}:${reference}`;
    const path = `/v2/${repo.path}/manifests/${reference}`;
    const accept = manifestAccept.join(', ');
    const head = await this.#request(repo, 'HEAD', path, accept, what, signal);
    const digest = head.headers['docker-content-digest'];
    const mediaType = contentTypeOf(head.headers);
    const size = Number.parseInt(head.headers['content-length'] ?? '', 10);
    if (head.status === 200 && digest !== undefined && parseDigest(digest).ok && knownManifestTypes.has(mediaType as never) && Number.isFinite(size)) {
      return { digest, mediaType, size, servedBy: head.servedBy ?? repo.host };
    }
    const res = head.status === 200 && head.body.byteLength > 0 ? head : await this.#request(repo, 'GET', path, accept, what, signal);
    const computed = digestOf(res.body);
    const header = res.headers['docker-content-digest'];
    if (header !== undefined && header !== computed) {
      this.#o.onWarning?.(`${what}: Docker-Content-Digest ${sanitizeRemoteText(header, 100)} does not match the served bytes (${computed}); using the computed digest`);
    }
    return { digest: computed, mediaType: contentTypeOf(res.headers), size: res.body.byteLength, body: res.body, servedBy: res.servedBy ?? repo.host };
  }

  /** GETs a manifest by digest and verifies it byte for byte. */
  async getManifest(repo: Repository, digest: string, signal?: AbortSignal, expectedSize?: number): Promise<FetchedManifest> {
    const what = `${repo.host}/${repo.path}@${digest}`;
    const res = await this.#request(repo, 'GET', `/v2/${repo.path}/manifests/${digest}`, manifestAccept.join(', '), what, signal);
    verifyDigest(res.body, digest, what);
    if (expectedSize !== undefined && res.body.byteLength !== expectedSize) {
      throw new ResolverError('ERR_DIGEST_MISMATCH', `${what}: the index says ${expectedSize} bytes, the registry served ${res.body.byteLength}`);
    }
    return { digest, contentType: sanitizeRemoteText(res.headers['content-type'] ?? '', 200), body: res.body, servedBy: res.servedBy ?? repo.host };
  }

  /** True when the repository has the blob. */
  async hasBlob(repo: Repository, digest: string, signal?: AbortSignal): Promise<boolean> {
    const res = await this.#request(repo, 'HEAD', `/v2/${repo.path}/blobs/${digest}`, undefined, `${repo.host}/${repo.path}@${digest}`, signal, { scopes: [pushScope(repo)] });
    return res.status === 200;
  }

  /**
   * Mounts a blob from another repository of the same registry. True when mounted; false when the
   * registry refused (it then started an upload, which is cancelled) and the blob must be copied.
   */
  async mountBlob(target: Repository, digest: string, fromPath: string, signal?: AbortSignal): Promise<boolean> {
    const path = `/v2/${target.path}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(fromPath)}`;
    let res: HttpResponse;
    try {
      res = await this.#request(target, 'POST', path, undefined, `${target.host}/${target.path} (mount ${digest})`, signal, {
        scopes: [pushScope(target), `repository:${fromPath}:pull`], body: Buffer.alloc(0),
      });
    } catch (error) {
      // A token without pull on the source (a private repository of another account) makes the registry
      // answer 401/403 to the mount; containerd then uploads instead, and so do we. A target without
      // push rights fails the upload that follows with the same clear error.
      if (error instanceof RegistryHttpError && error.code === 'ERR_REGISTRY_AUTH') return false;
      throw error;
    }
    if (res.status === 201) return true;
    const location = res.headers['location'];
    if (location !== undefined) {
      await this.#request(target, 'DELETE', uploadTarget(location, target.host), undefined, 'cancel upload', signal, {
        scopes: [pushScope(target)],
      }).catch(() => undefined);
    }
    return false;
  }

  /**
   * Uploads a blob (monolithic POST + PUT) from memory or from a stream reopened per attempt; a stream that
   * cannot be reopened (`replayable: false`) gets one attempt.
   */
  async pushBlob(target: Repository, digest: string, bytes: Buffer | StreamBody, signal?: AbortSignal): Promise<void> {
    const scopes = [pushScope(target)];
    const what = `${target.host}/${target.path}@${digest}`;
    const start = await this.#request(target, 'POST', `/v2/${target.path}/blobs/uploads/`, undefined, what, signal, { scopes, body: Buffer.alloc(0) });
    const location = start.headers['location'];
    if (location === undefined) throw new ResolverError('ERR_REGISTRY_HTTP', `${target.host} started an upload for ${target.path} without a Location`);
    await this.#request(target, 'PUT', uploadTarget(location, target.host, digest), undefined, what, signal, {
      scopes, body: bytes, headers: { 'content-type': 'application/octet-stream' },
      noRetry: !Buffer.isBuffer(bytes) && bytes.replayable === false,
      deadlineMs: Math.max(600_000, blobDeadlineMs(Buffer.isBuffer(bytes) ? bytes.byteLength : bytes.length)),
    });
  }

  /** PUTs a manifest or index under a tag or digest. */
  async putManifest(target: Repository, reference: string, mediaType: string, body: Buffer, signal?: AbortSignal): Promise<void> {
    await this.#request(target, 'PUT', `/v2/${target.path}/manifests/${reference}`, undefined, `${target.host}/${target.path}:${reference}`, signal, {
      scopes: [pushScope(target)], body, headers: { 'content-type': mediaType },
    });
  }

  /**
   * Streams a blob of a known size into `sink` and verifies its sha256 and size without keeping it in
   * memory (copies between registries). `sink.start` begins each attempt afresh; `sink.end` runs only after
   * the bytes verified, so a sink feeding an upload can refuse to finish a bad blob. `retry: false` for a
   * sink that cannot start over.
   */
  async downloadBlob(repo: Repository, blob: { readonly digest: string; readonly size: number }, sink: BlobSink, options: { signal?: AbortSignal | undefined; retry?: boolean } = {}): Promise<void> {
    const { digest, size } = blob;
    const what = `${repo.host}/${repo.path}@${digest}`;
    const parsed = parseDigest(digest);
    if (!parsed.ok || parsed.algorithm !== 'sha256') throw new ResolverError('ERR_MANIFEST_INVALID', `${what}: only sha256 blobs can be copied`);
    await this.#request(repo, 'GET', `/v2/${repo.path}/blobs/${digest}`, undefined, what, options.signal, {
      // Exactly `size` is checked below; the slack leaves room for an error body on a tiny blob.
      maxBytes: Math.max(size, 65_536),
      noRetry: options.retry === false,
      deadlineMs: blobDeadlineMs(size),
      receive: async (chunks) => {
        const hash = createHash('sha256');
        let total = 0;
        await sink.start();
        for await (const chunk of chunks) {
          hash.update(chunk);
          total += chunk.byteLength;
          await sink.write(chunk);
        }
        const got = `sha256:${hash.digest('hex')}`;
        if (total !== size || got !== digest) {
          throw new ResolverError('ERR_DIGEST_MISMATCH', `${what}: the registry served ${total} bytes hashing to ${got}; expected ${size} bytes`);
        }
        await sink.end();
      },
    });
  }

  /**
   * Streams the bytes of a blob from `offset` on (`Range: bytes=offset-`) into `sink`, one attempt (the caller
   * retries, from what it then holds). `sink.begin(from)` says where the body starts: `offset` when the
   * registry answered 206 with that range, 0 when it ignored the Range and sent the whole blob (200). The
   * bytes are not verified here: only the caller holds the blob's start (docs/prefetch.md).
   */
  async downloadBlobRange(repo: Repository, blob: { readonly digest: string; readonly size: number }, offset: number, sink: RangeSink, options: { signal?: AbortSignal | undefined } = {}): Promise<void> {
    const { digest, size } = blob;
    const what = `${repo.host}/${repo.path}@${digest}`;
    if (!isSha256Digest(digest)) throw new ResolverError('ERR_MANIFEST_INVALID', `${what}: only sha256 blobs can be fetched`);
    await this.#request(repo, 'GET', `/v2/${repo.path}/blobs/${digest}`, undefined, what, options.signal, {
      ...(offset > 0 ? { headers: { range: `bytes=${offset}-` } } : {}),
      maxBytes: Math.max(size, 65_536),
      noRetry: true,
      deadlineMs: blobDeadlineMs(size - offset),
      receive: async (chunks, response) => {
        const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response?.headers['content-range'] ?? '');
        let from = 0;
        if (response?.status === 206) {
          if (range === null || Number(range[1]) !== offset) throw new ResolverError('ERR_MANIFEST_INVALID', `${what}: the registry answered bytes=${offset}- with Content-Range "${sanitizeRemoteText(response.headers['content-range'] ?? '', 80)}"`);
          from = offset;
        }
        await sink.begin(from);
        for await (const chunk of chunks) await sink.write(chunk);
      },
    });
  }

  /** GETs a small blob (an image config) by digest and verifies it. */
  async getBlob(repo: Repository, digest: string, signal?: AbortSignal, maxBytes = maxManifestBytes): Promise<Buffer> {
    const what = `${repo.host}/${repo.path}@${digest}`;
    if (!isSha256Digest(digest) && !parseDigest(digest).ok) throw new ResolverError('ERR_MANIFEST_INVALID', `${what}: invalid digest`);
    const res = await this.#request(repo, 'GET', `/v2/${repo.path}/blobs/${digest}`, undefined, what, signal, { maxBytes });
    verifyDigest(res.body, digest, what);
    return res.body;
  }
}
