/**
 * Docker's verdict on a single-platform image of another platform pulled with --platform, by engine version
 * and image store (what test/e2e/pull-platform.test.ts sees from dockerd 20.10 and 26.1.5, and moby's
 * daemon/images/image_pull.go and image.go say for the other releases).
 */
import { describe, expect, it } from 'vitest';
import { detectTarget, hostFacts, type TargetPlatform } from '../platform/detect.js';
import { platform } from '../platform/platform.js';
import { parseReference } from '../reference/reference.js';
import { pullPlatformVerdict } from './platform-check.js';

const target = (spec: string | undefined, engineVersion: string, store: 'classic' | 'containerd' = 'classic'): Promise<TargetPlatform> => detectTarget({
  engine: undefined, facts: hostFacts('/nonexistent'), processArch: 'x64', processPlatform: 'linux',
  ...(spec === undefined ? {} : { override: { spec, source: '--platform' } }),
  rulesOverride: { store, engineVersion },
});
const ref = parseReference('127.0.0.1:5000/single:latest');
const arm64 = platform('linux', 'arm64', '');

describe('pullPlatformVerdict', () => {
  it('20.10 and 23.0, classic store: a warning naming the image without its tag, exit 0', async () => {
    for (const v of ['20.10', '23.0']) {
      expect(pullPlatformVerdict(await target('linux/amd64', v), ref, arm64)).toEqual({
        kind: 'warn', message: 'image with reference 127.0.0.1:5000/single was found but does not match the specified platform: wanted linux/amd64, actual: linux/arm64',
      });
    }
  });

  it('24.0 to 27.x, classic store: the pull fails, naming the full reference', async () => {
    for (const v of ['24.0', '26.1', '27.5']) {
      expect(pullPlatformVerdict(await target('linux/amd64', v), ref, arm64)).toEqual({
        kind: 'fail', message: 'image with reference 127.0.0.1:5000/single:latest was found but does not match the specified platform: wanted linux/amd64, actual: linux/arm64',
      });
    }
    // Docker Hub: ref.String() is the canonical name.
    expect(pullPlatformVerdict(await target('linux/amd64', '26.1'), parseReference('alpine'), arm64)).toMatchObject({ message: expect.stringContaining('image with reference docker.io/library/alpine:latest was found') });
  });

  it('28.0 and later, classic store: a warning again, in its new words, with the familiar reference', async () => {
    expect(pullPlatformVerdict(await target('linux/amd64', '28.0'), parseReference('alpine'), arm64)).toEqual({
      kind: 'warn', message: 'image with reference alpine:latest was found but its platform (linux/arm64) does not match the specified platform (linux/amd64)',
    });
    expect(pullPlatformVerdict(await target('linux/amd64', '29.7'), ref, arm64)).toMatchObject({ kind: 'warn', message: expect.stringContaining('127.0.0.1:5000/single:latest was found but its platform (linux/arm64)') });
  });

  it('the containerd image store has no such check', async () => {
    for (const v of ['26.1', '29.7']) expect(pullPlatformVerdict(await target('linux/amd64', v, 'containerd'), ref, arm64)).toEqual({ kind: 'match' });
  });

  it('nothing without --platform (docker pull checks nothing then), nor when the image fits', async () => {
    expect(pullPlatformVerdict(await target(undefined, '20.10'), ref, arm64)).toEqual({ kind: 'match' });
    expect(pullPlatformVerdict(await target('linux/arm64', '20.10'), ref, arm64)).toEqual({ kind: 'match' });
    expect(pullPlatformVerdict(await target('linux/arm64/v8', '26.1'), ref, platform('linux', 'arm64', 'v8'))).toEqual({ kind: 'match' });
    // Only(arm/v7) takes an arm/v6 image; OnlyPlatformWithFallback takes a config with no variant for arm/v5.
    expect(pullPlatformVerdict(await target('linux/arm/v7', '26.1'), ref, platform('linux', 'arm', 'v6'))).toEqual({ kind: 'match' });
    expect(pullPlatformVerdict(await target('linux/arm/v5', '26.1'), ref, platform('linux', 'arm', ''))).toEqual({ kind: 'match' });
    // …but not an arm/v7 image for arm/v6.
    expect(pullPlatformVerdict(await target('linux/arm/v6', '26.1'), ref, platform('linux', 'arm', 'v7'))).toMatchObject({ kind: 'fail', message: expect.stringContaining('wanted linux/arm/v6, actual: linux/arm/v7') });
  });
});
