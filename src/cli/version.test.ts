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

  it('the launcher\'s answer (bin/resolver.cjs, from the bundle\'s first line) is the bundle\'s own', () => {
    const launcher = new URL('../../bin/resolver.cjs', import.meta.url).pathname;
    const env = { PATH: process.env['PATH'] };
    // `-V --json` is not answered by the launcher: commander prints the version (and ignores --json).
    const fromBundle = execFileSync(process.execPath, [launcher, '-V', '--json'], { encoding: 'utf8', env });
    expect(fromBundle).toBe(`${pkg.version}\n`);
    for (const flag of ['--version', '-V']) expect(execFileSync(process.execPath, [launcher, flag], { encoding: 'utf8', env })).toBe(fromBundle);
  });
});
