import { describe, expect, it } from 'vitest';
import { ResolverError } from '../errors.js';
import { formatPlatform, formatPlatformAll, normalizePlatform, parsePlatform, platform, type Platform } from './platform.js';

const host = { os: 'linux', architecture: 'amd64', cpuVariant: '' };
const p = (s: string): Platform => parsePlatform(s, host);
const short = (x: Platform): string => `${x.os}/${x.architecture}/${x.variant}`;

describe('parsePlatform (spec §8.1)', () => {
  it.each([
    ['linux/arm64', 'linux/arm64/'],
    ['linux/arm64/v8', 'linux/arm64/v8'],
    ['linux/arm', 'linux/arm/'],
    ['linux/arm/v6', 'linux/arm/v6'],
    ['linux/arm/v7', 'linux/arm/v7'],
    ['arm', 'linux/arm/'],
    ['armel', 'linux/arm/v6'],
    ['armhf', 'linux/arm/'],
    ['Aarch64', 'linux/arm64/'],
    ['x86_64', 'linux/amd64/'],
    ['Linux/x86_64', 'linux/amd64/'],
    ['i386', 'linux/386/'],
    ['linux', 'linux/amd64/'],
    ['s390x', 'linux/s390x/'],
    ['linux/s390x', 'linux/s390x/'],
    ['macOS', 'darwin/amd64/'],
    ['windows', 'windows/amd64/'],
    ['windows()', 'windows/amd64/'],
    ['foo/bar', 'foo/bar/'],
    ['linux/armv7l', 'linux/armv7l/'],
    ['linux/arm64/8', 'linux/arm64/v8'],
    ['linux/arm64/v8.0', 'linux/arm64/v8'],
    ['linux/arm64/V8', 'linux/arm64/v8'],
    ['linux/aarch64/v8', 'linux/arm64/v8'],
    ['linux/arm64/9', 'linux/arm64/v9'],
    ['linux/arm64/9.0', 'linux/arm64/v9'],
    ['linux/arm64/v9.0', 'linux/arm64/v9'],
    ['linux/arm64/v8.2', 'linux/arm64/v8.2'],
    ['linux/arm64/v9.5', 'linux/arm64/v9.5'],
    ['linux/arm64/v10', 'linux/arm64/v10'],
    ['linux/arm/7', 'linux/arm/v7'],
    ['linux/arm/4', 'linux/arm/4'],
    ['linux/arm/v4', 'linux/arm/v4'],
    ['linux/armhf/v6', 'linux/arm/v7'],
    ['linux/armel/v7', 'linux/arm/v6'],
    ['linux/amd64/v1', 'linux/amd64/'],
    ['linux/amd64/V3', 'linux/amd64/v3'],
    ['linux/amd64/2', 'linux/amd64/2'],
    ['linux/x86_64/v3', 'linux/amd64/v3'],
    ['linux/i386/v2', 'linux/386/'],
    ['linux/386/sse2', 'linux/386/sse2'],
    ['wasm', 'linux/wasm/'],
    ['loong64', 'linux/loong64/'],
    ['riscv64', 'linux/riscv64/'],
    ['mips64le', 'linux/mips64le/'],
    ['ppc64le', 'linux/ppc64le/'],
  ])('%s → %s', (input, expected) => {
    expect(short(p(input))).toBe(expected);
  });

  it('takes os.version and os.features from the parentheses (P17–P22)', () => {
    expect(p('windows(10.0.17763)')).toMatchObject({ os: 'windows', osVersion: '10.0.17763', osFeatures: [] });
    expect(formatPlatformAll(p('windows(10.0.17763)'))).toBe('windows(10.0.17763)/amd64');
    expect(p('windows(10.0.17763+win32k)')).toMatchObject({ osVersion: '10.0.17763', osFeatures: ['win32k'] });
    expect(p('linux(+gpu+simd)').osFeatures).toEqual(['gpu', 'simd']);
    expect(p('linux(+unsorted+erofs)').osFeatures).toEqual(['unsorted', 'erofs']);
    expect(formatPlatformAll(p('linux(+unsorted+erofs)'))).toBe('linux(+erofs+unsorted)/amd64');
    expect(p('windows(10.0.17763%2Bbuild.42+win32k)')).toMatchObject({ osVersion: '10.0.17763+build.42', osFeatures: ['win32k'] });
    expect(p('windows(50%25done)').osVersion).toBe('50%done');
    expect(formatPlatformAll(p('windows(50%25done)'))).toBe('windows(50%25done)/amd64');
  });

  it('fills a bare OS from the engine architecture, with the arm variant unless v7 (P13)', () => {
    expect(short(parsePlatform('linux', { os: 'linux', architecture: 'arm64', cpuVariant: 'v8' }))).toBe('linux/arm64/');
    expect(short(parsePlatform('linux', { os: 'linux', architecture: 'arm', cpuVariant: 'v6' }))).toBe('linux/arm/v6');
    expect(short(parsePlatform('linux', { os: 'linux', architecture: 'arm', cpuVariant: 'v7' }))).toBe('linux/arm/');
  });

  it.each([
    ['', /OS part is empty/],
    ['/linux/arm', /OS part is empty/],
    ['linux/arm/', /empty component/],
    ['linux /arm', /invalid OS component/],
    ['linux/&arm', /"&arm" is an invalid component/],
    ['linux/arm/foo/bar', /at most os\/arch\/variant/],
    ['linux/arm64/v8/x', /at most/],
    ['linux.x/amd64', /invalid OS component/],
    ['linux//arm', /empty component/],
    ['*', /wildcards not yet supported/],
    ['linux/*', /wildcards/],
    ['*/arm64', /wildcards/],
    ['i686', /unknown operating system or architecture/],
    ['armv7', /unknown operating system or architecture/],
    ['armv7l', /unknown operating system or architecture/],
    ['armv6l', /unknown operating system or architecture/],
    ['foo', /unknown operating system or architecture/],
  ])('rejects %j', (input, message) => {
    expect(() => p(input)).toThrow(message);
    expect(() => p(input)).toThrow(ResolverError);
  });
});

