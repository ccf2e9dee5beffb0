import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resolverVersion } from './version.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

describe('resolver --version', () => {
  it('is package.json version, unbundled and in the built bundle', () => {
    expect(resolverVersion()).toBe(pkg.version);
    const out = execFileSync(process.execPath, [new URL('../../bin/resolver.cjs', import.meta.url).pathname, '--version'], { encoding: 'utf8', env: { PATH: process.env['PATH'] } });
    expect(out).toBe(`${pkg.version}\n`);
  });
});
