import { describe, expect, it } from 'vitest';
import { followedImage, followReason, groupEntries, mergeEntries, platformText, sourceText, type FoundEntry } from './select.js';

const id = `sha256:${'ab'.repeat(32)}`;
const on = { watchByDefault: false, includeStopped: true };

describe('which containers discovery follows', () => {
  it('follows resolver.enable=true, and with watchByDefault every container but resolver.enable=false', () => {
    expect(followReason({ 'resolver.enable': 'true' }, 'running', on)).toBe('label');
    expect(followReason({ 'resolver.enable': 'TRUE ' }, 'running', on)).toBe('label');
    expect(followReason({}, 'running', on)).toBeUndefined();
    expect(followReason({ 'resolver.enable': 'yes' }, 'running', on)).toBeUndefined();
    const all = { ...on, watchByDefault: true };
    expect(followReason({}, 'running', all)).toBe('default');
    expect(followReason({ 'resolver.enable': 'false' }, 'running', all)).toBeUndefined();
    expect(followReason({ 'resolver.enable': 'true' }, 'running', all)).toBe('label');
  });

  it('counts created and exited containers unless includeStopped is false', () => {
    const labels = { 'resolver.enable': 'true' };
    for (const state of ['created', 'exited', 'running', 'paused', 'restarting']) expect(followReason(labels, state, on)).toBe('label');
    const running = { ...on, includeStopped: false };
    expect(followReason(labels, 'created', running)).toBeUndefined();
    expect(followReason(labels, 'exited', running)).toBeUndefined();
    expect(followReason(labels, 'running', running)).toBe('label');
    expect(followReason(labels, 'restarting', running)).toBe('label');
  });
});

describe('the tag a container follows', () => {
  it('is the reference it was created from, canonical, :latest when it has none', () => {
    expect(followedImage({ image: 'nginx', imageId: id, labels: {} })).toEqual({ image: 'docker.io/library/nginx:latest' });
    expect(followedImage({ image: 'localhost:5001/app:stable', imageId: id, labels: {} })).toEqual({ image: 'localhost:5001/app:stable' });
  });

  it('cannot be followed for an image by digest only or by ID, with a reason that says what to do', () => {
    const byDigest = followedImage({ image: `localhost:5001/app@sha256:${'1'.repeat(64)}`, imageId: id, labels: {} });
    expect(byDigest).toEqual({ skip: expect.stringMatching(/pinned by digest: there is no tag to follow; label it resolver\.image=REPO:TAG/) });
    const tagAndDigest = followedImage({ image: `localhost:5001/app:1@sha256:${'1'.repeat(64)}`, imageId: id, labels: {} });
    expect('skip' in tagAndDigest).toBe(true);
    for (const image of [id, 'abababababab', id.slice(7), '']) {
      expect(followedImage({ image, imageId: id, labels: {} }), image).toEqual({ skip: expect.stringMatching(/runs an image by ID/) });
    }
    // A 12-hex name that is not a prefix of its image ID is a repository name.
    expect(followedImage({ image: 'cdcdcdcdcdcd', imageId: id, labels: {} })).toEqual({ image: 'docker.io/library/cdcdcdcdcdcd:latest' });
  });

  it('is resolver.image when the container is labelled so, also over an image ID', () => {
    expect(followedImage({ image: id, imageId: id, labels: { 'resolver.image': 'registry.example.com/app:stable' } })).toEqual({ image: 'registry.example.com/app:stable' });
    expect(followedImage({ image: 'nginx', imageId: id, labels: { 'resolver.image': 'Bad Ref' } })).toEqual({ skip: expect.stringMatching(/its resolver\.image label "Bad Ref" is not a reference/) });
  });
});

describe('entries of followed containers', () => {
  const c = (name: string, reason: 'label' | 'default' = 'label') => ({ id: `${name}-id`, name, reason });
  const host = { os: 'linux', architecture: 'amd64', variant: '' };

  it('groups by tag and the image platform; the host platform is marked; arm64/v8 is arm64', () => {
    const entries = groupEntries([
      { container: c('web2'), image: 'r/app:1', platform: { os: 'linux', architecture: 'amd64', variant: '' } },
      { container: c('web1'), image: 'r/app:1', platform: { os: 'linux', architecture: 'amd64', variant: '' } },
      { container: c('pi'), image: 'r/app:1', platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { container: c('pi2'), image: 'r/app:1', platform: { os: 'linux', architecture: 'arm64', variant: '' } },
    ], host);
    expect(entries).toEqual([
      { image: 'r/app:1', platform: 'linux/amd64', host: true, containers: [c('web1'), c('web2')] },
      { image: 'r/app:1', platform: 'linux/arm64', host: false, containers: [c('pi'), c('pi2')] },
    ]);
    expect(platformText({ os: 'linux', architecture: 'arm', variant: '' })).toBe('linux/arm/v7');
  });

  const found = (image: string, platform: string, hostEntry: boolean, ...names: string[]): FoundEntry => ({ image, platform, host: hostEntry, containers: names.map((n) => c(n)) });
  const make = (f: FoundEntry) => ({ image: f.image, platformSpec: f.host ? undefined : f.platform, schedule: 'found' });
  const platformKey = (spec: string): string => (spec === 'linux/arm64/v8' || spec === 'linux/arm64' ? 'linux/arm64' : spec);

  it('merges a found entry into the configured one of the same image and platform (the config wins); the rest follow', () => {
    const configured = [{ image: 'r/app:1', platformSpec: undefined, schedule: 'conf' }, { image: 'r/app:1', platformSpec: 'linux/arm64/v8', schedule: 'conf-arm' }];
    const merged = mergeEntries(configured, [found('r/app:1', 'linux/amd64', true, 'web'), found('r/app:1', 'linux/arm64', false, 'pi'), found('r/db:2', 'linux/arm/v7', false, 'db')], { platformKey, make });
    expect(merged.map((m) => [m.entry.image, m.entry.platformSpec, m.entry.schedule, m.configured, m.containers.map((x) => x.name)])).toEqual([
      ['r/app:1', undefined, 'conf', true, ['web']],
      ['r/app:1', 'linux/arm64/v8', 'conf-arm', true, ['pi']],
      ['r/db:2', 'linux/arm/v7', 'found', false, ['db']],
    ]);
  });

  it('keeps a found arm64 entry apart from a configured host entry of the same tag', () => {
    const merged = mergeEntries([{ image: 'r/app:1', platformSpec: undefined, schedule: 'conf' }], [found('r/app:1', 'linux/arm64', false, 'pi')], { platformKey, make });
    expect(merged.map((m) => [m.entry.platformSpec, m.configured])).toEqual([[undefined, true], ['linux/arm64', false]]);
  });

  it('says where an entry came from', () => {
    expect(sourceText(true, [])).toBe('config');
    expect(sourceText(false, [c('web')])).toBe('label of container web');
    expect(sourceText(true, [c('a'), c('b'), c('x', 'default')])).toBe('config + label of containers a, b + container x (watchByDefault)');
  });
});
