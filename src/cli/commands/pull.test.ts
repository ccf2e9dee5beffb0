import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { ImageEngine } from '../../engine/engine.js';
import { StateStore } from '../../state/state-store.js';
import { FakeEngine } from '../../../test/fakes/fake-engine.js';
import { FakeRegistry } from '../../../test/fakes/fake-registry.js';
import { expectResolverError } from '../../../test/fakes/expect-error.js';
import { hostPlatform, targetFor } from '../../../test/fakes/daemon-rig.js';
import { run, type PullCommandDeps } from './pull.js';

const image = 'localhost:5001/fleet/app:stable';

function setup(): { registry: FakeRegistry; engine: FakeEngine; state: StateStore; deps: PullCommandDeps; drawn: string[] } {
  const registry = new FakeRegistry();
  const engine = new FakeEngine();
  const state = new StateStore(join(mkdtempSync(join(tmpdir(), 'pull-cmd-')), 'state'), () => undefined);
  const drawn: string[] = [];
  const deps: PullCommandDeps = {
    registry: registry.asClient(), target: (o) => targetFor(engine, o.platform), engine: () => Promise.resolve(engine),
    credentials: { get: () => Promise.resolve(undefined) }, state, sink: { write: (t) => void drawn.push(t), isTTY: false, columns: 80, noEscapes: true },
  };
  return { registry, engine, state, deps, drawn };
}

describe('pull: run(options, deps)', () => {
  it('gets the engine\'s image half only: it cannot start a container (checked by tsc)', () => {
    expectTypeOf<Awaited<ReturnType<PullCommandDeps['engine']>>>().toEqualTypeOf<ImageEngine>();
  });


  it('pulls the child by digest, tags name:tag and records it; a second pull pulls nothing', async () => {
    const { registry, engine, state, deps } = setup();
    const { children } = registry.publish(image, [{ architecture: 'amd64', label: 'a' }, { architecture: 'arm64', variant: 'v8', label: 'b' }]);
    const first = await run({ image }, deps);
    expect(first).toMatchObject({ pulled: true, tagged: image, digestReference: `localhost:5001/fleet/app@${children[0]}` });
    expect(engine.calls.filter((c) => c.startsWith('pull '))).toEqual([`pull localhost:5001/fleet/app@${children[0]}`]);
    expect((await state.get(image, await hostPlatform()))?.childDigest).toBe(children[0]);
    const second = await run({ image, quiet: true }, { ...deps, sink: undefined });
    expect(second.pulled).toBe(false);
    expect(engine.calls.filter((c) => c.startsWith('pull '))).toHaveLength(1);
  });

  it('the resolution is under the deadline; the engine is not asked when it passes', async () => {
    const { registry, engine, deps } = setup();
    registry.publish(image, [{ architecture: 'amd64', label: 'a' }]);
    registry.hooks.set('localhost:5001', (_repo, _what, signal) => new Promise((_, reject) => signal?.addEventListener('abort', () => reject(new Error('aborted')))));
    await expectResolverError(run({ image, timeoutMs: 50 }, deps), 'ERR_NETWORK');
    expect(engine.calls.filter((c) => c.startsWith('pull '))).toEqual([]);
  });

  describe('--platform and a single-platform image of another platform (as docker pull; src/resolver/platform-check.ts)', () => {
    const single = (engine: FakeEngine, version: string, store: 'classic' | 'containerd' = 'classic'): void => {
      Object.assign(engine.factsValue, { version, store });
      engine.pulledPlatform = { os: 'linux', architecture: 'arm64', variant: '' };
    };

    it('Docker 20.10: pulled, tagged and recorded, with the engine\'s warning', async () => {
      const { registry, engine, state, deps } = setup();
      const digest = registry.publishSingle(image, { architecture: 'arm64', label: 'arm' });
      single(engine, '20.10.24');
      const o = await run({ image, platform: 'linux/amd64' }, deps);
      expect(o).toMatchObject({ pulled: true, tagged: image, verdict: { kind: 'warn', message: 'image with reference localhost:5001/fleet/app was found but does not match the specified platform: wanted linux/amd64, actual: linux/arm64' } });
      expect((await state.get(image, 'linux/amd64'))?.childDigest).toBe(digest);
    });

    it('Docker 26.1: pulled and tagged, then the pull fails (ERR_NO_MATCHING_PLATFORM)', async () => {
      const { registry, engine, deps } = setup();
      registry.publishSingle(image, { architecture: 'arm64', label: 'arm' });
      single(engine, '26.1.5');
      const error = await expectResolverError(run({ image, platform: 'linux/amd64' }, deps), 'ERR_NO_MATCHING_PLATFORM');
      expect(error.message).toBe('image with reference localhost:5001/fleet/app:stable was found but does not match the specified platform: wanted linux/amd64, actual: linux/arm64');
      expect((await engine.inspectImage(image))?.architecture).toBe('arm64');
    });

    it('no --platform, the containerd store, or an index: no verdict', async () => {
      const { registry, engine, deps } = setup();
      registry.publishSingle(image, { architecture: 'arm64', label: 'arm' });
      single(engine, '26.1.5');
      expect((await run({ image }, deps)).verdict).toEqual({ kind: 'match' });
      single(engine, '26.1.5', 'containerd');
      expect((await run({ image, platform: 'linux/amd64' }, deps)).verdict).toEqual({ kind: 'match' });
      const other = setup();
      other.registry.publish(image, [{ architecture: 'arm64', variant: 'v8', label: 'a' }, { architecture: 'amd64', label: 'b' }]);
      single(other.engine, '26.1.5');
      expect((await run({ image, platform: 'linux/amd64' }, other.deps)).verdict).toEqual({ kind: 'match' });
    });
  });

  it('a failing engine pull fails the command with the engine\'s message; nothing tagged, nothing recorded', async () => {
    const { registry, engine, state, deps } = setup();
    registry.publish(image, [{ architecture: 'amd64', label: 'a' }]);
    engine.pullHook = () => {
      throw new Error('no space left on device');
    };
    await expect(run({ image }, deps)).rejects.toThrow(/no space left on device/);
    expect(await engine.inspectImage(image)).toBeUndefined();
    expect(await state.get(image, await hostPlatform())).toBeUndefined();
  });
});
