import { describe, expect, it } from 'vitest';
import { isWindowsCompatible, onlyMatcher, platformVector, strictMatcher } from './match.js';
import { formatPlatform, parsePlatform, platform, type Platform } from './platform.js';
import { defaultRules, rulesFor } from './rules.js';

const ctx = { os: 'linux', architecture: 'amd64', cpuVariant: '' };
const P = (s: string): Platform => parsePlatform(s, ctx);
const vec = (s: string): string[] => platformVector(P(s), defaultRules, 'linux').map((x) => formatPlatform(x).replace(/^linux\//, ''));
const accepts = (host: string, cand: Platform): boolean => onlyMatcher(P(host), defaultRules, 'linux').rank(cand) >= 0;
const strictAccepts = (host: string, cand: Platform): boolean => strictMatcher(P(host), defaultRules, 'linux').rank(cand) >= 0;
const cand = (s: string): Platform => {
  const [os = '', arch = '', variant = ''] = s.split('/');
  return platform(os, arch, variant);
};

describe('platformVector (spec §8.3)', () => {
  it.each([
    ['linux/amd64', ['amd64', '386']],
    ['linux/amd64/v2', ['amd64/v2', 'amd64/v1', '386']],
    ['linux/amd64/v3', ['amd64/v3', 'amd64/v2', 'amd64/v1', '386']],
    ['linux/amd64/v4', ['amd64/v4', 'amd64/v3', 'amd64/v2', 'amd64/v1', '386']],
    ['linux/386', ['386']],
    ['linux/arm64', ['arm64', 'arm/v8', 'arm/v7', 'arm/v6', 'arm/v5']],
    ['linux/arm64/v8', ['arm64', 'arm/v8', 'arm/v7', 'arm/v6', 'arm/v5']],
    ['linux/arm64/v8.2', ['arm64/v8.2', 'arm64/v8.1', 'arm64', 'arm/v8', 'arm/v7', 'arm/v6', 'arm/v5']],
    ['linux/arm64/v9', ['arm64/v9', 'arm64/v8.5', 'arm64/v8.4', 'arm64/v8.3', 'arm64/v8.2', 'arm64/v8.1', 'arm64', 'arm/v8', 'arm/v7', 'arm/v6', 'arm/v5']],
    ['linux/arm64/v9.2', ['arm64/v9.2', 'arm64/v9.1', 'arm64/v9', 'arm64/v8.7', 'arm64/v8.6', 'arm64/v8.5', 'arm64/v8.4', 'arm64/v8.3', 'arm64/v8.2', 'arm64/v8.1', 'arm64', 'arm/v8', 'arm/v7', 'arm/v6', 'arm/v5']],
    ['linux/arm64/v10', []],
    ['linux/arm64/v8.10', []],
    ['linux/arm64/v9.8', []],
    ['linux/arm/v8', ['arm/v8', 'arm/v7', 'arm/v6', 'arm/v5']],
    ['linux/arm', ['arm/v7', 'arm/v6', 'arm/v5']],
    ['linux/arm/v7', ['arm/v7', 'arm/v6', 'arm/v5']],
    ['linux/arm/v6', ['arm/v6', 'arm/v5']],
    ['linux/arm/v5', ['arm/v5']],
    ['linux/arm/v4', ['arm/v4']],
    ['linux/ppc64le', ['ppc64le']],
    ['linux/s390x', ['s390x']],
    ['linux/riscv64', ['riscv64']],
  ])('%s', (host, expected) => {
    expect(vec(host)).toEqual(expected);
  });

  it('keeps os.version on every Windows element (V16)', () => {
    const v = platformVector(P('windows(10.0.20348)/amd64'), defaultRules, 'linux');
    expect(v.map((x) => `${formatPlatform(x)}@${x.osVersion}`)).toEqual(['windows/amd64@10.0.20348', 'windows/386@10.0.20348']);
  });

  it('uses the arm vector of the variant before platforms rc.1 (Docker 26)', () => {
    const v = platformVector(P('linux/arm64/v9'), rulesFor('26.1', 'classic'), 'linux').map(formatPlatform);
    expect(v).toEqual(['linux/arm64/v9', 'linux/arm/v9', 'linux/arm/v8', 'linux/arm/v7', 'linux/arm/v6', 'linux/arm/v5']);
  });
});

describe('Only(host).Match (spec §8.4)', () => {
  it.each([
    ['linux/amd64', ['linux/amd64', 'linux/386'], ['linux/amd64/v2', 'linux/arm/v7', 'linux/arm64', 'windows/amd64', 'windows/arm']],
    ['linux/amd64/v2', ['linux/amd64', 'linux/amd64/v1', 'linux/amd64/v2', 'linux/386'], ['linux/amd64/v3', 'linux/amd64/v4', 'linux/arm/v7', 'linux/arm64', 'windows/amd64']],
    ['linux/386', ['linux/386'], ['linux/amd64', 'linux/arm/v7', 'linux/arm64', 'windows/386']],
    ['windows/amd64', ['windows/amd64'], ['linux/amd64', 'linux/arm/v7', 'linux/arm64', 'windows/arm']],
    ['linux/arm/v8', ['linux/arm', 'linux/arm/v5', 'linux/arm/v6', 'linux/arm/v7', 'linux/arm/v8'], ['linux/amd64', 'linux/arm/v4', 'linux/arm64', 'windows/arm']],
    ['linux/arm/v7', ['linux/arm', 'linux/arm/v5', 'linux/arm/v6', 'linux/arm/v7'], ['linux/amd64', 'linux/arm/v4', 'linux/arm/v8', 'linux/arm64']],
    ['linux/arm/v6', ['linux/arm/v5', 'linux/arm/v6'], ['linux/amd64', 'linux/arm', 'linux/arm/v4', 'linux/arm/v7', 'linux/arm/v8', 'linux/arm64']],
    ['linux/arm/v5', ['linux/arm/v5'], ['linux/amd64', 'linux/arm', 'linux/arm/v4', 'linux/arm/v6', 'linux/arm/v7', 'linux/arm/v8', 'linux/arm64']],
    ['linux/arm/v4', ['linux/arm/v4'], ['linux/amd64', 'linux/arm', 'linux/arm/v5', 'linux/arm/v8', 'linux/arm64']],
    ['linux/arm64/v9.6', ['linux/arm', 'linux/arm/v5', 'linux/arm/v8', 'linux/arm64', 'linux/arm64/v8', 'linux/arm64/v8.1', 'linux/arm64/v8.9', 'linux/arm64/v9', 'linux/arm64/v9.0', 'linux/arm64/v9.6'], ['linux/amd64', 'linux/arm/v4', 'windows/arm64', 'linux/arm64/v8.10']],
    ['linux/arm64/v9', ['linux/arm', 'linux/arm/v5', 'linux/arm64', 'linux/arm64/v8', 'linux/arm64/v8.1', 'linux/arm64/v8.5', 'linux/arm64/v9', 'linux/arm64/v9.0'], ['linux/amd64', 'linux/arm/v4', 'linux/arm64/v8.6']],
    ['linux/arm64/v8.1', ['linux/arm', 'linux/arm/v5', 'linux/arm/v8', 'linux/arm64', 'linux/arm64/v8', 'linux/arm64/v8.1'], ['linux/amd64', 'linux/arm/v4', 'linux/arm/v9', 'linux/arm64/v9']],
    ['linux/arm64', ['linux/arm', 'linux/arm/v5', 'linux/arm/v6', 'linux/arm/v7', 'linux/arm/v8', 'linux/arm64', 'linux/arm64/v8'], ['linux/amd64', 'linux/arm/v4', 'linux/arm/v9', 'linux/arm64/v9', 'windows/arm64']],
    ['linux/riscv64', ['linux/riscv64'], ['linux/riscv64/rva22u64']],
  ])('%s', (host, yes, no) => {
    for (const c of yes) expect(accepts(host, cand(c)), `${host} should accept ${c}`).toBe(true);
    for (const c of no) expect(accepts(host, cand(c)), `${host} should reject ${c}`).toBe(false);
  });

  it('windows/amd64 accepts a candidate with an os.version (O4)', () => {
    expect(accepts('windows/amd64', platform('windows', 'amd64', '', { osVersion: '10.0.17763' }))).toBe(true);
  });

  it('ignores os.version on Linux and rejects os.features from 29.6 on (O15)', () => {
    expect(accepts('linux/amd64', platform('linux', 'amd64', '', { osVersion: '5.15' }))).toBe(true);
    expect(accepts('linux/amd64', platform('linux', 'amd64', '', { osFeatures: ['sse4'] }))).toBe(false);
    expect(accepts('linux/amd64', platform('linux', 'amd64', '', { osFeatures: [''] }))).toBe(false);
    const old = onlyMatcher(P('linux/amd64'), rulesFor('29.5', 'containerd'), 'linux');
    expect(old.rank(platform('linux', 'amd64', '', { osFeatures: ['sse4'] }))).toBe(0);
  });

  it('fills a missing candidate OS with the daemon OS (O16)', () => {
    expect(accepts('linux/amd64', platform('', 'amd64'))).toBe(true);
    expect(accepts('linux/amd64', platform('', ''))).toBe(false);
    expect(accepts('linux/amd64', platform('linux', ''))).toBe(false);
  });

  it('ranks by vector position', () => {
    const m = onlyMatcher(P('linux/arm64'), defaultRules, 'linux');
    expect(m.rank(cand('linux/arm64/v8'))).toBe(0);
    expect(m.rank(cand('linux/arm/v7'))).toBe(2);
    expect(m.rank(cand('linux/arm/v5'))).toBe(4);
  });
});

describe('OnlyStrict(host).Match (spec §8.5)', () => {
  it.each([
    ['linux/amd64', ['linux/amd64'], ['linux/386', 'linux/arm/v7', 'linux/arm64', 'windows/amd64']],
    ['linux/386', ['linux/386'], ['linux/amd64']],
    ['linux/arm/v8', ['linux/arm/v8'], ['linux/arm', 'linux/arm/v5', 'linux/arm/v6', 'linux/arm/v7']],
    ['linux/arm/v7', ['linux/arm', 'linux/arm/v7'], ['linux/arm/v5', 'linux/arm/v6', 'linux/arm/v8']],
    ['linux/arm/v6', ['linux/arm/v6'], ['linux/arm/v5', 'linux/arm', 'linux/arm/v7']],
    ['linux/arm64/v9.5', ['linux/arm64/v9.5'], ['linux/arm64/v8', 'linux/arm64/v8.1', 'linux/arm64/v9', 'linux/arm64/v9.1', 'linux/arm64/v9.4', 'linux/arm/v7']],
    ['linux/arm64/v9', ['linux/arm64/v9', 'linux/arm64/v9.0'], ['linux/arm64/v8', 'linux/arm64/v8.1', 'linux/arm/v9']],
    ['linux/arm64/v8.1', ['linux/arm64/v8.1'], ['linux/arm64/v8', 'linux/arm64/v9']],
    ['linux/arm64', ['linux/arm64', 'linux/arm64/v8'], ['linux/arm/v7', 'linux/arm64/v9']],
    ['linux/amd64/v3', ['linux/amd64/v3'], ['linux/amd64', 'linux/amd64/v2', 'linux/386']],
  ])('%s', (host, yes, no) => {
    for (const c of yes) expect(strictAccepts(host, cand(c)), `${host} should accept ${c}`).toBe(true);
    for (const c of no) expect(strictAccepts(host, cand(c)), `${host} should reject ${c}`).toBe(false);
  });
});

describe('Windows os.version (spec §8.8)', () => {
  const win = (v: string): Platform => platform('windows', 'amd64', '', { osVersion: v });
  const acceptsWin = (hostVersion: string, ctrVersion: string, rules = defaultRules): boolean =>
    onlyMatcher(parsePlatform(`windows(${hostVersion})/amd64`, ctx), rules, 'windows').rank(win(ctrVersion)) >= 0;

  it.each([
    ['10.0.17763', '10.0.17763', true],
    ['10.0.17763', '10.0.20348', false],
    ['10.0.20348', '10.0.17763', false],
    ['10.0.20348', '10.0.20348', true],
    ['10.0.22621', '10.0.17763', false],
    ['10.0.22621', '10.0.20348', true],
    ['10.0.20348', '10.0.22621', false],
    ['10.0.20348', '10.0.26100', false],
    ['10.0.25398', '10.0.20348', true],
    ['10.0.26100', '10.0.20348', true],
    ['10.0.26100', '10.0.22621', true],
    ['10.0.20348', '10.0.20348.1', true],
    ['10.0.20348', '6.3.9600.1', false],
    ['10.0.20348', '10.0', false],
    ['10.0.20348', 'garbage', false],
    ['10.0.20348', '10.0.70000.1', false],
    ['10.0.20348', '', true],
  ] as const)('host %s, container %s → %s (W1–W11, W22, W25)', (h, c, expected) => {
    expect(acceptsWin(h, c)).toBe(expected);
  });

  it('W6/W18: a host without a version accepts every build', () => {
    for (const c of ['10.0.17763', '', '10.0.22621']) {
      expect(onlyMatcher(P('windows/amd64'), defaultRules, 'windows').rank(win(c))).toBe(0);
    }
    expect(acceptsWin('99.99.99.99', '')).toBe(true);
  });

  it('W7: a 17763 container runs only on a 17763 host', () => {
    for (const h of [17763, 20348, 22621, 25398]) expect(isWindowsCompatible(`10.0.${h}`, '10.0.17763', 'rc5')).toBe(h === 17763);
  });

  it('W12: host 26200 under rc.5 and under rc.2–rc.4 (Docker 29.0–29.7)', () => {
    expect(['10.0.20348', '10.0.26100', '10.0.22621', '10.0.17763'].map((c) => isWindowsCompatible('10.0.26200', c, 'rc5'))).toEqual([true, true, true, false]);
    expect(['10.0.20348', '10.0.26100', '10.0.22621', '10.0.17763'].map((c) => isWindowsCompatible('10.0.26200', c, 'rc4'))).toEqual([false, true, false, false]);
  });

  it('W19: a Linux host never takes Windows entries', () => {
    expect(accepts('linux/amd64', win('10.0.20348'))).toBe(false);
  });

  it('W23: win32k is ignored for Windows hosts, other features are not', () => {
    const withFeatures = (f: string[]): Platform => platform('windows', 'amd64', '', { osVersion: '10.0.20348', osFeatures: f });
    const m = onlyMatcher(parsePlatform('windows(10.0.20348)/amd64', ctx), defaultRules, 'windows');
    expect([[], ['win32k'], ['win32k', 'foo'], ['foo']].map((f) => m.rank(withFeatures(f)) >= 0)).toEqual([true, true, false, false]);
  });
});
