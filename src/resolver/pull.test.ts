/**
 * pullResolved against an in-memory engine, for the engine faults a real one does not produce on
 * demand: a pull reported as failed after the engine already stored the child, and one that did not.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { ImageEngine, ImageInfo } from '../engine/engine.js';
import { ResolverError } from '../errors.js';
import { detectTarget, hostFacts } from '../platform/detect.js';
import { parseReference } from '../reference/reference.js';
import { StateStore } from '../state/state-store.js';
import { pullResolved, type PullDeps } from './pull.js';
import type { CheckDeps } from './reconcile.js';
import type { Resolution } from './resolve.js';

const child = `sha256:${'c'.repeat(64)}`;
const index = `sha256:${'a'.repeat(64)}`;
const ref = parseReference('127.0.0.1:5000/app:latest');
const resolution: Resolution = {
  reference: ref,
  top: { digest: index, mediaType: 'application/vnd.oci.image.index.v1+json', size: 1 },
  levels: [{ digest: index, mediaType: 'application/vnd.oci.image.index.v1+json', entries: [] }],
  chosen: { digest: child, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1, platform: undefined },
};

// Checked by tsc: a pull or a check gets the engine's image half, so it cannot create or start a container (issue 14).
describe('the engine a pull and a check get', () => {
  it('is the image half only', () => {
    expectTypeOf<PullDeps['engine']>().toEqualTypeOf<ImageEngine>();
    expectTypeOf<CheckDeps['engine']>().toEqualTypeOf<ImageEngine>();
  });
});

/** An engine (the image half: all a pull gets) whose pull stores the child (or not) and then reports `error`. */
function fakeEngine(options: { storesChild: boolean; error: ResolverError }): ImageEngine & { images: Map<string, ImageInfo> } {
  const images = new Map<string, ImageInfo>();
  const image: ImageInfo = { id: 'sha256:config', repoTags: [], repoDigests: [`127.0.0.1:5000/app@${child}`], os: 'linux', architecture: 'amd64', variant: '' };
  const unused = (): never => {
    throw new Error('not used');
  };
  return {
    images,
    facts: unused,
    pull: () => {
      if (options.storesChild) images.set(`127.0.0.1:5000/app@${child}`, image);
      return Promise.reject(options.error);
    },
    tag: (source, repository, tag) => {
      const i = images.get(source);
      if (i === undefined) return Promise.reject(new ResolverError('ERR_PULL_FAILED', 'no such image'));
      images.set(`${repository}:${tag}`, { ...i, repoTags: [`${repository}:${tag}`] });
      return Promise.resolve();
    },
    inspectImage: (name) => Promise.resolve(images.get(name)),
    listImages: unused, imagesInUse: unused, removeImage: unused,
  };
}

async function deps(engine: ImageEngine): Promise<Parameters<typeof pullResolved>[0]> {
  const dir = await mkdtemp(join(tmpdir(), 'pull-test-'));
  return { registry: undefined as never, engine, credentials: { get: () => Promise.resolve(undefined) }, state: new StateStore(dir, () => undefined) };
}

const target = (): ReturnType<typeof detectTarget> => detectTarget({ engine: undefined, facts: hostFacts('/nonexistent'), processArch: 'x64', processPlatform: 'linux', override: { spec: 'linux/amd64', source: '--platform' } });

describe('pullResolved when the engine reports a failed pull', () => {
  it('a child the engine stored all the same is tagged and recorded (so it can be pruned later)', async () => {
    const engine = fakeEngine({ storesChild: true, error: new ResolverError('ERR_PULL_FAILED', 'pull of 127.0.0.1:5000/app failed: stream reset') });
    const d = await deps(engine);
    const outcome = await pullResolved(d, ref, resolution, await target());
    expect(outcome.pulled).toBe(true);
    expect(outcome.streamError).toContain('stream reset');
    expect(engine.images.get('127.0.0.1:5000/app:latest')?.repoDigests).toContain(`127.0.0.1:5000/app@${child}`);
    const record = await d.state.get('127.0.0.1:5000/app:latest', 'linux/amd64');
    expect(record?.childDigest).toBe(child);
    expect(record?.imageId).toBe('sha256:config');
  });

  it('a child the engine does not have: the pull fails, nothing is recorded', async () => {
    const engine = fakeEngine({ storesChild: false, error: new ResolverError('ERR_PULL_FAILED', 'pull failed: unauthorized') });
    const d = await deps(engine);
    await expect(pullResolved(d, ref, resolution, await target())).rejects.toThrow(/unauthorized/);
    expect(await d.state.get('127.0.0.1:5000/app:latest', 'linux/amd64')).toBeUndefined();
  });

  it('a cancelled pull stays cancelled even if the child arrived', async () => {
    const engine = fakeEngine({ storesChild: true, error: new ResolverError('ERR_ABORTED', 'pull was cancelled') });
    const d = await deps(engine);
    await expect(pullResolved(d, ref, resolution, await target())).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });
});