describe('normalizePlatform (spec §8.2)', () => {
  it.each([
    ['linux', 'x86_64', '', 'linux/amd64'],
    ['linux', 'amd64', 'v1', 'linux/amd64'],
    ['linux', 'amd64', 'V1', 'linux/amd64'],
    ['linux', 'AMD64', '', 'linux/amd64'],
    ['linux', 'aarch64', '', 'linux/arm64'],
    ['linux', 'arm64', 'v8', 'linux/arm64'],
    ['linux', 'arm64', '8', 'linux/arm64'],
    ['linux', 'arm64', 'v8.0', 'linux/arm64'],
    ['linux', 'arm64', '9', 'linux/arm64/v9'],
    ['linux', 'arm64', '9.0', 'linux/arm64/v9'],
    ['linux', 'arm64', 'v9.0', 'linux/arm64/v9'],
    ['linux', 'arm64', 'v8.1', 'linux/arm64/v8.1'],
    ['linux', 'arm64', 'v9.1', 'linux/arm64/v9.1'],
    ['linux', 'arm', '', 'linux/arm/v7'],
    ['linux', 'arm', '7', 'linux/arm/v7'],
    ['linux', 'armhf', '', 'linux/arm/v7'],
    ['linux', 'armhf', 'v6', 'linux/arm/v7'],
    ['linux', 'arm', '6', 'linux/arm/v6'],
    ['linux', 'armel', '', 'linux/arm/v6'],
    ['linux', 'armel', 'v5', 'linux/arm/v6'],
    ['linux', 'arm', '5', 'linux/arm/v5'],
    ['linux', 'arm', '8', 'linux/arm/v8'],
    ['linux', 'arm', '4', 'linux/arm/4'],
    ['linux', 'arm', 'v4', 'linux/arm/v4'],
    ['linux', 'i386', '', 'linux/386'],
    ['linux', 'i386', 'v2', 'linux/386'],
    ['Linux', 'PPC64LE', '', 'linux/ppc64le'],
    ['', 'amd64', '', 'linux/amd64'],
    ['macOS', 'arm64', '', 'darwin/arm64'],
    ['unknown', 'unknown', '', 'unknown/unknown'],
  ])('%s/%s/%s → %s', (os, arch, variant, expected) => {
    expect(formatPlatform(normalizePlatform(platform(os, arch, variant), 'linux'))).toBe(expected);
  });

  it('sorts and de-duplicates os.features', () => {
    expect(normalizePlatform(platform('linux', 'amd64', '', { osFeatures: ['b', 'a', 'b'] }), 'linux').osFeatures).toEqual(['a', 'b']);
  });
});
