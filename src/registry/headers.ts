/**
 * Registry response headers read as data (registry-protocol.md §6.2, §7.3): `Retry-After` in both forms,
 * Docker Hub's `ratelimit-*`, the media type of `Content-Type` (sanitised: it can reach messages), and
 * where an upload `Location` points. Pure.
 */
import { sanitizeRemoteText } from '../http/remote-text.js';

/** Docker Hub rate-limit headers, as last seen. */
export interface RateLimit {
  readonly limit: number | undefined;
  readonly remaining: number | undefined;
  readonly window: string | undefined;
}

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

/** A response's media type without parameters, safe to print. */
export function contentTypeOf(headers: Readonly<Record<string, string>>): string {
  return sanitizeRemoteText((headers['content-type'] ?? '').split(';')[0] ?? '', 200);
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
