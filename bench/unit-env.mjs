// The malloc environment systemd/resolver.service gives the daemon (its MALLOC_* Environment= entries), read
// from the unit so that every bench runs the daemon as the unit does and follows it when it changes.
import { readFileSync } from 'node:fs';

const unit = readFileSync(new URL('../systemd/resolver.service', import.meta.url), 'utf8');
export const unitEnv = Object.fromEntries(
  [...unit.matchAll(/^Environment=(.*)$/gm)]
    .flatMap((m) => m[1].split(' '))
    .filter((e) => e.startsWith('MALLOC_'))
    .map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
);
