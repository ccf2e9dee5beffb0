/**
 * The one hash behind splay, retry jitter and rollout cohorts (issue 12 §3): SHA-256 of NUL-separated parts,
 * and a uniform number in [0, 1) from its first 53 bits. Pure.
 */
import { createHash } from 'node:crypto';

/** SHA-256 of the parts, NUL-separated: the one hash splay, jitter and cohorts use. */
export function hashParts(...parts: readonly string[]): Buffer {
  return createHash('sha256').update(parts.join('\0')).digest();
}

/** A number in [0, 1) from the first 53 bits of `hashParts(...parts)`: uniform, the same on every run. */
export function unitOf(...parts: readonly string[]): number {
  const h = hashParts(...parts);
  return (h.readUInt32BE(0) * 2 ** 21 + (h.readUInt32BE(4) >>> 11)) / 2 ** 53;
}
