import { describe, expect, it } from 'vitest';
import { DiskSpaceError } from '../errors.js';
import type { EngineFacts } from '../platform/engine-facts.js';
import { expectResolverError } from '../../test/fakes/expect-error.js';
import { defaultPreflight } from './config.js';
import { chainIds, type ChildLayers } from './estimate.js';
import { createDiskPreflight, humanBytes, type EngineView } from './preflight.js';

const digest = (c: string): string => `sha256:${c.repeat(64)}`;
const facts: EngineFacts = { endpoint: 'unix:///d.sock', local: true, version: '26.1.5', apiVersion: '1.45', os: 'linux', arch: 'amd64', kernelArch: undefined, kernelVersion: undefined, osVersion: undefined, store: 'classic', driver: 'overlay2', product: 'docker', dataRoot: '/data' };
const child: ChildLayers = { layers: [{ digest: digest('1'), size: 1000 }, { digest: digest('2'), size: 100 }], configSize: 10, diffIds: [digest('a'), digest('b')] };

function engine(images: Record<string, readonly string[]>, f: Partial<EngineFacts> = {}): EngineView & { inspected: string[] } {
  const inspected: string[] = [];
  return {
    inspected,
    facts: () => Promise.resolve({ ...facts, ...f }),
    listImages: () => Promise.resolve(Object.keys(images).map((id) => ({ id }))),
    inspectImage: (id) => {
      inspected.push(id);
      return Promise.resolve({ layers: images[id] ?? [] });
    },
  };
}

describe('disk preflight', () => {
  it('fits: reserves the bytes until released, so a second concurrent pull sees less room', async () => {
    const p = createDiskPreflight(defaultPreflight, { space: () => Promise.resolve({ free: 10_000, total: 10_000 }) });
    const v = await p.check('app@x', () => Promise.resolve(child), engine({}));
    expect(v.kind).toBe('fits');
    if (v.kind !== 'fits') return;
    expect(v.footprint.needed).toBe(10 + 1000 * 4 + 100 * 4);
    // 10,000 − 4,410 reserved = 5,590 free; a second child of 4,410 leaves 1,180 ≥ 1,000 (10 %) — fits; a third does not.
    const second = await p.check('app@y', () => Promise.resolve(child), engine({}));
    await expectResolverError(p.check('app@z', () => Promise.resolve(child), engine({})), 'ERR_DISK_SPACE');
    v.release();
    v.release();
    if (second.kind === 'fits') second.release();
    expect((await p.check('app@z', () => Promise.resolve(child), engine({}))).kind).toBe('fits');
  });

  it('does not fit: a DiskSpaceError naming the bytes needed, the bytes free and the path', async () => {
    const p = createDiskPreflight(defaultPreflight, { space: () => Promise.resolve({ free: 4_000, total: 100_000 }) });
    const e = await expectResolverError(p.check('localhost:5000/app@sha256:c', () => Promise.resolve(child), engine({})), 'ERR_DISK_SPACE');
    expect(e).toBeInstanceOf(DiskSpaceError);
    expect(e.message).toBe('not enough disk space to pull localhost:5000/app@sha256:c: it needs about 4.41 kB (2 new of 2 layers, 1.10 kB to download) and 10% (10.0 kB) must stay free, but /data has 4.00 kB free');
    expect(e).toMatchObject({ needed: 4410, free: 4000, minFree: 10_000, path: '/data' });
  });

  it('layers the engine has are not counted (by ChainID, from the local images), inspecting each image once', async () => {
    const p = createDiskPreflight({ ...defaultPreflight, minFree: { kind: 'bytes', value: 0 } }, { space: () => Promise.resolve({ free: 500, total: 100_000 }) });
    const e = engine({ [digest('i')]: [digest('a')] });
    const v = await p.check('app@x', () => Promise.resolve(child), e);
    expect(v.kind === 'fits' && v.footprint).toEqual({ needed: 410, download: 100, newLayers: 1, totalLayers: 2 });
    if (v.kind === 'fits') v.release();
    await p.check('app@x', () => Promise.resolve(child), e);
    expect(e.inspected).toEqual([digest('i')]);
    expect(chainIds([digest('a')])).toEqual([digest('a')]);
  });

  it('is skipped for a remote engine, an engine without DockerRootDir and a data root not visible here; never fetches the child then', async () => {
    const fetch = (): Promise<ChildLayers> => Promise.reject(new Error('must not be called'));
    const p = createDiskPreflight(defaultPreflight, { space: () => Promise.reject(Object.assign(new Error('no'), { code: 'ENOENT' })) });
    expect(await p.check('a', fetch, engine({}, { local: false, endpoint: 'tcp://10.0.0.2:2376' }))).toEqual({ kind: 'skipped', reason: 'the engine at tcp://10.0.0.2:2376 is remote: its free disk space cannot be read from here' });
    expect(await p.check('a', fetch, engine({}, { dataRoot: undefined }))).toMatchObject({ kind: 'skipped', reason: expect.stringMatching(/does not report its data root/) });
    expect(await p.check('a', fetch, engine({}))).toMatchObject({ kind: 'skipped', reason: expect.stringMatching(/cannot read the free space of \/data \(ENOENT\); if resolver runs in a container, mount the engine's data root and set preflight\.path/) });
    expect(await createDiskPreflight({ ...defaultPreflight, enabled: false }).check('a', fetch, engine({}))).toEqual({ kind: 'off' });
  });

  it('preflight.path is read instead of DockerRootDir, also for a remote engine', async () => {
    const seen: string[] = [];
    const p = createDiskPreflight({ ...defaultPreflight, path: '/host/docker' }, { space: (path) => (seen.push(path), Promise.resolve({ free: 1e9, total: 1e9 })) });
    expect((await p.check('a', () => Promise.resolve(child), engine({}, { local: false }))).kind).toBe('fits');
    expect(seen).toEqual(['/host/docker']);
  });

  it('prints sizes in decimal units like docker', () => {
    expect([humanBytes(999), humanBytes(1000), humanBytes(123_456_789), humanBytes(2.5e12)]).toEqual(['999 B', '1.00 kB', '123 MB', '2.50 TB']);
  });
});
