/**
 * Reads a secret from where the config points: `{ file }` (trailing newline removed) or `{ credential }`,
 * `$CREDENTIALS_DIRECTORY/NAME` (systemd `LoadCredential=`). The one reader behind notification secrets
 * (notify/secrets.ts) and the API token (api/auth.ts). Errors name the key and the file, never the value.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ResolverError } from '../errors.js';

/** A secret's source in the config. */
export type SecretFileSource = { readonly file: string } | { readonly credential: string };

/** The value of `source`. @throws ResolverError ERR_CONFIG_INVALID naming `what` and the path. */
export async function readSecretSource(source: SecretFileSource, what: string, env: Readonly<Record<string, string | undefined>>): Promise<string> {
  let path: string;
  if ('file' in source) path = source.file;
  else {
    const dir = env['CREDENTIALS_DIRECTORY'];
    if (dir === undefined || dir === '') {
      throw new ResolverError('ERR_CONFIG_INVALID', `${what}: credential ${source.credential} needs $CREDENTIALS_DIRECTORY (systemd LoadCredential=${source.credential}:PATH), which is not set`);
    }
    path = join(dir, source.credential);
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new ResolverError('ERR_CONFIG_INVALID', `${what}: cannot read ${path} (${code})`, { cause: error });
  }
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new ResolverError('ERR_CONFIG_INVALID', `${what}: ${path} is empty`);
  return value;
}