// Issue 13.12: a full disk under the state folder. A real tmpfs, filled up (root only, like the e2e test).
describe.runIf(process.getuid?.() === 0)('pullResolved with the state folder on a full disk', () => {
  async function fullDisk(): Promise<{ dir: string; unmount: () => void }> {
    const dir = await mkdtemp(join(tmpdir(), 'pull-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
    await mkdir(join(dir, 'state'));
    await writeFile(join(dir, 'filler'), Buffer.alloc(64 * 1024)).catch(() => undefined);
    return { dir: join(dir, 'state'), unmount: () => execFileSync('umount', [dir]) };
  }
  const stored = (): ReturnType<typeof fakeEngine> => fakeEngine({ storesChild: true, error: new ResolverError('ERR_PULL_FAILED', 'stream reset') });

  it("recordFailure 'warn': the image is pulled and tagged, the outcome carries a warning instead of an ENOSPC", async () => {
    const disk = await fullDisk();
    try {
      const engine = stored();
      const outcome = await pullResolved({ registry: undefined as never, engine, credentials: { get: () => Promise.resolve(undefined) }, state: new StateStore(disk.dir, () => undefined) }, ref, resolution, await target(), { recordFailure: 'warn' });
      expect(engine.images.get('127.0.0.1:5000/app:latest')?.repoDigests).toContain(`127.0.0.1:5000/app@${child}`);
      expect(outcome.stateWarning).toMatch(/127\.0\.0\.1:5000\/app:latest was pulled, but its state record could not be written \(ENOSPC: the disk is full\)/);
    } finally {
      disk.unmount();
    }
  });

  it('by default (the daemon) the ENOSPC still propagates, so the round is retried', async () => {
    const disk = await fullDisk();
    try {
      const d = { registry: undefined as never, engine: stored(), credentials: { get: () => Promise.resolve(undefined) }, state: new StateStore(disk.dir, () => undefined) };
      await expect(pullResolved(d, ref, resolution, await target())).rejects.toMatchObject({ code: 'ENOSPC' });
    } finally {
      disk.unmount();
    }
  });
});

describe('pullResolved with the prefetch (docs/prefetch.md)', () => {
  /** An engine that records the repositories it is asked to pull from; `failFrom` refuses those. */
  function recordingEngine(failFrom: readonly string[] = []): ImageEngine & { pulls: string[] } {
    const base = fakeEngine({ storesChild: false, error: new ResolverError('ERR_PULL_FAILED', 'unused') });
    const pulls: string[] = [];
    return {
      ...base,
      pulls,
      pull: (req) => {
        pulls.push(req.repository);
        if (failFrom.includes(req.repository)) return Promise.reject(new ResolverError('ERR_PULL_FAILED', `pull from ${req.repository} failed`));
        const image: ImageInfo = { id: 'sha256:config', repoTags: [], repoDigests: [`${req.repository}@${child}`], os: 'linux', architecture: 'amd64', variant: '' };
        base.images.set(`${req.repository}@${child}`, image);
        return Promise.resolve({ layers: new Map(), status: 'done' } as never);
      },
    };
  }
  const loopback = '127.0.0.1:41000/app';
  function fakePrefetch(stage: 'ok' | Error): { stage: never; aliases: () => Promise<string[]>; released: boolean[]; staged: number } {
    const p = {
      released: [] as boolean[],
      staged: 0,
      aliases: () => Promise.resolve([] as string[]),
      stage: (() => {
        p.staged++;
        if (stage !== 'ok') return Promise.reject(stage);
        return Promise.resolve({ repository: loopback, fetched: [], release: (pulled: boolean) => { p.released.push(pulled); return Promise.resolve(); } });
      }) as never,
    };
    return p;
  }

  it('the engine pulls from the loopback registry first; the child is tagged under the origin name and known by the loopback name', async () => {
    const engine = recordingEngine();
    const prefetch = fakePrefetch('ok');
    const outcome = await pullResolved({ ...(await deps(engine)), prefetch }, ref, resolution, await target());
    expect(engine.pulls).toEqual([loopback]);
    expect(outcome.pulledFrom).toBe(loopback);
    expect(prefetch.released).toEqual([true]);
    expect((await engine.inspectImage('127.0.0.1:5000/app:latest'))?.repoDigests).toContain(`${loopback}@${child}`);
  });

  it('a fetch that fails fails the pull before the engine is asked (it would start from byte 0)', async () => {
    const engine = recordingEngine();
    const prefetch = fakePrefetch(new ResolverError('ERR_NETWORK', 'connection reset by the registry'));
    await expect(pullResolved({ ...(await deps(engine)), prefetch }, ref, resolution, await target())).rejects.toThrow(/connection reset/);
    expect(prefetch.staged).toBe(1);
    expect(engine.pulls).toEqual([]);
  });

  it('an engine that cannot pull from the loopback registry falls back to the origin; the staged blobs are kept', async () => {
    const engine = recordingEngine([loopback]);
    const prefetch = fakePrefetch('ok');
    const outcome = await pullResolved({ ...(await deps(engine)), prefetch }, ref, resolution, await target());
    expect(engine.pulls).toEqual([loopback, '127.0.0.1:5000/app']);
    expect(outcome.pulledFrom).toBeUndefined();
    expect(outcome.mirrorFailures?.[0]).toContain(loopback);
    expect(prefetch.released).toEqual([false]);
  });
});
