/**
 * The registry client's request path as composable layers, in the manner of undici's interceptors
 * (docs/registry-client.md). Each layer takes the next `Send` and returns a `Send`; `RegistryClient`
 * composes them once:
 *
 *     retry (backoff, one deadline per operation) → auth (bound to the origin that challenged)
 *       → rate-limit bookkeeping → scheme (HTTPS, then HTTP for insecure hosts) → HttpClient
 *
 * Every layer has a bound: at most `attempts` tries, at most two challenges per try, one scheme probe.
 */
import { ResolverError } from '../errors.js';
import { connectFailure, type HttpClient, type HttpResponse, type ReceivedResponse, type RequestTls, type StreamBody } from '../http/http.js';
import type { Repository } from '../reference/repository.js';
import type { Clock, TokenCache, TokenRequest } from './auth.js';
import type { Credentials } from './credentials.js';
import { foreignLogin, type AuthState } from './errors.js';
import { parseRateLimit, parseRetryAfter, type RateLimit } from './headers.js';
import { parseWwwAuthenticate, preferredChallenge } from './www-authenticate.js';

/** HTTP methods the registry API uses. */
export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';

/** One logical registry request as it passes through the layers. */
export interface RegistryRequest {
  readonly repo: Repository;
  readonly method: Method;
  /** A path on the registry, or an absolute URL on another host (an upload Location). */
  readonly path: string;
  /** The target as the user named it, for messages. */
  readonly what: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly signal: AbortSignal | undefined;
  readonly scopes: readonly string[];
  readonly body?: Buffer | StreamBody | undefined;
  readonly receive?: ((chunks: AsyncIterable<Buffer>, response?: ReceivedResponse) => Promise<void>) | undefined;
  readonly maxBytes: number;
  /** The whole operation's deadline, every try and backoff included. */
  readonly budgetMs: number;
  /** This try's deadline (the retry layer sets it from what is left of the budget). */
  readonly deadlineMs: number;
  /** One try only (a one-shot stream body). */
  readonly noRetry: boolean;
}

/** A response, with how auth stood when it came (set by the auth layer on a final 401). */
export interface RegistryResponse extends HttpResponse {
  readonly auth?: AuthState;
  /** The host that answered, when the mirror layer chose it (docs/mirrors.md). */
  readonly servedBy?: string;
}

/** Sends a request through the rest of the chain. */
export type Send = (req: RegistryRequest) => Promise<RegistryResponse>;
/** Wraps the next `Send`. */
export type Layer = (next: Send) => Send;

/** Composes layers around `send`, the first layer outermost. */
export function compose(send: Send, ...layers: readonly Layer[]): Send {
  return layers.reduceRight<Send>((next, layer) => layer(next), send);
}

type Challenge = { kind: 'bearer'; realm: string; service: string | undefined } | { kind: 'basic' };

interface HostState {
  scheme: 'https' | 'http' | undefined;
  challenge: Challenge | undefined;
  /** The host's CA and client certificate from a hosts file (docs/mirrors.md). */
  tls?: RequestTls | undefined;
  /** Verify TLS even where the host is otherwise insecure (loopback): a hosts file gave it a `ca`. */
  verify?: boolean;
  /** Extra headers from a hosts file, sent on every request to the host; values may be secrets, never logged. */
  headers?: Readonly<Record<string, string>> | undefined;
}

/** What is known per registry host: its scheme, and the challenge it (and only it) sent. */
export class HostTable {
  readonly #hosts = new Map<string, HostState>();
  readonly #isInsecure: (host: string) => boolean;

  constructor(isInsecure: (host: string) => boolean) {
    this.#isInsecure = isInsecure;
  }

  isInsecure(host: string): boolean {
    return this.#isInsecure(host);
  }

