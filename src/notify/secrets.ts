/**
 * Reads the secret values of the notifications config: `{ file }` (trailing newline removed) or
 * `{ credential }` from `$CREDENTIALS_DIRECTORY` (systemd `LoadCredential=`). The value becomes a `Secret`
 * (prints `[REDACTED]`), and every revealed value is registered with a `Redactor` so that no log line or
 * error of this folder can carry it, even inside a receiver's error text.
 */
import { readSecretSource } from '../secret/read-secret.js';
import { Secret } from '../secret/secret.js';
import type { SecretSource } from './config.js';

/** Replaces every known secret value in a text with `[REDACTED]`. */
export class Redactor {
  readonly #values = new Set<string>();

  /** Remembers a value (and its URL-encoded form) to redact; values shorter than 4 characters are not (too many false hits). */
  add(value: string): void {
    if (value.length < 4) return;
    this.#values.add(value);
    const encoded = encodeURIComponent(value);
    if (encoded !== value) this.#values.add(encoded);
  }

  /** The text without any known secret. */
  redact(text: string): string {
    let out = text;
    for (const v of this.#values) out = out.split(v).join('[REDACTED]');
    return out;
  }
}

/** A resolved source: the value, and whether it came from a file or credential (then it is secret). */
export interface ResolvedValue {
  readonly value: Secret;
  readonly secret: boolean;
}

/** Reads one source. @throws ResolverError ERR_CONFIG_INVALID naming `what` and the file, never the value. */
export async function resolveSecret(source: SecretSource, what: string, env: Readonly<Record<string, string | undefined>>, redactor: Redactor): Promise<ResolvedValue> {
  if (typeof source === 'string') return { value: new Secret(source), secret: false };
  const value = await readSecretSource(source, what, env);
  redactor.add(value);
  return { value: new Secret(value), secret: true };
}
