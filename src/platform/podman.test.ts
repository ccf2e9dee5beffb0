import { describe, expect, it } from 'vitest';
import { comparePodman, podmanCpuVariant, podmanNormalize, podmanPick, podmanSplit, podmanWanted, wantedPlatforms, type PodmanEntry, type PodmanHost } from './podman.js';
import { formatPlatform, platform } from './platform.js';

const amd64Host: PodmanHost = { os: 'linux', architecture: 'amd64', cpuVariant: '' };
const fmt = (ps: readonly { os: string; architecture: string; variant: string }[]): string[] => ps.map((p) => [p.os, p.architecture, p.variant].join('/'));

describe('containers/image WantedPlatforms (platform_matcher_test.go TestWantedPlatforms, v5.23.1)', () => {
  it.each([
    [{ os: 'linux', architecture: 'amd64', variant: '' }, ['linux/amd64/']],
    [{ os: 'linux', architecture: 'arm', variant: 'v6' }, ['linux/arm/v6', 'linux/arm/v5', 'linux/arm/']],
    [{ os: 'linux', architecture: 'arm', variant: '' }, ['linux/arm/', 'linux/arm/v8', 'linux/arm/v7', 'linux/arm/v6', 'linux/arm/v5']],
    [{ os: 'linux', architecture: 'arm64', variant: '' }, ['linux/arm64/', 'linux/arm64/v8']],
    [{ os: 'freeBSD', architecture: 'armel', variant: 'custom' }, ['freeBSD/armel/custom', 'freeBSD/armel/']],
  ])('%j', (choice, expected) => {
    expect(fmt(wantedPlatforms(choice, amd64Host))).toEqual(expected);
  });

  it('the host variant is detected only for the default architecture', () => {
    const pi: PodmanHost = { os: 'linux', architecture: 'arm', cpuVariant: 'v7' };
    expect(fmt(podmanWanted(undefined, pi))).toEqual(['linux/arm/v7', 'linux/arm/v6', 'linux/arm/v5', 'linux/arm/']);
    expect(fmt(podmanWanted(undefined, { os: 'linux', architecture: 'arm64', cpuVariant: 'v8' }))).toEqual(['linux/arm64/v8', 'linux/arm64/']);
    expect(fmt(podmanWanted(undefined, amd64Host))).toEqual(['linux/amd64/']);
  });
});

describe('containers/common NormalizePlatform of a --platform', () => {
  it.each([
    ['linux/arm64', 'linux/arm64/'], ['linux/arm64/v8', 'linux/arm64/v8'], ['linux/arm', 'linux/arm/v7'], ['linux/arm/v6', 'linux/arm/v6'],
    ['linux/aarch64', 'linux/arm64/'], ['linux/x86_64', 'linux/amd64/'], ['linux/amd64/v2', 'linux/amd64/v2'], ['linux/amd64/v1', 'linux/amd64/'],
    ['linux', 'linux//'], ['Linux/ARM64', 'linux/arm64/'],
  ])('%s → %s', (spec, expected) => {
    const n = podmanNormalize(podmanSplit(spec), amd64Host);
    expect([n.os, n.architecture, n.variant].join('/')).toBe(expected);
  });
});

describe('containers/image ChooseInstance (manifest/list_test.go TestChooseInstance, schema2list-variants.json)', () => {
  const entries: PodmanEntry[] = [
    { position: 0, digest: 'amd64', platform: platform('linux', 'amd64') },
    { position: 1, digest: 'armv6', platform: platform('linux', 'arm', 'v6') },
    { position: 2, digest: 'unrecognized', platform: platform('linux', 'arm', 'unrecognized-present') },
    { position: 3, digest: 'arm', platform: platform('linux', 'arm') },
  ];
  it.each([
    ['amd64', '', 'amd64'], ['arm', 'v7', 'armv6'], ['arm', 'v6', 'armv6'], ['arm', 'v5', 'arm'], ['arm', '', 'arm'],
    ['arm', 'unrecognized-present', 'unrecognized'], ['arm', 'unrecognized-not-present', 'arm'],
  ])('%s %j → %s', (architecture, variant, digest) => {
    const pick = podmanPick(entries, wantedPlatforms({ os: 'linux', architecture, variant }, amd64Host), false);
    expect(pick.kind === 'entry' ? pick.digest : pick.message).toBe(digest);
  });

  it('unmatched: the error names the first wanted platform', () => {
    expect(podmanPick(entries, wantedPlatforms({ os: 'linux', architecture: 'unmatched', variant: '' }, amd64Host), false)).toEqual({
      kind: 'none', message: 'no image found in manifest list for architecture unmatched, variant "", OS linux',
    });
  });

  it('entries without a platform: the last resort of an OCI index, never taken from a schema2 list', () => {
    const bare: PodmanEntry[] = [{ position: 0, digest: 'bare', platform: undefined }, { position: 1, digest: 'arm64', platform: platform('linux', 'arm64') }];
    expect(podmanPick(bare, podmanWanted(undefined, amd64Host), true)).toMatchObject({ kind: 'entry', digest: 'bare', wanted: -1 });
    expect(podmanPick(bare, podmanWanted(undefined, amd64Host), false)).toMatchObject({ kind: 'none', message: expect.stringContaining('manifest list') as string });
  });
});

describe('where Podman and Docker differ', () => {
  const level = (entries: [string, string][], mediaType = 'application/vnd.oci.image.index.v1+json') => ({
    mediaType,
    entries: entries.map(([p, digest], position) => {
      const [os = '', arch = '', variant = ''] = p.split('/');
      return { position, descriptor: { digest, mediaType: 'application/vnd.oci.image.manifest.v1+json' }, platform: platform(os, arch, variant) };
    }),
  });
  it('no amd64→386 fallback', () => {
    const c = comparePodman([level([['linux/arm64', 'a'], ['linux/386', 'b']])], podmanWanted(undefined, amd64Host), 'b');
    expect(c?.same).toBe(false);
    expect(c?.text).toMatch(/would fail: no image found in image index for architecture amd64, variant "", OS linux/);
  });
  it('no arm64→arm fallback', () => {
    const c = comparePodman([level([['linux/arm/v7', 'a']])], podmanWanted(podmanSplit('linux/arm64'), amd64Host), 'a');
    expect(c?.pick.kind).toBe('none');
  });
  it('the variant-less entry first, exact strings, no amd64 levels', () => {
    const ties = level([['linux/arm64/v8', 'v8'], ['linux/arm64', 'plain'], ['linux/amd64/v3', 'v3'], ['linux/x86_64', 'x86'], ['linux/amd64', 'amd64']]);
    expect(comparePodman([ties], podmanWanted(podmanSplit('linux/arm64'), amd64Host), 'v8')?.text).toMatch(/would take #1 linux\/arm64 plain, not this child/);
    expect(comparePodman([ties], podmanWanted(undefined, amd64Host), 'v3')?.pick).toMatchObject({ digest: 'amd64' });
    expect(comparePodman([ties], podmanWanted(undefined, amd64Host), 'amd64')?.same).toBe(true);
  });
  it('arm variant from /proc/cpuinfo only', () => {
    expect(podmanCpuVariant('CPU architecture: 7\n', 'arm')).toBe('v7');
    expect(podmanCpuVariant('processor : 0\n', 'arm')).toBe('');
    expect(podmanCpuVariant('CPU architecture: 9\n', 'arm64')).toBe('');
    expect(podmanCpuVariant('CPU architecture: 8\n', 'amd64')).toBe('');
    expect(formatPlatform(platform('linux', 'arm', 'v7'))).toBe('linux/arm/v7');
  });
});
