import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NoMatchingPlatformError } from '../errors.js';
import { parseReference } from '../reference/reference.js';
import { StateStore } from '../state/state-store.js';
import { hostPlatform, targetFor } from '../../test/fakes/daemon-rig.js';
import { FakeEngine } from '../../test/fakes/fake-engine.js';
import { FakeRegistry } from '../../test/fakes/fake-registry.js';
import { createDiskPreflight } from '../preflight/preflight.js';
import { defaultPreflight } from '../preflight/config.js';
import { checkImage, type CheckDeps, type TrackedImage } from './reconcile.js';

const image = 'localhost:5001/fleet/app:stable';

async function setup(options: { onMissingPlatform?: 'hold' | 'fail'; retain?: number } = {}): Promise<{ deps: CheckDeps; engine: FakeEngine; registry: FakeRegistry; job: TrackedImage; state: StateStore }> {
  const engine = new FakeEngine();
  const registry = new FakeRegistry();
  const state = new StateStore(join(mkdtempSync(join(tmpdir(), 'reconcile-')), 'state'), () => undefined);
  const deps: CheckDeps = { registry: registry.asClient(), engine, credentials: { get: () => Promise.resolve(undefined) }, state };
  const job: TrackedImage = { reference: parseReference(image), target: await targetFor(engine), onMissingPlatform: options.onMissingPlatform ?? 'hold', retain: options.retain ?? 1 };
  return { deps, engine, registry, job, state };
}

const pulls = (engine: FakeEngine): string[] => engine.calls.filter((c) => c.startsWith('pull '));

