/**
 * Bearer-token authentication of the HTTP endpoint (RFC 6750 §2.1, as Watchtower's `--http-api-token`):
 * `Authorization: Bearer TOKEN`, the scheme case-insensitive. The comparison is constant-time over SHA-256
 * digests, so neither the token's bytes nor its length leak through timing. The token is read from a file
 * or a systemd credential, never from the config text, and is held as a `Secret` (prints `[REDACTED]`).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ResolverError } from '../errors.js';
import { readSecretSource } from '../secret/read-secret.js';
import { Secret } from '../secret/secret.js';
import type { TokenSource } from './config.js';

/** The shortest token accepted: 16 characters (`openssl rand -hex 32` gives 64). */
export const minTokenLength = 16;

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** A check of `Authorization` headers against one token. */
export class BearerAuth {
  readonly #digest: Buffer;

  constructor(token: Secret) {
    this.#digest = digest(token.reveal());
  }

  /** True when `header` is `Bearer <the token>`. */
  allows(header: string | undefined): boolean {
    const m = header === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    // Compare something in every case, so a missing header costs what a wrong one does.
    const given = digest(m?.[1] ?? '');
    return timingSafeEqual(given, this.#digest) && m !== null;
  }
}

/**
 * Reads the token the way notification secrets are read (src/notify/secrets.ts): a file with its trailing
 * newline removed, or `$CREDENTIALS_DIRECTORY/NAME`. @throws ResolverError ERR_CONFIG_INVALID naming
 * `metrics.token` and the file, never the value.
 */
export async function readToken(source: TokenSource, env: Readonly<Record<string, string | undefined>>): Promise<Secret> {
  const value = await readSecretSource(source, 'metrics.token', env);
  if (value.length < minTokenLength || /\s/.test(value)) {
    throw new ResolverError('ERR_CONFIG_INVALID', `metrics.token: ${'file' in source ? source.file : `credential ${source.credential}`} must hold one token of at least ${minTokenLength} characters without spaces (it is shorter, or has spaces)`, {
      details: ['e.g. openssl rand -hex 32 > FILE'],
    });
  }
  return new Secret(value);
}
