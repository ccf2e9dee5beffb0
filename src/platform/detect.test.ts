import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { EngineFacts } from './engine-facts.js';
import { onlyMatcher } from './match.js';
import { formatPlatform, formatPlatformAll, platform } from './platform.js';
import { rulesFor } from './rules.js';
import { detectTarget, hostFacts, windowsVersionFromKernel } from './detect.js';

const root = (name: string): string => fileURLToPath(new URL(`../../test/fixtures/cpuinfo/${name}`, import.meta.url));
const engine = (over: Partial<EngineFacts>): EngineFacts => ({
  endpoint: 'unix:///run/docker.sock', local: true, version: '29.7.1', apiVersion: '1.54', os: 'linux', arch: 'amd64',
  kernelArch: 'x86_64', kernelVersion: '6.1.0', osVersion: undefined, store: 'containerd', driver: 'overlayfs', product: 'docker', ...over,
});
const detect = (fixture: string, e: Partial<EngineFacts> | undefined, extra: Record<string, unknown> = {}) =>
  detectTarget({ engine: e === undefined ? undefined : engine(e), facts: hostFacts(root(fixture)), processArch: 'x64', processPlatform: 'linux', ...extra });

describe('detectTarget on fixture hosts', () => {
  it.each([
    ['rpi1-armv6', { arch: 'arm', kernelArch: 'armv6l' }, 'linux/arm/v6', '/proc/cpuinfo "CPU architecture"'],
    ['rpi3-armv7', { arch: 'arm', kernelArch: 'armv7l' }, 'linux/arm/v7', '/proc/cpuinfo "CPU architecture"'],
    ['rpi4-aarch64', { arch: 'arm64', kernelArch: 'aarch64' }, 'linux/arm64/v8', '/proc/cpuinfo "CPU architecture"'],
    ['x86_64-avx2', {}, 'linux/amd64/v3', 'CPU flags (x86-64 level v3)'],
    ['x86_64-avx512', {}, 'linux/amd64/v4', 'CPU flags (x86-64 level v4)'],
    ['x86_64-v2', {}, 'linux/amd64/v2', 'CPU flags (x86-64 level v2)'],
    // moby TestHostPlatformSpecSetsAMD64Variant: hostPlatformSpec() always has an amd64 variant.
    ['x86_64-v1', {}, 'linux/amd64/v1', 'CPU flags (x86-64 level v1)'],
  ] as const)('%s', async (fixture, e, platform, variantSource) => {
    const t = await detect(fixture, { ...e });
    expect(formatPlatformAll(t.platform)).toBe(platform);
    expect(t.parts.variant.source).toBe(variantSource);
    expect(t.parts.architecture.source).toContain('engine /version');
  });

  it('a 32-bit engine on a Pi 4 (64-bit kernel) is linux/arm/v8, with a warning', async () => {
    const t = await detect('rpi4-aarch64', { arch: 'arm', kernelArch: 'aarch64' });
    expect(formatPlatformAll(t.platform)).toBe('linux/arm/v8');
    expect(t.warnings.join('\n')).toMatch(/32-bit \(arm\) engine on a 64-bit kernel/);
  });

  it('adds the amd64 level only where Docker does', async () => {
    expect(formatPlatformAll((await detect('x86_64-avx2', { version: '29.5.0' })).platform)).toBe('linux/amd64');
    const classic = await detect('x86_64-avx2', { version: '26.1.5', store: 'classic' });
    expect(formatPlatformAll(classic.platform)).toBe('linux/amd64/v3');
    expect(formatPlatformAll(classic.display)).toBe('linux/amd64');
    const remote = await detect('x86_64-avx2', { local: false, endpoint: 'tcp://10.0.0.2:2376' });
    expect(formatPlatformAll(remote.platform)).toBe('linux/amd64');
    expect(remote.parts.variant.source).toMatch(/remote engine cannot be known/);
  });

  it('an x86-64-v1 host is linux/amd64/v1 where moby adds the level (its no-match text: src/manifest/select.test.ts)', async () => {
    const c8d = await detect('x86_64-v1', { version: '29.7.1', store: 'containerd' });
    expect(formatPlatformAll(c8d.platform)).toBe('linux/amd64/v1');
    const classic = await detect('x86_64-v1', { version: '28.5.2', store: 'classic' });
    expect(formatPlatformAll(classic.platform)).toBe('linux/amd64/v1');
    // Before 29.6 the containerd store pulled with platforms.Default(): no level at all.
    expect(formatPlatformAll((await detect('x86_64-v1', { version: '29.5.0', store: 'containerd' })).display)).toBe('linux/amd64');
    // The child is the same: v1 normalises away.
    expect(onlyMatcher(c8d.platform, c8d.rules, 'linux').rank(platform('linux', 'amd64'))).toBe(0);
  });

  it('Podman keeps Docker\'s rules (not "Docker 4.3.1" with 23.0\'s) and carries what Podman itself would want', async () => {
    const t = await detect('x86_64-avx2', { product: 'podman', version: '4.3.1', apiVersion: '1.41', store: 'classic' });
    expect(t.rules).toEqual(rulesFor('29.7', 'containerd'));
    expect(t.rulesSource).toBe("Podman Engine 4.3.1 (Docker API 1.41): resolver keeps Docker's rules (Docker 29.7, containerd image store)");
    expect(t.warnings.join('\n')).not.toMatch(/predates/);
    expect(formatPlatformAll(t.platform)).toBe('linux/amd64/v3');
    expect(t.podman?.wanted.map(formatPlatform)).toEqual(['linux/amd64']);
    const pi = await detect('rpi4-aarch64', { product: 'podman', version: '4.3.1', arch: 'arm64', kernelArch: 'aarch64' }, { override: { spec: 'linux/arm', source: '--platform' } });
    expect(pi.podman?.wanted.map(formatPlatform)).toEqual(['linux/arm/v7', 'linux/arm/v6', 'linux/arm/v5', 'linux/arm']);
    expect((await detect('x86_64-avx2', {})).podman).toBeUndefined();
  });

  it('a remote arm engine takes a weak hint from /info Architecture', async () => {
    const t = await detect('x86_64-v1', { arch: 'arm', kernelArch: 'armv6l', local: false });
    expect(formatPlatformAll(t.platform)).toBe('linux/arm/v6');
    expect(t.parts.variant.source).toMatch(/weak hint/);
  });

  it('falls back to this process without an engine, and says so', async () => {
    const t = await detect('x86_64-avx2', undefined, { engineError: 'socket missing' });
    expect(formatPlatformAll(t.platform)).toBe('linux/amd64/v3');
    expect(t.parts.os.source).toBe('this process (no engine reachable)');
    expect(t.warnings[0]).toMatch(/no Docker Engine reachable \(socket missing\)/);
    expect(t.rulesSource).toMatch(/default: Docker 29\.7/);
  });

  it('warns about an arm64 kernel with a 32-bit userland', async () => {
    const t = await detect('rpi4-aarch64', undefined, { processArch: 'arm' });
    expect(formatPlatformAll(t.platform)).toBe('linux/arm/v8');
    expect(t.warnings.join('\n')).toMatch(/arm64 kernel with a 32-bit userland/);
  });

  it('warns when the engine differs from this process', async () => {
    const t = await detect('rpi4-aarch64', { arch: 'arm64', kernelArch: 'aarch64' }, { processArch: 'x64' });
    expect(t.warnings.join('\n')).toMatch(/this process runs as amd64 but the engine is arm64/);
  });

  it('applies an override, completed from the engine', async () => {
    const t = await detect('rpi3-armv7', { arch: 'arm', kernelArch: 'armv7l' }, { override: { spec: 'linux', source: '--platform' } });
    expect(formatPlatformAll(t.platform)).toBe('linux/arm');
    expect(t.requested).toBe(true);
    const pi1 = await detect('rpi1-armv6', { arch: 'arm', kernelArch: 'armv6l' }, { override: { spec: 'linux', source: 'DOCKER_DEFAULT_PLATFORM' } });
    expect(formatPlatformAll(pi1.platform)).toBe('linux/arm/v6');
    expect(pi1.parts.os.source).toBe('DOCKER_DEFAULT_PLATFORM linux');
  });

  it('takes the Windows build from /info KernelVersion', async () => {
    expect(windowsVersionFromKernel('10.0 20348 (20348.1.amd64fre.fe_release.210507-1500)')).toBe('10.0.20348');
    expect(windowsVersionFromKernel('10.0.26100.2894')).toBe('10.0.26100');
    expect(windowsVersionFromKernel(undefined)).toBe('');
    const t = await detect('x86_64-avx2', { os: 'windows', kernelVersion: '10.0 20348 (20348.1.amd64fre)', store: 'classic', version: '28.0.1' });
    expect(formatPlatformAll(t.platform)).toBe('windows(10.0.20348)/amd64/v3');
  });

  it('treats engines older than 23.0 with 23.0 rules, and warns', async () => {
    const t = await detect('x86_64-v1', { version: '20.10.24', store: 'classic' });
    expect(t.rules.engineVersion).toBe('23.0');
    expect(t.warnings.join('\n')).toMatch(/predates today's platform rules/);
  });
});
