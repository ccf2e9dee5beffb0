/**
 * Pure timing helpers of the daemon: deterministic splay per host and image, and jittered exponential
 * backoff that honours Retry-After.
 */
import { createHash } from 'node:crypto';

/** A delay in [0, maxMs) that is the same for a host and image every run, so a fleet spreads out. */
export function splayFor(host: string, image: string, maxMs: number): number {
  if (maxMs <= 0) return 0;
  const h = createHash('sha256').update(`${host}\0${image}`).digest();
  return h.readUInt32BE(0) % Math.floor(maxMs);
}

/**
 * Backoff after `failures` consecutive failures: full jitter over min(cap, base·2^(n−1)), at least
 * Retry-After, which is itself capped at `retryAfterCapMs` (15 min by default, reliability spec): one
 * `Retry-After: 86400` must not stop an image's checks for a day (issue 13.15).
 */
export function backoffMs(failures: number, options: { baseMs: number; capMs: number; retryAfterMs?: number | undefined; retryAfterCapMs?: number; random: () => number }): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.max(0, failures - 1));
  const jittered = Math.max(options.baseMs / 2, options.random() * ceiling);
  return Math.max(jittered, Math.min(options.retryAfterMs ?? 0, options.retryAfterCapMs ?? retryAfterCapMs));
}

/** The longest Retry-After the daemon honours. */
export const retryAfterCapMs = 15 * 60_000;
