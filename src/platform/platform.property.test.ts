import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { ResolverError } from '../errors.js';
import { onlyMatcher } from './match.js';
import { formatPlatformAll, normalizePlatform, parsePlatform } from './platform.js';
import { defaultRules } from './rules.js';

const runs = Number.parseInt(process.env['FC_RUNS'] ?? '10000', 10);
const ctx = { os: 'linux', architecture: 'arm', cpuVariant: 'v6' };
const word = fc.constantFrom('linux', 'windows', 'darwin', 'amd64', 'arm64', 'arm', 'aarch64', 'x86_64', 'i386', 'armhf', 'armel', 'v7', 'v8', '8', 'v9.2', 's390x', 'riscv64', '(10.0.20348)', '+gpu', '/', '*', '%2B', '');

// A run count bounds each property, not the clock: on a loaded 2-core machine 10,000 runs can take longer than 5 s.
describe('parsePlatform properties', { timeout: 120_000 }, () => {
  test.prop([fc.string({ maxLength: 60 })], { numRuns: runs })('arbitrary text: a Platform or a typed error', (s) => {
    try {
      const p = parsePlatform(s, ctx);
      expect(typeof p.os).toBe('string');
    } catch (error) {
      expect(error).toBeInstanceOf(ResolverError);
      expect((error as ResolverError).code).toBe('ERR_PLATFORM_INVALID');
    }
  });

  test.prop([fc.array(word, { maxLength: 6 }).map((w) => w.join(''))], { numRuns: runs })('specifier-like text: parses to a platform that formats and re-parses to the same normal form', (s) => {
    let p;
    try {
      p = parsePlatform(s, ctx);
    } catch (error) {
      expect(error).toBeInstanceOf(ResolverError);
      return;
    }
    const again = parsePlatform(formatPlatformAll(p), ctx);
    expect(normalizePlatform(again, 'linux')).toEqual(normalizePlatform(p, 'linux'));
  });

  test.prop([fc.array(word, { maxLength: 6 }).map((w) => w.join(''))], { numRuns: runs })('a parsed host always accepts itself, unless its arm64 variant is outside the table', (s) => {
    let p;
    try {
      p = parsePlatform(s, ctx);
    } catch {
      return;
    }
    const m = onlyMatcher(p, defaultRules, 'linux');
    if (m.vector.length === 0) return;
    expect(m.rank(p)).toBe(0);
  });
});
