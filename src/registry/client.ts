/**
 * OCI Distribution client for resolving tags (registry-protocol.md §2–§7): HEAD the tag with all four
 * Accept types, GET by digest only when needed, sha256 over the exact bytes, a 4 MiB cap, auth on the
 * first 401 challenge (as containerd does: no separate ping round trip), OCI error bodies turned into
 * errors that name the registry and repository, bounded `Retry-After` and jittered backoff for 429/5xx
 * done here (not by undici's retry interceptor), and Docker Hub's `ratelimit-*` headers.
 */
import { ResolverError, RegistryHttpError, type ErrorCode } from '../errors.js';
import { createHash } from 'node:crypto';
import { sleep } from '../http/abort.js';
import { isLoopbackIp } from '../http/ip.js';
import { sanitizeRemoteText } from '../http/remote-text.js';
import type { HttpClient, HttpResponse, StreamBody } from '../http/http.js';
import { digestOf, verifyDigest } from '../manifest/classify.js';
import { manifestAccept } from '../manifest/media-types.js';
import { isSha256Digest, parseDigest } from '../reference/digest.js';
import type { Repository } from '../reference/repository.js';
import type { Clock, TokenCache, TokenRequest } from './auth.js';
import type { CredentialStore, Credentials } from './credentials.js';
import { PromiseMemo } from './memo.js';
import { parseWwwAuthenticate, preferredChallenge } from './www-authenticate.js';

export type { Repository } from '../reference/repository.js';

type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';

interface RequestExtra {
  readonly body?: Buffer | StreamBody | undefined;
  readonly receive?: ((chunks: AsyncIterable<Buffer>) => Promise<void>) | undefined;
  /** One attempt only (a one-shot stream body, or a download feeding one). */
  readonly noRetry?: boolean;
  /** Overall deadline of the whole operation, every try and backoff included; default 60 s, 600 s with a body. */
  readonly deadlineMs?: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly scopes?: readonly string[];
  readonly maxBytes?: number;
}

/** Where `downloadBlob` writes. */
export interface BlobSink {
  start(): Promise<void>;
  write(chunk: Buffer): Promise<void>;
  /** The bytes are complete and verified. */
  end(): Promise<void>;
}

/**
 * Where to send the next request of an upload, from the Location a registry returned: a path on the registry
 * (relative, or absolute on the same host: the scheme already chosen for the host applies), or the absolute URL
 * when it is on another host. `digest` is added for the closing PUT.
 */
export function uploadTarget(location: string, host: string, digest?: string): string {
  const absolute = /^https?:\/\//i.test(location);
  const url = new URL(location, `http://${host}`);
  if (digest !== undefined) url.searchParams.set('digest', digest);
  return absolute && url.host !== host ? url.toString() : `${url.pathname}${url.search}`;
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

/** A manifest as served, verified against its digest. */
export interface FetchedManifest {
  readonly digest: string;
  readonly contentType: string;
  readonly body: Buffer;
}

/** What a HEAD (or the GET fallback) says about a tag. */
export interface TagDescriptor {
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
  /** Present when the tag had to be fetched with GET (the body is already verified by hashing). */
  readonly body?: Buffer;
}

/** Docker Hub rate-limit headers, as last seen. */
export interface RateLimit {
  readonly limit: number | undefined;
  readonly remaining: number | undefined;
  readonly window: string | undefined;
}

/** Retry policy for 429 and 5xx/transport failures. */
export interface RetryPolicy {
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Longest Retry-After this process will wait; a longer one fails with ERR_RATE_LIMITED. */
  readonly maxRetryAfterMs: number;
  /**
   * Cap on the Retry-After an error reports (and the daemon then waits): one `Retry-After: 86400` must not
   * stop checks for a day (issue 13.15; reliability.md §6 case 14).
   * @default 900_000 (15 min)
   */
  readonly retryAfterCapMs: number;
}

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
}

