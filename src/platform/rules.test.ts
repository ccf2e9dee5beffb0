import { describe, expect, it } from 'vitest';
import { isWindowsCompatible, onlyMatcher } from './match.js';
import { parsePlatform, platform } from './platform.js';
import { rulesFor } from './rules.js';

const ctx = { os: 'windows', architecture: 'amd64', cpuVariant: '' };

describe('Windows compat floor by Docker version (moby#53397)', () => {
  it.each([
    ['23.0', 'rc1'], ['26.1', 'rc1'], ['27.5', 'rc1'], ['28.5', 'rc1'],
    ['29.0', 'rc4'], ['29.5', 'rc4'], ['29.7', 'rc4'],
    ['29.8', 'rc5'], ['30.0', 'rc5'],
  ] as const)('Docker %s uses the %s floor', (version, floor) => {
    expect(rulesFor(version, 'containerd').windowsFloor).toBe(floor);
    expect(rulesFor(version, 'classic').windowsFloor).toBe(floor);
  });

  // containerd/platforms v1.0.0-rc.1 platform_windows_compat_test.go Test_PlatformCompat (Docker 28);
  // v0.2.1's table (Docker 27) is the same.
  it.each([
    [17763, 17763, true], [17763, 20348, false], [20348, 17763, false], [20348, 20348, true], [22621, 17763, false], [22621, 20348, true],
  ])('rc.1: host %i, container %i → %s', (host, ctr, expected) => {
    expect(isWindowsCompatible(`10.0.${host}`, `10.0.${ctr}`, 'rc1')).toBe(expected);
  });

  // The cases PR #34 (bacc690) added for hosts past the latest LTSC: rc.1 and rc.5 accept WS2022 and
  // 22621 on a 26200 host; only rc.2–rc.4 (Docker 29.0–29.7) refuse them.
  it.each([
    [26100, true, true, true], [20348, true, false, true], [22621, true, false, true], [17763, false, false, false],
  ])('host 26200, container %i: rc.1 %s, rc.4 %s, rc.5 %s', (ctr, rc1, rc4, rc5) => {
    expect([isWindowsCompatible('10.0.26200', `10.0.${ctr}`, 'rc1'), isWindowsCompatible('10.0.26200', `10.0.${ctr}`, 'rc4'), isWindowsCompatible('10.0.26200', `10.0.${ctr}`, 'rc5')]).toEqual([rc1, rc4, rc5]);
  });

  it('a Windows 26200 daemon: Docker 27 and 28 accept the 20348 and 22621 images, 29.0–29.7 do not, 29.8 does', () => {
    const host = parsePlatform('windows(10.0.26200)/amd64', ctx);
    const accepts = (version: string, build: number): boolean => onlyMatcher(host, rulesFor(version, 'classic'), 'windows').rank(platform('windows', 'amd64', '', { osVersion: `10.0.${build}.1` })) >= 0;
    for (const v of ['27.5', '28.5', '29.8']) expect([20348, 22621, 26100].map((b) => accepts(v, b)), v).toEqual([true, true, true]);
    for (const v of ['29.0', '29.7']) expect([20348, 22621, 26100].map((b) => accepts(v, b)), v).toEqual([false, false, true]);
  });
});