  state(host: string): HostState {
    let s = this.#hosts.get(host);
    if (s === undefined) {
      s = { scheme: this.#isInsecure(host) ? undefined : 'https', challenge: undefined };
      this.#hosts.set(host, s);
    }
    return s;
  }

  /** The origin the registry is reached at (its scheme is known once a request was sent). */
  origin(host: string): string {
    return new URL(`${this.state(host).scheme ?? 'https'}://${host}`).origin;
  }
}

/** Counters the client exposes (tests, benchmarks, the daemon's metrics). */
export interface RequestCounters {
  readonly requests: { HEAD: number; GET: number };
  writes: number;
  schemeProbes: number;
}

/**
 * The innermost step: one request on the host's scheme. Insecure hosts are tried over HTTPS, then HTTP,
 * once per host and process, as dockerd does.
 */
export function schemeSend(http: HttpClient, hosts: HostTable, counters: RequestCounters): Send {
  return async (req) => {
    const state = hosts.state(req.repo.host);
    const attempt = async (scheme: 'https' | 'http'): Promise<HttpResponse> => {
      const url = /^https?:\/\//.test(req.path) ? new URL(req.path) : new URL(`${scheme}://${req.repo.host}${req.path}`);
      // The host's own headers and TLS material go to that host only, never to an upload URL elsewhere.
      const own = url.host === req.repo.host;
      const res = await http.send({
        method: req.method, url, headers: state.headers === undefined || !own ? req.headers : { ...state.headers, ...req.headers }, signal: req.signal,
        ...(req.body === undefined ? {} : { body: req.body }), ...(req.receive === undefined ? {} : { receive: req.receive }),
        deadlineMs: req.deadlineMs, maxBytes: req.maxBytes, insecureTls: state.verify !== true && hosts.isInsecure(req.repo.host),
        ...(state.tls === undefined || !own ? {} : { tls: state.tls }),
        ...(req.method === 'POST' || req.method === 'PUT' ? { followRedirects: false } : {}),
      });
      if (req.method === 'GET' || req.method === 'HEAD') counters.requests[req.method]++;
      else counters.writes++;
      return res;
    };
    if (state.scheme !== undefined) return attempt(state.scheme);
    try {
      const res = await attempt('https');
      state.scheme = 'https';
      return res;
    } catch (error) {
      if (error instanceof ResolverError && error.code === 'ERR_ABORTED') throw error;
      // HTTP goes to the same host and port: where no TCP connection could be made (a dropped SYN, a
      // refusal), it cannot do better, and a blackhole would cost a second connect timeout (§6 case 2).
      if (connectFailure(error) !== undefined) throw error;
      counters.schemeProbes++;
      const res = await attempt('http');
      state.scheme = 'http';
      return res;
    }
  };
}

/** Records the last `ratelimit-*` headers seen per host (Docker Hub). */
export function rateLimitLayer(rateLimits: Map<string, RateLimit>): Layer {
  return (next) => async (req) => {
    const res = await next(req);
    const rl = parseRateLimit(res.headers);
    if (rl !== undefined) rateLimits.set(req.repo.host, rl);
    return res;
  };
}

/** What the auth layer needs. */
export interface AuthLayerOptions {
  readonly hosts: HostTable;
  readonly tokens: TokenCache;
  readonly credentials: (repo: Repository, signal?: AbortSignal) => Promise<Credentials | undefined>;
}

function tokenRequest(hosts: HostTable, repo: Repository, ch: { realm: string; service: string | undefined }, scopes: readonly string[], creds: Credentials | undefined, signal?: AbortSignal): TokenRequest {
  return {
    realm: ch.realm, service: ch.service, scopes, credentials: creds,
    registryHostname: repo.host.replace(/:\d+$/, '').replace(/^\[|\]$/g, ''),
    allowHttp: hosts.isInsecure(repo.host), signal,
  };
}

/**
 * Auth on the first 401 (no separate ping, as containerd): Basic, or a Bearer token from the realm the
 * registry's own challenge named. A challenge is bound to the origin that sent it (13.2): a 401 from another
 * host fails naming it. At most two challenges per try (the first and one refresh; 13.3).
 */
export function authLayer(o: AuthLayerOptions): Layer {
  const authorization = async (repo: Repository, scopes: readonly string[], signal?: AbortSignal): Promise<string | undefined> => {
    const ch = o.hosts.state(repo.host).challenge;
    if (ch === undefined) return undefined;
    const creds = await o.credentials(repo, signal);
    if (ch.kind === 'basic') {
      if (creds?.password === undefined) {
        throw new ResolverError('ERR_REGISTRY_AUTH', `${repo.host} requires a username and password (Basic auth), and none is configured`, {
          details: [`run docker login ${repo.host}, or add it to $DOCKER_CONFIG/config.json`],
        });
      }
      return `Basic ${Buffer.from(`${creds.username}:${creds.password.reveal()}`).toString('base64')}`;
    }
    return `Bearer ${await o.tokens.get(tokenRequest(o.hosts, repo, ch, scopes, creds, signal))}`;
  };

  return (next) => async (req) => {
    const { repo } = req;
    let scopes = req.scopes;
    let refreshed = false;
    let challenges = 0;
    // An upload URL on another host (some registries hand uploads to a storage service) gets no credentials.
    const foreign = /^https?:\/\//.test(req.path) && new URL(req.path).host !== repo.host;
    for (;;) {
      const auth = foreign ? undefined : await authorization(repo, scopes, req.signal);
      const res = await next({ ...req, scopes, headers: auth === undefined ? req.headers : { ...req.headers, authorization: auth } });
      if (res.status !== 401) return res;
      if (res.url.origin !== o.hosts.origin(repo.host)) throw foreignLogin(repo, res.url, req.method, req.what);
      const ch = preferredChallenge(parseWwwAuthenticate(res.headers['www-authenticate'] ?? ''));
      const state = o.hosts.state(repo.host);
      if (ch === undefined || (auth !== undefined && refreshed) || ++challenges > 2) {
        return { ...res, auth: auth === undefined ? 'no-credentials' : 'denied' };
      }
      if (auth !== undefined) refreshed = true;
      if (ch.scheme === 'basic') {
        if (state.challenge?.kind === 'basic' && auth !== undefined) return { ...res, auth: 'bad-credentials' };
        state.challenge = { kind: 'basic' };
        continue;
      }
      const realm = ch.params['realm'];
      if (realm === undefined) throw new ResolverError('ERR_REGISTRY_AUTH', `${repo.host} sent a Bearer challenge without a realm`);
      state.challenge = { kind: 'bearer', realm, service: ch.params['service'] };
      scopes = [...new Set([...scopes, ...(ch.params['scope'] ?? '').split(' ').filter((s) => s !== '')])];
      if (ch.params['error'] === 'invalid_token' || ch.params['error'] === undefined) {
        o.tokens.invalidate(tokenRequest(o.hosts, repo, state.challenge, scopes, await o.credentials(repo, req.signal), req.signal));
      }
    }
  };
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

/** What the retry layer needs. */
export interface RetryLayerOptions {
  readonly policy: RetryPolicy;
  /** Monotonic milliseconds for the deadline; default `process.hrtime` (no perf_hooks at start-up). */
  readonly clock?: Clock;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly random: () => number;
}

/**
 * Retries transport failures, 429 and 5xx with full-jitter exponential backoff (or the Retry-After, when
 * short enough), within one deadline for the whole operation (13.23): the first try gets the whole budget,
 * later ones what is left, and a retry that cannot fit is not started.
 */
export function retryLayer(o: RetryLayerOptions): Layer {
  const backoff = (attempt: number, retryAfterSeconds: number | undefined, signal: AbortSignal | undefined): Promise<void> => o.sleep(
    retryAfterSeconds !== undefined ? retryAfterSeconds * 1000 : o.random() * Math.min(o.policy.maxDelayMs, o.policy.baseDelayMs * 2 ** (attempt - 1)),
    signal,
  );
  const clock = o.clock ?? ((): number => Number(process.hrtime.bigint() / 1_000_000n));
  return (next) => async (req) => {
    const attempts = req.noRetry ? 1 : o.policy.attempts;
    const started = clock();
    const remaining = (): number => req.budgetMs - (clock() - started);
    for (let attempt = 1; ; attempt++) {
      let res: RegistryResponse;
      try {
        res = await next({ ...req, deadlineMs: attempt === 1 ? req.budgetMs : Math.max(1, Math.floor(remaining())) });
      } catch (error) {
        // A connect timeout is not retried: the host had the whole connect timeout (5 s) to answer a SYN, and
        // each retry would cost as much again (§6 case 2: 34 s for `which`); the next check tries again.
        if (error instanceof ResolverError && error.code === 'ERR_NETWORK' && connectFailure(error) !== 'timeout' && attempt < attempts && remaining() > 0) {
          await backoff(attempt, undefined, req.signal);
          continue;
        }
        throw error;
      }
      if (res.status === 429 || res.status >= 500) {
        const retryAfter = parseRetryAfter(res.headers['retry-after']);
        if (attempt < attempts && (retryAfter === undefined || retryAfter * 1000 <= o.policy.maxRetryAfterMs) && remaining() > (retryAfter ?? 0) * 1000) {
          await backoff(attempt, retryAfter, req.signal);
          continue;
        }
      }
      return res;
    }
  };
}
