/**
 * Registry error responses turned into errors that name the registry, the repository and what to do
 * (registry-protocol.md §7.1–7.2): moby's order — the challenge's `error` parameter, then the OCI body's
 * first code, then the HTTP status. Remote text is sanitised where it enters (issue 13.18). Pure.
 */
import { z } from 'zod';
import { RegistryHttpError, type ErrorCode } from '../errors.js';
import { parseJson } from '../json/parse-json.js';
import type { HttpResponse } from '../http/http.js';
import { sanitizeRemoteText } from '../http/remote-text.js';
import type { Repository } from '../reference/repository.js';
import { parseRetryAfter, type RateLimit } from './headers.js';
import { parseWwwAuthenticate, preferredChallenge } from './www-authenticate.js';

/** How the request stood with auth when it failed. */
export type AuthState = 'no-credentials' | 'denied' | 'bad-credentials' | undefined;

interface OciError {
  code: string;
  message: string;
}

const OciBody = z.object({ errors: z.array(z.unknown()) });
const OciEntry = z.object({ code: z.string(), message: z.unknown().optional() });

/** The `errors` of an OCI error body, sanitised; empty for anything else (an entry without a string code is skipped). */
export function ociErrors(body: Buffer): OciError[] {
  const parsed = parseJson(OciBody, body.toString('utf8'));
  if (!parsed.success) return [];
  return parsed.data.errors.flatMap((e) => {
    const entry = OciEntry.safeParse(e);
    if (!entry.success) return [];
    const { code, message } = entry.data;
    return [{ code: sanitizeRemoteText(code, 64), message: typeof message === 'string' ? sanitizeRemoteText(message) : '' }];
  });
}

/** A host other than the registry asked for its own login; nothing of the registry's is sent there (13.2). */
export function foreignLogin(repo: Repository, url: URL, method: string, what: string): RegistryHttpError {
  return new RegistryHttpError('ERR_REGISTRY_AUTH', `${url.host} asked for credentials (HTTP 401) to ${method} ${what}, but it is not ${repo.host}; the credentials for ${repo.host} are not sent to another host`, {
    status: 401, method, url: `${url.origin}${url.pathname}`,
  }, { details: [`${repo.host} redirected the request, or handed the upload, to ${url.host}, which wants a login of its own; ask the registry's operator to let ${url.host} accept the registry's tokens or signed URLs`] });
}

/** What the mapping needs besides the response. */
export interface ErrorContext {
  readonly repo: Repository;
  readonly method: string;
  /** The target as the user named it, e.g. `host/repo:tag`. */
  readonly what: string;
  readonly auth: AuthState;
  /** Longest Retry-After reported (13.15). */
  readonly retryAfterCapMs: number;
  readonly rateLimit: RateLimit | undefined;
}

/** The error for a non-2xx registry response. */
export function registryError(res: HttpResponse, ctx: ErrorContext): RegistryHttpError {
  const { repo, method, what, auth } = ctx;
  const name = `${repo.host}/${repo.path}`;
  const errors = ociErrors(res.body);
  const challengeError = preferredChallenge(parseWwwAuthenticate(res.headers['www-authenticate'] ?? ''))?.params['error'];
  const code = challengeError === 'insufficient_scope' ? 'DENIED' : challengeError === 'invalid_token' ? 'UNAUTHORIZED' : errors[0]?.code;
  const asked = parseRetryAfter(res.headers['retry-after']);
  const capSeconds = Math.floor(ctx.retryAfterCapMs / 1000);
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
    const rl = ctx.rateLimit;
    const wait = fields.retryAfterSeconds === undefined ? '' : `; retry after ${fields.retryAfterSeconds} s${asked !== undefined && asked > capSeconds ? ` (it asked for ${asked} s; capped)` : ''}`;
    const quota = rl?.remaining === undefined ? '' : ` (rate limit ${rl.remaining}/${rl.limit ?? '?'} remaining)`;
    return make('ERR_RATE_LIMITED', `${repo.host} is rate limiting requests for ${name}${wait}${quota}`, ['wait, or log in to get a higher limit']);
  }
  return make('ERR_REGISTRY_HTTP', `${repo.host} answered HTTP ${res.status} to ${method} ${what}${fromServer}`);
}