describe('checkImage', () => {
  it('pulls, tags and records the child on the first check; the next one costs one HEAD and nothing else', async () => {
    const { deps, engine, registry, job, state } = await setup();
    const { index, children } = registry.publish(image, [{ architecture: 'amd64', label: 'a1' }, { architecture: 'arm64', variant: 'v8', label: 'b1' }]);
    // The engine pulled from the origin's name: the content's host (docs/mirrors.md).
    expect(await checkImage(deps, job)).toEqual({ kind: 'pulled', indexDigest: index, childDigest: children[0], previous: undefined, pruned: [], servedBy: { content: 'localhost:5001' } });
    expect(pulls(engine)).toEqual([`pull localhost:5001/fleet/app@${children[0]}`]);
    expect((await engine.inspectImage('localhost:5001/fleet/app:stable'))?.repoDigests).toEqual([`localhost:5001/fleet/app@${children[0]}`]);
    expect((await state.get(image, await hostPlatform()))?.childDigest).toBe(children[0]);

    const before = { ...registry.requests };
    const calls = engine.calls.length;
    expect(await checkImage(deps, job)).toEqual({ kind: 'unchanged', indexDigest: index, childDigest: children[0], pulledAt: expect.any(String) });
    expect(registry.requests).toEqual({ HEAD: before.HEAD + 1, GET: before.GET });
    expect(engine.calls.slice(calls).filter((c) => !c.startsWith('inspect'))).toEqual([]);
  });

  it('a first check of a tag the engine already holds at the current child says so (wasPresent): nothing new arrived', async () => {
    const { deps, registry, job } = await setup();
    const { index, children } = registry.publish(image, [{ architecture: 'amd64', label: 'a1' }]);
    expect(await checkImage(deps, job)).toEqual({ kind: 'pulled', indexDigest: index, childDigest: children[0], previous: undefined, pruned: [], servedBy: { content: 'localhost:5001' } });
    // A new state folder (a fresh install, or an entry found by discovery) beside the same engine.
    const fresh = new StateStore(join(mkdtempSync(join(tmpdir(), 'reconcile-')), 'state'), () => undefined);
    expect(await checkImage({ ...deps, state: fresh }, job)).toEqual({ kind: 'pulled', indexDigest: index, childDigest: children[0], previous: undefined, pruned: [], wasPresent: true });
    // The child the engine has is not the current one: a real change, no wasPresent.
    const v2 = registry.publish(image, [{ architecture: 'amd64', label: 'a2' }]);
    const other = new StateStore(join(mkdtempSync(join(tmpdir(), 'reconcile-')), 'state'), () => undefined);
    expect(await checkImage({ ...deps, state: other }, job)).toEqual({ kind: 'pulled', indexDigest: v2.index, childDigest: v2.children[0], previous: undefined, pruned: [], servedBy: { content: 'localhost:5001' } });
  });

  it('records a new index digest without pulling when only another architecture changed', async () => {
    const { deps, engine, registry, job, state } = await setup();
    const first = registry.publish(image, [{ architecture: 'amd64', label: 'a1' }, { architecture: 'arm64', variant: 'v8', label: 'b1' }]);
    await checkImage(deps, job);
    const second = registry.publish(image, [{ architecture: 'amd64', label: 'a1' }, { architecture: 'arm64', variant: 'v8', label: 'b2' }]);
    expect(await checkImage(deps, job)).toEqual({ kind: 'index-changed', indexDigest: second.index, childDigest: first.children[0], pulledAt: expect.any(String) });
    expect(pulls(engine)).toHaveLength(1);
    expect((await state.get(image, await hostPlatform()))?.indexDigest).toBe(second.index);
  });

  it('pulls a changed child, keeps `retain` previous ones and prunes older ones unless a container uses them', async () => {
    const { deps, engine, registry, job } = await setup({ retain: 1 });
    const v1 = registry.publish(image, [{ architecture: 'amd64', label: 'v1' }]);
    await checkImage(deps, job);
    const v1Id = (await engine.inspectImage(`localhost:5001/fleet/app@${v1.children[0]}`))?.id ?? '';
    const v2 = registry.publish(image, [{ architecture: 'amd64', label: 'v2' }]);
    expect(await checkImage(deps, job)).toMatchObject({ kind: 'pulled', childDigest: v2.children[0], previous: v1.children[0], pruned: [] });
    engine.inUse.add(v1Id);
    const v3 = registry.publish(image, [{ architecture: 'amd64', label: 'v3' }]);
    expect(await checkImage(deps, job)).toMatchObject({ kind: 'pulled', childDigest: v3.children[0], pruned: [] });
    expect(await engine.inspectImage(`localhost:5001/fleet/app@${v1.children[0]}`)).toBeDefined();
    engine.inUse.clear();
    const v4 = registry.publish(image, [{ architecture: 'amd64', label: 'v4' }]);
    const o = await checkImage(deps, job);
    expect(o).toMatchObject({ kind: 'pulled', childDigest: v4.children[0] });
    expect(o.kind === 'pulled' ? [...o.pruned].sort() : []).toEqual([v1.children[0], v2.children[0]].sort());
    expect(await engine.inspectImage(`localhost:5001/fleet/app@${v3.children[0]}`)).toBeDefined();
  });

  it('holds the current image when the platform leaves the index (hold), or fails (fail)', async () => {
    const held = await setup({ onMissingPlatform: 'hold' });
    const v1 = held.registry.publish(image, [{ architecture: 'amd64', label: 'a1' }, { architecture: 'arm64', variant: 'v8', label: 'b1' }]);
    await checkImage(held.deps, held.job);
    const gone = held.registry.publish(image, [{ architecture: 'arm64', variant: 'v8', label: 'b1' }]);
    const o = await checkImage(held.deps, held.job);
    expect(o).toMatchObject({ kind: 'held', indexDigest: gone.index, childDigest: v1.children[0], available: ['linux/arm64/v8'] });
    expect(pulls(held.engine)).toHaveLength(1);

    const failing = await setup({ onMissingPlatform: 'fail' });
    failing.registry.publish(image, [{ architecture: 'arm64', variant: 'v8', label: 'b1' }]);
    await expect(checkImage(failing.deps, failing.job)).rejects.toBeInstanceOf(NoMatchingPlatformError);
  });

  it('dry run: says what it would pull and changes nothing', async () => {
    const { deps, engine, registry, job, state } = await setup();
    const { children } = registry.publish(image, [{ architecture: 'amd64', label: 'a1' }]);
    expect(await checkImage(deps, job, { dryRun: true })).toMatchObject({ kind: 'would-pull', childDigest: children[0], previous: undefined });
    expect(pulls(engine)).toEqual([]);
    expect(await state.get(image, await hostPlatform())).toBeUndefined();
  });

  it('a failed pull records nothing and tags nothing; the next check pulls', async () => {
    const { deps, engine, registry, job, state } = await setup();
    const { children } = registry.publish(image, [{ architecture: 'amd64', label: 'a1' }]);
    engine.pullHook = () => Promise.reject(new Error('no space left on device'));
    await expect(checkImage(deps, job)).rejects.toThrow(/no space left/);
    expect(await engine.inspectImage('localhost:5001/fleet/app:stable')).toBeUndefined();
    expect(await state.get(image, await hostPlatform())).toBeUndefined();
    engine.pullHook = undefined;
    expect(await checkImage(deps, job)).toMatchObject({ kind: 'pulled', childDigest: children[0] });
  });
  it('no room on the engine\'s disk: held with the shortage (not failed), nothing pulled or recorded; room again: pulled', async () => {
    const { deps, engine, registry, job, state } = await setup();
    const { index, children } = registry.publish(image, [{ architecture: 'amd64', label: 'a1', layerSizes: [300, 200] }]);
    let free = 1000;
    const preflight = createDiskPreflight({ ...defaultPreflight, path: '/data' }, { space: () => Promise.resolve({ free, total: 1e9 }) });
    const held = await checkImage({ ...deps, preflight }, job);
    expect(held).toMatchObject({ kind: 'held', reason: 'disk-space', indexDigest: index, childDigest: undefined, available: [], disk: { free: 1000, minFree: 1e8, path: '/data', childDigest: children[0] } });
    expect(held.kind === 'held' && held.message).toMatch(/^not enough disk space to pull localhost:5001\/fleet\/app@sha256:[0-9a-f]{64}: it needs about .* but \/data has 1\.00 kB free$/);
    expect(pulls(engine)).toEqual([]);
    expect(await state.get(image, await hostPlatform())).toBeUndefined();
    free = 1e9;
    expect((await checkImage({ ...deps, preflight }, job)).kind).toBe('pulled');
  });
  it('an index\'s child: `size` is its config + layers, from the manifest the disk preflight reads (no request of its own)', async () => {
    const { deps, registry, job } = await setup();
    registry.publish(image, [{ architecture: 'amd64', label: 'a1', layerSizes: [300, 200] }, { architecture: 'arm64', variant: 'v8', label: 'b1', layerSizes: [7] }]);
    const preflight = createDiskPreflight({ ...defaultPreflight, path: '/data' }, { space: () => Promise.resolve({ free: 1e12, total: 1e12 }) });
    const outcome = await checkImage({ ...deps, preflight }, job);
    // HEAD the tag, GET the index, GET the child's manifest (the preflight's): nothing more for the size.
    expect(registry.requests).toEqual({ HEAD: 1, GET: 2 });
    const child = registry.log.at(-2)?.split('@')[1] ?? '';
    const manifest = JSON.parse((await registry.getManifest({ host: 'localhost:5001', path: 'fleet/app' } as never, child)).body.toString()) as { config: { size: number } };
    expect(outcome).toMatchObject({ kind: 'pulled', childDigest: child, size: manifest.config.size + 500 });
    // Without a preflight nothing reads the child's manifest, and the size stays unknown (no GET is added for it).
    const other = await setup();
    other.registry.publish(image, [{ architecture: 'amd64', label: 'a2', layerSizes: [300] }, { architecture: 'arm64', variant: 'v8', label: 'b2' }]);
    const plain = await checkImage(other.deps, other.job);
    expect(other.registry.requests).toEqual({ HEAD: 1, GET: 1 });
    expect(plain.kind === 'pulled' && plain.size).toBeUndefined();
  });
});