interface HostState {
  scheme: 'https' | 'http' | undefined;
  challenge: { kind: 'bearer'; realm: string; service: string | undefined } | { kind: 'basic' } | undefined;
}

const knownManifestTypes = new Set(manifestAccept);

/** Parses `Retry-After` (delta-seconds or HTTP-date) into seconds ≥ 0, or undefined. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number.parseInt(v, 10);
  if (!/[a-z]/i.test(v)) return undefined;
  const date = Date.parse(v);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

/** Parses `ratelimit-limit: 100;w=21600`-style headers. */
export function parseRateLimit(headers: Readonly<Record<string, string>>): RateLimit | undefined {
  const limit = headers['ratelimit-limit'];
  const remaining = headers['ratelimit-remaining'];
  if (limit === undefined && remaining === undefined) return undefined;
  const num = (s: string | undefined): number | undefined => {
    const n = Number.parseInt((s ?? '').split(';')[0] ?? '', 10);
    return Number.isFinite(n) ? n : undefined;
  };
  return { limit: num(limit), remaining: num(remaining), window: /w=(\d+)/.exec(limit ?? remaining ?? '')?.[1] };
}

/**
 * True for hosts Docker treats as insecure by default (127.0.0.0/8, ::1, localhost). Host names are
 * case-insensitive (`LOCALHOST:5000`, 13.21); IPv4-mapped loopback counts, as for dockerd's CIDR check.
 */
export function isLoopbackHost(host: string): boolean {
  const hostname = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase();
  return hostname === 'localhost' || isLoopbackIp(hostname);
}

/** A host other than the registry asked for its own login; nothing of the registry's is sent there. */
function foreignLogin(repo: Repository, url: URL, method: string, what: string): RegistryHttpError {
  return new RegistryHttpError('ERR_REGISTRY_AUTH', `${url.host} asked for credentials (HTTP 401) to ${method} ${what}, but it is not ${repo.host}; the credentials for ${repo.host} are not sent to another host`, {
    status: 401, method, url: `${url.origin}${url.pathname}`,
  }, { details: [`${repo.host} redirected the request, or handed the upload, to ${url.host}, which wants a login of its own; ask the registry's operator to let ${url.host} accept the registry's tokens or signed URLs`] });
}

/** A response's media type without parameters, safe to print. */
function contentTypeOf(res: HttpResponse): string {
  return sanitizeRemoteText((res.headers['content-type'] ?? '').split(';')[0] ?? '', 200);
}

interface OciError {
  code: string;
  message: string;
}

function ociErrors(body: Buffer): OciError[] {
  try {
    const json: unknown = JSON.parse(body.toString('utf8'));
    if (typeof json !== 'object' || json === null) return [];
    const list = (json as { errors?: unknown }).errors;
    if (!Array.isArray(list)) return [];
    return list.flatMap((e: unknown) => {
      if (typeof e !== 'object' || e === null) return [];
      const code = (e as { code?: unknown }).code;
      const message = (e as { message?: unknown }).message;
      // Registry text is sanitised where it enters: it reaches terminals and logs (13.18).
      return typeof code === 'string' ? [{ code: sanitizeRemoteText(code, 64), message: typeof message === 'string' ? sanitizeRemoteText(message) : '' }] : [];
    });
  } catch {
    return [];
  }
}

/** Resolves tags and fetches manifests from OCI registries. */
export class RegistryClient {
  readonly #o: RegistryClientOptions;
  readonly #retry: RetryPolicy;
  readonly #hosts = new Map<string, HostState>();
  readonly #creds = new PromiseMemo<string, Credentials | undefined>();
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #deadlineMs: number;
  /** Registry requests answered, by method (token requests are counted by the TokenCache). */
  readonly requests = { HEAD: 0, GET: 0 };
  /** Failed HTTPS attempts on insecure hosts before falling back to HTTP (once per host and process). */
  schemeProbes = 0;
  /** POST/PUT/DELETE requests (publishing). */
  writes = 0;
  /** Last rate-limit headers seen per host. */
  readonly rateLimits = new Map<string, RateLimit>();

