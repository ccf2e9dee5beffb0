import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../config/load.js';
import type { FoundEntry } from '../discover/select.js';
import type { TargetPlatform } from '../platform/detect.js';
import { StateStore } from '../state/state-store.js';
import { targetFor } from '../../test/fakes/daemon-rig.js';
import { FakeEngine } from '../../test/fakes/fake-engine.js';
import { FakeRegistry } from '../../test/fakes/fake-registry.js';
import { Generation, listingTtlMs, targetTtlMs, type DaemonServices } from './generation.js';

const image = 'localhost:5001/fleet/app:stable';

/** A monotonic clock the test moves. */
function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1000;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/** Services over a FakeEngine that count target detections and closes; `failTarget` makes the next detection fail. */
function services(engine = new FakeEngine()): DaemonServices & { targets: (string | undefined)[]; closes: number; failTarget: Error | undefined; failClose: boolean } {
  const s = {
    targets: [] as (string | undefined)[], closes: 0, failTarget: undefined as Error | undefined, failClose: false,
    registry: new FakeRegistry().asClient(),
    credentials: { get: () => Promise.resolve(undefined) },
    state: new StateStore(join(tmpdir(), 'generation-unused'), () => undefined),
    engine: () => Promise.resolve(engine),
    target: ({ platform }: { platform?: string | undefined }): Promise<TargetPlatform> => {
      s.targets.push(platform);
      const fail = s.failTarget;
      s.failTarget = undefined;
      return fail === undefined ? targetFor(engine, platform) : Promise.reject(fail);
    },
    close: () => {
      s.closes++;
      return s.failClose ? Promise.reject(new Error('close failed')) : Promise.resolve();
    },
  };
  return s;
}

const config = (images: string) => parseConfig(`stateDir: /tmp/unused\nimages:\n${images}`, 'generation.yaml');
const signal = new AbortController().signal;

describe('Generation: the target cache', () => {
  it('reuses a detected target until its TTL has passed on the monotonic clock, per platform spec', async () => {
    const clock = fakeClock();
    const s = services();
    const gen = new Generation(config(`  - image: ${image}\n`), s, clock.now);
    const first = gen.target(undefined, signal);
    clock.advance(targetTtlMs - 1);
    expect(gen.target(undefined, signal)).toBe(first);
    await gen.target('linux/arm/v7', signal);
    expect(s.targets).toEqual([undefined, 'linux/arm/v7']);
    clock.advance(1);
    const second = gen.target(undefined, signal);
    expect(second).not.toBe(first);
    expect(s.targets).toEqual([undefined, 'linux/arm/v7', undefined]);
    expect((await second).platform).toMatchObject({ os: 'linux', architecture: 'amd64' });
  });

  it('forgets a failed detection: the next call detects again', async () => {
    const s = services();
    s.failTarget = new Error('engine gone');
    const gen = new Generation(config(`  - image: ${image}\n`), s, fakeClock().now);
    await expect(gen.target(undefined, signal)).rejects.toThrow('engine gone');
    await expect(gen.target(undefined, signal)).resolves.toMatchObject({ platform: { architecture: 'amd64' } });
    expect(s.targets).toHaveLength(2);
  });
});

describe('Generation: the tag listing', () => {
  it('lists the engine once for the checks of the next second, again after it, and not after a failed listing', async () => {
    const clock = fakeClock();
    const engine = new FakeEngine();
    engine.addImage({ tags: [image] });
    const gen = new Generation(config(`  - image: ${image}\n`), services(engine), clock.now);
    const tags = gen.localTags(engine);
    expect([...(await tags()).keys()]).toEqual([image]);
    clock.advance(listingTtlMs);
    await tags();
    expect(engine.calls.filter((c) => c === 'list')).toHaveLength(1);
    clock.advance(1);
    vi.spyOn(engine, 'listImages').mockRejectedValueOnce(new Error('engine down'));
    await expect(tags()).rejects.toThrow('engine down');
    await tags();
    await tags();
    expect(engine.calls.filter((c) => c === 'list')).toHaveLength(2);
  });
});

describe('Generation: reference counting (issue 14 defect 3)', () => {
  it('a retired generation closes its services only when the last holder releases, once, whatever close throws', async () => {
    const s = services();
    s.failClose = true;
    const gen = new Generation(config(`  - image: ${image}\n`), s, fakeClock().now);
    const a = gen.acquire();
    const b = gen.acquire();
    gen.retire();
    a();
    a();
    expect(s.closes).toBe(0);
    b();
    expect(s.closes).toBe(1);
    await expect(gen.close()).resolves.toBeUndefined();
    expect(s.closes).toBe(1);
  });

  it('a generation nobody holds closes as soon as it is retired', () => {
    const s = services();
    new Generation(config(`  - image: ${image}\n`), s, fakeClock().now).retire();
    expect(s.closes).toBe(1);
  });
});

describe('Generation: which entry owns the tag', () => {
  it.each([
    ['one entry owns it', `  - image: ${image}\n`, [true]],
    ['the host platform\'s entry owns it, wherever it is listed', `  - image: ${image}\n    platform: linux/arm64\n  - image: ${image}\n`, [false, true]],
    ['with no host entry, the first listed owns it', `  - image: ${image}\n    platform: linux/arm64\n  - image: ${image}\n    platform: linux/arm/v7\n`, [true, false]],
  ])('%s', async (_name, images, owns) => {
    const gen = new Generation(config(images), services(), fakeClock().now);
    expect(await Promise.all([...gen.entries.values()].map((e) => gen.ownsTag(e, signal)))).toEqual(owns);
  });
});

describe('Generation: found entries', () => {
  it('re-merges found entries: the new list when an entry or its source changed, undefined when nothing did', () => {
    const gen = new Generation(config(`  - image: ${image}\n`), services(), fakeClock().now);
    expect(gen.refound([])).toBeUndefined();
    const found: FoundEntry[] = [{ image: 'localhost:5001/other:1', platform: 'linux/amd64', host: true, containers: [{ name: 'web', id: 'c1', reason: 'label' }] }];
    const entries = gen.refound(found);
    expect(entries?.map((e) => e.key)).toEqual([`${image} detected`, 'localhost:5001/other:1 detected']);
    expect(gen.entries.size).toBe(2);
    expect(gen.refound(found)).toBeUndefined();
    expect(gen.refound([{ ...found[0]!, containers: [{ name: 'api', id: 'c2', reason: 'label' }] }])?.map((e) => e.source)).toEqual([undefined, 'label of container api']);
  });
});
