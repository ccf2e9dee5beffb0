/**
 * The CLI's version: package.json's, so the package and `resolver --version` cannot disagree. The bundle
 * gets it at build time (scripts/bundle.mjs defines RESOLVER_VERSION); the unbundled build reads package.json.
 */
import { readFileSync } from 'node:fs';

declare const RESOLVER_VERSION: string | undefined;

/** package.json's `version`. */
export function resolverVersion(): string {
  if (typeof RESOLVER_VERSION === 'string') return RESOLVER_VERSION;
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}
