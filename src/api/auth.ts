/**
 * Bearer-token authentication of the HTTP endpoint (RFC 6750 §2.1, as Watchtower's `--http-api-token`):
 * `Authorization: Bearer TOKEN`, the scheme case-insensitive. The comparison is constant-time over SHA-256
 * digests, so neither the token's bytes nor its length leak through timing. The token is read from a file
 * or a systemd credential, never from the config text, and is held as a `Secret` (prints `[REDACTED]`).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ResolverError } from '../errors.js';
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
  let path: string;
  if ('file' in source) path = source.file;
  else {
    const dir = env['CREDENTIALS_DIRECTORY'];
    if (dir === undefined || dir === '') {
      throw new ResolverError('ERR_CONFIG_INVALID', `metrics.token: credential ${source.credential} needs $CREDENTIALS_DIRECTORY (systemd LoadCredential=${source.credential}:PATH), which is not set`, {
        details: ['add LoadCredential= to the unit, or use token: {file: PATH}'],
      });
    }
    path = join(dir, source.credential);
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new ResolverError('ERR_CONFIG_INVALID', `metrics.token: cannot read ${path} (${code})`, { details: ['create it, e.g. openssl rand -hex 32 > FILE; chmod 600 FILE'] });
  }
  const value = text.replace(/\r?\n$/, '');
  if (value.length < minTokenLength || /\s/.test(value)) {
    throw new ResolverError('ERR_CONFIG_INVALID', `metrics.token: ${path} must hold one token of at least ${minTokenLength} characters without spaces (it has ${value.length === 0 ? 'none' : 'a shorter or spaced one'})`, {
      details: ['e.g. openssl rand -hex 32 > FILE'],
    });
  }
  return new Secret(value);
}