  constructor(options: RegistryClientOptions) {
    this.#o = options;
    this.#retry = { attempts: 3, baseDelayMs: 500, maxDelayMs: 5_000, maxRetryAfterMs: 10_000, retryAfterCapMs: 900_000, ...options.retry };
    this.#sleep = options.sleep ?? sleep;
    this.#deadlineMs = options.deadlineMs ?? 60_000;
  }

  #isInsecure(host: string): boolean {
    const list = (this.#o.insecureRegistries ?? []).map((h) => h.toLowerCase());
    const h = host.toLowerCase();
    return isLoopbackHost(h) || list.includes(h) || list.includes(h.replace(/:\d+$/, ''));
  }

  #state(host: string): HostState {
    let s = this.#hosts.get(host);
    if (s === undefined) {
      s = { scheme: this.#isInsecure(host) ? undefined : 'https', challenge: undefined };
      this.#hosts.set(host, s);
    }
    return s;
  }

  #credentials(repo: Repository, signal?: AbortSignal): Promise<Credentials | undefined> {
    // A failed lookup (a helper timeout) is forgotten, so the next check asks again (issue 14, defect 1).
    return this.#creds.get(repo.credentialKey, () => this.#o.credentials.get(repo.credentialKey, signal));
  }

  /** Sends one request on the host's scheme; learns the scheme of insecure hosts (HTTPS, then HTTP, as dockerd). */
  async #raw(repo: Repository, method: Method, path: string, headers: Record<string, string>, signal?: AbortSignal, extra: RequestExtra = {}): Promise<HttpResponse> {
    const state = this.#state(repo.host);
    const attempt = async (scheme: 'https' | 'http'): Promise<HttpResponse> => {
      const url = path.startsWith('http://') || path.startsWith('https://') ? new URL(path) : new URL(`${scheme}://${repo.host}${path}`);
      const res = await this.#o.http.send({
        method, url, headers, signal, ...(extra.body === undefined ? {} : { body: extra.body }), ...(extra.receive === undefined ? {} : { receive: extra.receive }),
        deadlineMs: extra.deadlineMs ?? this.#deadlineMs, maxBytes: extra.maxBytes ?? maxManifestBytes, insecureTls: this.#isInsecure(repo.host),
        ...(method === 'POST' || method === 'PUT' ? { followRedirects: false } : {}),
      });
      if (method === 'GET' || method === 'HEAD') this.requests[method]++;
      else this.writes++;
      return res;
    };
    if (state.scheme !== undefined) return attempt(state.scheme);
    try {
      const res = await attempt('https');
      state.scheme = 'https';
      return res;
    } catch (error) {
      if (error instanceof ResolverError && error.code === 'ERR_ABORTED') throw error;
      this.schemeProbes++;
      const res = await attempt('http');
      state.scheme = 'http';
      return res;
    }
  }

  /** The origin the registry is reached at (its scheme is known once a request was sent). */
  #origin(repo: Repository): string {
    return new URL(`${this.#state(repo.host).scheme ?? 'https'}://${repo.host}`).origin;
  }

  async #authorization(repo: Repository, scopes: readonly string[], signal?: AbortSignal): Promise<string | undefined> {
    const ch = this.#state(repo.host).challenge;
    if (ch === undefined) return undefined;
    const creds = await this.#credentials(repo, signal);
    if (ch.kind === 'basic') {
      if (creds?.password === undefined) {
        throw new ResolverError('ERR_REGISTRY_AUTH', `${repo.host} requires a username and password (Basic auth), and none is configured`, {
          details: [`run docker login ${repo.host}, or add it to $DOCKER_CONFIG/config.json`],
        });
      }
      return `Basic ${Buffer.from(`${creds.username}:${creds.password.reveal()}`).toString('base64')}`;
    }
    const token = await this.#o.tokens.get(this.#tokenRequest(repo, ch, scopes, creds, signal));
    return `Bearer ${token}`;
  }

  #tokenRequest(repo: Repository, ch: { realm: string; service: string | undefined }, scopes: readonly string[], creds: Credentials | undefined, signal?: AbortSignal): TokenRequest {
    return {
      realm: ch.realm, service: ch.service, scopes, credentials: creds,
      registryHostname: repo.host.replace(/:\d+$/, '').replace(/^\[|\]$/g, ''),
      allowHttp: this.#isInsecure(repo.host), signal,
    };
  }

  /** One logical request with auth, retries and error mapping. Returns 2xx responses only. */
  async #request(repo: Repository, method: Method, path: string, accept: string | undefined, what: string, signal?: AbortSignal, extra: RequestExtra = {}): Promise<HttpResponse> {
    let scopes = extra.scopes ?? [`repository:${repo.path}:pull`];
    let authRetried = false;
    let challengesSeen = 0;
    let attempt = 0;
    const attempts = extra.noRetry === true ? 1 : this.#retry.attempts;
    // One deadline for the operation, not one per try (13.23): a trickling body cost `which` 3 × 60 s.
    const budgetMs = extra.deadlineMs ?? (extra.body === undefined ? this.#deadlineMs : Math.max(this.#deadlineMs, 600_000));
    const started = this.#o.clock();
    const remaining = (): number => budgetMs - (this.#o.clock() - started);
    let tries = 0;
    // An upload URL on another host (some registries hand uploads to a storage service) gets no credentials.
    const foreign = /^https?:\/\//.test(path) && new URL(path).host !== repo.host;
    for (;;) {
      const authorization = foreign ? undefined : await this.#authorization(repo, scopes, signal);
      const headers: Record<string, string> = { ...extra.headers };
      if (accept !== undefined) headers['accept'] = accept;
      if (authorization !== undefined) headers['authorization'] = authorization;
      let res: HttpResponse;
      try {
        // The first try starts with the whole budget; later ones get what is left of it.
        res = await this.#raw(repo, method, path, headers, signal, { ...extra, deadlineMs: tries++ === 0 ? budgetMs : Math.max(1, Math.floor(remaining())) });
      } catch (error) {
        if (error instanceof ResolverError && error.code === 'ERR_NETWORK' && ++attempt < attempts && remaining() > 0) {
          await this.#backoff(attempt, undefined, signal);
          continue;
        }
        throw error;
      }
      const rl = parseRateLimit(res.headers);
      if (rl !== undefined) this.rateLimits.set(repo.host, rl);
      if (res.status >= 200 && res.status < 300) return res;
      if (res.status === 401) {
        // A challenge is bound to the origin that sent it (issue 13.2): a 401 from another host (after a
        // redirect, or from an upload Location) is never taken as the registry's, so the registry's
        // credentials go only to the registry and to the realm its own challenge names.
        if (res.url.origin !== this.#origin(repo)) throw foreignLogin(repo, res.url, method, what);
        const challenges = parseWwwAuthenticate(res.headers['www-authenticate'] ?? '');
        const ch = preferredChallenge(challenges);
        const state = this.#state(repo.host);
        // At most two challenges per request (the first, and one refresh): every loop has a bound (13.3).
        if (ch !== undefined && (authorization === undefined || !authRetried) && ++challengesSeen <= 2) {
          if (authorization !== undefined) authRetried = true;
          if (ch.scheme === 'basic') {
            if (state.challenge?.kind === 'basic' && authorization !== undefined) throw this.#error(repo, res, method, what, 'bad-credentials');
            state.challenge = { kind: 'basic' };
          } else {
            const realm = ch.params['realm'];
            if (realm === undefined) throw new ResolverError('ERR_REGISTRY_AUTH', `${repo.host} sent a Bearer challenge without a realm`);
            state.challenge = { kind: 'bearer', realm, service: ch.params['service'] };
            const extra = (ch.params['scope'] ?? '').split(' ').filter((s) => s !== '');
            scopes = [...new Set([...scopes, ...extra])];
            if (ch.params['error'] === 'invalid_token' || ch.params['error'] === undefined) {
              const creds = await this.#credentials(repo, signal);
              this.#o.tokens.invalidate(this.#tokenRequest(repo, state.challenge, scopes, creds, signal));
            }
          }
          continue;
        }
        throw this.#error(repo, res, method, what, authorization === undefined ? 'no-credentials' : 'denied');
      }
      if (res.status === 429 || res.status >= 500) {
        const retryAfter = parseRetryAfter(res.headers['retry-after']);
        if (++attempt < attempts && (retryAfter === undefined || retryAfter * 1000 <= this.#retry.maxRetryAfterMs) && remaining() > (retryAfter ?? 0) * 1000) {
          await this.#backoff(attempt, retryAfter, signal);
          continue;
        }
        throw this.#error(repo, res, method, what, undefined);
      }
      if (method === 'HEAD' && res.status !== 404 && res.status !== 405 && res.status !== 501) {
        // A HEAD has no body: GET once to read the registry's reason.
        return this.#request(repo, 'GET', path, accept, what, signal);
      }
      if (method === 'HEAD') return res;
      throw this.#error(repo, res, method, what, undefined);
    }
  }

  async #backoff(attempt: number, retryAfterSeconds: number | undefined, signal?: AbortSignal): Promise<void> {
    const random = this.#o.random ?? Math.random;
    const ms = retryAfterSeconds !== undefined
      ? retryAfterSeconds * 1000
      : random() * Math.min(this.#retry.maxDelayMs, this.#retry.baseDelayMs * 2 ** (attempt - 1));
    await this.#sleep(ms, signal);
  }

  #error(repo: Repository, res: HttpResponse, method: string, what: string, auth: 'no-credentials' | 'denied' | 'bad-credentials' | undefined): RegistryHttpError {
    const name = `${repo.host}/${repo.path}`;
    const errors = ociErrors(res.body);
    const challengeError = preferredChallenge(parseWwwAuthenticate(res.headers['www-authenticate'] ?? ''))?.params['error'];
    const code = challengeError === 'insufficient_scope' ? 'DENIED' : challengeError === 'invalid_token' ? 'UNAUTHORIZED' : errors[0]?.code;
    const asked = parseRetryAfter(res.headers['retry-after']);
    const capSeconds = Math.floor(this.#retry.retryAfterCapMs / 1000);
    const fields = { status: res.status, method, url: `${res.url.origin}${res.url.pathname}`, retryAfterSeconds: asked === undefined ? undefined : Math.min(asked, capSeconds) };
    const fromServer = errors[0]?.message ? ` (${errors[0].code.toLowerCase()}: ${errors[0].message})` : '';
    const make = (c: ErrorCode, message: string, details: string[] = []): RegistryHttpError => new RegistryHttpError(c, message, fields, { details });
    if (res.status === 401 || res.status === 403 || code === 'DENIED' || code === 'UNAUTHORIZED') {
      if (auth === 'bad-credentials') return make('ERR_REGISTRY_AUTH', `${repo.host} rejected the username and password for ${name}`, ['check the credentials in $DOCKER_CONFIG/config.json (docker login)']);
      if (method === 'POST' || method === 'PUT' || method === 'DELETE') {
        if (auth === 'no-credentials') {
          return make('ERR_REGISTRY_AUTH', `push to ${name} needs credentials, and none are configured for ${repo.host}${fromServer}`, [`run docker login ${repo.host}, or add it to $DOCKER_CONFIG/config.json`]);
        }
        return make('ERR_REGISTRY_AUTH', `push access to ${name} denied${fromServer}`, [`the credentials for ${repo.host} lack push rights to ${repo.path}; log in as a user who may push there`]);
      }
      if (auth === 'no-credentials' || res.status === 401) {
        return make('ERR_REGISTRY_AUTH', `pull access denied for ${name}, repository does not exist or may require 'docker login'${fromServer}`, [
          'check the name (Docker Hub official images live under library/), then the credentials',
        ]);
      }
      return make('ERR_REGISTRY_AUTH', `access to ${name} denied (HTTP ${res.status})${fromServer}`, ['the credentials are valid but lack pull access']);
    }
    if (res.status === 404) {
      if (code === 'NAME_UNKNOWN') return make('ERR_NOT_FOUND', `repository ${name} not found${fromServer}`);
      return make('ERR_NOT_FOUND', `manifest for ${what} not found${fromServer || ': manifest unknown'}`, ['check the tag or digest']);
    }
    if (res.status === 429 || code === 'TOOMANYREQUESTS') {
      const rl = this.rateLimits.get(repo.host);
      const wait = fields.retryAfterSeconds === undefined ? '' : `; retry after ${fields.retryAfterSeconds} s${asked !== undefined && asked > capSeconds ? ` (it asked for ${asked} s; capped)` : ''}`;
      const quota = rl?.remaining === undefined ? '' : ` (rate limit ${rl.remaining}/${rl.limit ?? '?'} remaining)`;
      return make('ERR_RATE_LIMITED', `${repo.host} is rate limiting requests for ${name}${wait}${quota}`, ['wait, or log in to get a higher limit']);
    }
    return make('ERR_REGISTRY_HTTP', `${repo.host} answered HTTP ${res.status} to ${method} ${what}${fromServer}`);
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
    const mediaType = contentTypeOf(head);
    const size = Number.parseInt(head.headers['content-length'] ?? '', 10);
    if (head.status === 200 && digest !== undefined && parseDigest(digest).ok && knownManifestTypes.has(mediaType as never) && Number.isFinite(size)) {
      return { digest, mediaType, size };
    }
    const res = head.status === 200 && head.body.byteLength > 0 ? head : await this.#request(repo, 'GET', path, accept, what, signal);
    const computed = digestOf(res.body);
    const header = res.headers['docker-content-digest'];
    if (header !== undefined && header !== computed) {
      this.#o.onWarning?.(`${what}: Docker-Content-Digest ${sanitizeRemoteText(header, 100)} does not match the served bytes (${computed}); using the computed digest`);
    }
    return { digest: computed, mediaType: contentTypeOf(res), size: res.body.byteLength, body: res.body };
  }

  /** GETs a manifest by digest and verifies it byte for byte. */
  async getManifest(repo: Repository, digest: string, signal?: AbortSignal, expectedSize?: number): Promise<FetchedManifest> {
    const what = `${repo.host}/${repo.path}@${digest}`;
    const res = await this.#request(repo, 'GET', `/v2/${repo.path}/manifests/${digest}`, manifestAccept.join(', '), what, signal);
    verifyDigest(res.body, digest, what);
    if (expectedSize !== undefined && res.body.byteLength !== expectedSize) {
      throw new ResolverError('ERR_DIGEST_MISMATCH', `${what}: the index says ${expectedSize} bytes, the registry served ${res.body.byteLength}`);
    }
    return { digest, contentType: sanitizeRemoteText(res.headers['content-type'] ?? '', 200), body: res.body };
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

  /** GETs a small blob (an image config) by digest and verifies it. */
  async getBlob(repo: Repository, digest: string, signal?: AbortSignal, maxBytes = maxManifestBytes): Promise<Buffer> {
    const what = `${repo.host}/${repo.path}@${digest}`;
    if (!isSha256Digest(digest) && !parseDigest(digest).ok) throw new ResolverError('ERR_MANIFEST_INVALID', `${what}: invalid digest`);
    const res = await this.#request(repo, 'GET', `/v2/${repo.path}/blobs/${digest}`, undefined, what, signal, { maxBytes });
    verifyDigest(res.body, digest, what);
    return res.body;
  }
}
