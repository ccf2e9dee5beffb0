/**
 * Token exchange for Bearer challenges (distribution's token.md and oauth.md; registry-protocol.md §3):
 * GET with Basic credentials (or anonymous), POST `grant_type=refresh_token` for identity tokens with
 * a GET fallback, a cache per (realm, service, scopes, identity) that honours `expires_in` on the
 * monotonic clock, and shared in-flight fetches. Realms are checked against SSRF (§4.5).
 */
import { z } from 'zod';
import { ResolverError, redactUrl } from '../errors.js';
import type { HttpClient } from '../http/http.js';
import { isPrivateIpLiteral, normalizeIp } from '../http/ip.js';
import { parseJson } from '../json/parse-json.js';
import type { Credentials } from './credentials.js';
import type { Secret } from '../secret/secret.js';

const TokenResponse = z.object({
  token: z.string().optional(),
  access_token: z.string().optional(),
  expires_in: z.number().optional(),
  issued_at: z.string().optional(),
  refresh_token: z.string().optional(),
});

/** A usable token and when it stops being usable (monotonic ms). */
export interface CachedToken {
  readonly token: string;
  readonly expiresAt: number;
}

/** Monotonic milliseconds; `performance.now()` in production. */
export type Clock = () => number;

/** Inputs of one token request. */
export interface TokenRequest {
  readonly realm: string;
  readonly service: string | undefined;
  readonly scopes: readonly string[];
  readonly credentials: Credentials | undefined;
  /** Registry hostname: a realm on a private IP literal is accepted only on the same host. */
  readonly registryHostname: string;
  /** Plain HTTP allowed for the realm (loopback or insecure registries). */
  readonly allowHttp: boolean;
  readonly signal?: AbortSignal | undefined;
}

const marginMs = 10_000;

function basic(username: string, password: Secret): string {
  return `Basic ${Buffer.from(`${username}:${password.reveal()}`).toString('base64')}`;
}

/** Checks a realm URL before any credential is sent to it. */
export function checkRealm(realm: string, registryHostname: string, allowHttp: boolean): URL {
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new ResolverError('ERR_REGISTRY_AUTH', `the registry ${registryHostname} named an invalid token realm`);
  }
  if (url.username !== '' || url.password !== '') throw new ResolverError('ERR_REGISTRY_AUTH', `token realm ${redactUrl(url)} carries credentials in its URL; refused`);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && allowHttp)) {
    throw new ResolverError('ERR_REGISTRY_AUTH', `token realm ${redactUrl(url)} is not https; refused`, { details: ['plain HTTP realms are accepted only for loopback or --insecure-registry hosts'] });
  }
  if (isPrivateIpLiteral(url.hostname) && (normalizeIp(url.hostname) ?? url.hostname) !== (normalizeIp(registryHostname) ?? registryHostname.toLowerCase())) {
    throw new ResolverError('ERR_REGISTRY_AUTH', `token realm ${redactUrl(url)} is a private address different from the registry's; refused`);
  }
  return url;
}

/** Fetches and caches registry tokens. */
export class TokenCache {
  readonly #http: HttpClient;
  readonly #clock: Clock;
  readonly #tokens = new Map<string, CachedToken>();
  readonly #inflight = new Map<string, Promise<CachedToken>>();
  /** Number of token requests sent (for tests and benchmarks). */
  requests = 0;

  constructor(http: HttpClient, clock: Clock) {
    this.#http = http;
    this.#clock = clock;
  }

  #key(req: TokenRequest): string {
    const who = req.credentials === undefined ? 'anonymous' : `${req.credentials.source}:${req.credentials.username}`;
    return JSON.stringify([req.realm, req.service ?? '', [...req.scopes].sort(), who]);
  }

  /** Drops a cached token (after `invalid_token`). */
  invalidate(req: TokenRequest): void {
    this.#tokens.delete(this.#key(req));
  }

  /** A valid token for the request, from the cache or the realm. */
  async get(req: TokenRequest): Promise<string> {
    const key = this.#key(req);
    const hit = this.#tokens.get(key);
    if (hit !== undefined && hit.expiresAt > this.#clock()) return hit.token;
    const running = this.#inflight.get(key);
    if (running !== undefined) return (await running).token;
    const p = this.#fetch(req).finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, p);
    const got = await p;
    this.#tokens.set(key, got);
    return got.token;
  }

  async #fetch(req: TokenRequest): Promise<CachedToken> {
    const realm = checkRealm(req.realm, req.registryHostname, req.allowHttp);
    const sentAt = this.#clock();
    const creds = req.credentials;
    if (creds?.registryToken !== undefined) return { token: creds.registryToken.reveal(), expiresAt: Number.POSITIVE_INFINITY };
    if (creds?.identityToken !== undefined) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken.reveal(), client_id: 'resolver', scope: req.scopes.join(' ') });
      if (req.service !== undefined) form.set('service', req.service);
      this.requests++;
      const res = await this.#http.send({
        method: 'POST', url: realm, body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' },
        signal: req.signal, deadlineMs: 30_000, maxBytes: 1 << 20, followRedirects: false,
      });
      if (res.status === 200) return this.#parse(res.body, sentAt, realm);
      const canFallBack = [400, 401, 404, 405].includes(res.status) && creds.username !== '' && creds.password !== undefined;
      if (!canFallBack) throw this.#failure(res.status, realm, creds);
    }
    const url = new URL(realm);
    if (req.service !== undefined) url.searchParams.set('service', req.service);
    for (const scope of req.scopes) url.searchParams.append('scope', scope);
    const headers: Record<string, string> = {};
    if (creds?.password !== undefined && creds.username !== '') {
      url.searchParams.set('account', creds.username);
      headers['authorization'] = basic(creds.username, creds.password);
    }
    this.requests++;
    const res = await this.#http.send({ method: 'GET', url, headers, signal: req.signal, deadlineMs: 30_000, maxBytes: 1 << 20, followRedirects: false });
    if (res.status !== 200) throw this.#failure(res.status, realm, creds);
    return this.#parse(res.body, sentAt, realm);
  }

  #failure(status: number, realm: URL, creds: Credentials | undefined): ResolverError {
    if (status === 401 || status === 403) {
      return new ResolverError('ERR_REGISTRY_AUTH', `the token service ${realm.host} refused the credentials (HTTP ${status})`, {
        details: [creds === undefined ? 'log in with docker login' : `check the credentials from ${creds.source}`],
      });
    }
    return new ResolverError(status === 429 ? 'ERR_RATE_LIMITED' : 'ERR_REGISTRY_HTTP', `the token service ${realm.host} answered HTTP ${status}`);
  }

  #parse(body: Buffer, sentAt: number, realm: URL): CachedToken {
    const parsed = parseJson(TokenResponse, body.toString('utf8'));
    const token = parsed.success ? (parsed.data.access_token ?? parsed.data.token) : undefined;
    if (!parsed.success || token === undefined || token === '') {
      throw new ResolverError('ERR_REGISTRY_AUTH', `the token service ${realm.host} answered without a token`);
    }
    // expires_in defaults to 60 s and is never taken below 60 s (distribution's minimumTokenLifetimeSeconds).
    const ttlMs = Math.max(parsed.data.expires_in ?? 60, 60) * 1000;
    return { token, expiresAt: sentAt + ttlMs - marginMs };
  }
}
