/**
 * Digest validation as go-digest does it (digest.go, algorithm.go): the algorithm must be
 * known and the encoded part must be lowercase hex of the algorithm's length. Pure.
 */

const lengths: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };
const digestShapeRe = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Result of checking a digest string. */
export type DigestCheck = { ok: true; algorithm: string; hex: string } | { ok: false; reason: string };

/** Validates `alg:hex` with go-digest's rules. */
export function parseDigest(text: string): DigestCheck {
  const i = text.indexOf(':');
  if (i <= 0 || i + 1 === text.length) return { ok: false, reason: 'invalid checksum digest format' };
  const algorithm = text.slice(0, i);
  const hex = text.slice(i + 1);
  const want = lengths[algorithm];
  if (want === undefined) {
    return { ok: false, reason: digestShapeRe.test(text) ? `unsupported digest algorithm "${algorithm}"` : 'invalid checksum digest format' };
  }
  if (hex.length !== want) return { ok: false, reason: `invalid checksum digest length (${algorithm} needs ${want} hex digits, got ${hex.length})` };
  if (!/^[a-f0-9]+$/.test(hex)) return { ok: false, reason: 'invalid checksum digest format (hex digits must be lowercase)' };
  return { ok: true, algorithm, hex };
}

/** True for `sha256:` + 64 lowercase hex digits. */
export function isSha256Digest(text: string): boolean {
  return /^sha256:[a-f0-9]{64}$/.test(text);
}
