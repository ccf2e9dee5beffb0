import { describe, expect, it } from 'vitest';
import { ResolverError } from '../../errors.js';
import { FakeEngine } from '../../../test/fakes/fake-engine.js';
import { FakeRegistry } from '../../../test/fakes/fake-registry.js';
import { expectResolverError } from '../../../test/fakes/expect-error.js';
import { targetFor } from '../../../test/fakes/daemon-rig.js';
import { run, toJson, type WhichDeps } from './which.js';

const image = 'localhost:5001/fleet/app:stable';

function deps(registry: FakeRegistry, engine = new FakeEngine(), extra: Partial<WhichDeps> = {}): WhichDeps {
  return { registry: registry.asClient(), target: (o) => targetFor(engine, o.platform), ...extra };
}

describe('which: run(options, deps)', () => {
  it("resolves the host's child with one HEAD and one GET of the index", async () => {
    const registry = new FakeRegistry();
    const { index, children } = registry.publish(image, [{ architecture: 'arm64', variant: 'v8', label: 'a' }, { architecture: 'amd64', label: 'b' }]);
    const r = await run({ image }, deps(registry));
    expect(r.resolution.chosen.digest).toBe(children[1]);
    expect(r.resolution.levels[0]?.digest).toBe(index);
    expect(registry.requests).toEqual({ HEAD: 1, GET: 1 });
  });

  it('--platform picks another child, and the JSON names what was asked', async () => {
    const registry = new FakeRegistry();
    const { children } = registry.publish(image, [{ architecture: 'arm64', variant: 'v8', label: 'a' }, { architecture: 'amd64', label: 'b' }]);
    const r = await run({ image, platform: 'linux/arm64', json: true }, deps(registry));
    expect(r.resolution.chosen.digest).toBe(children[0]);
    expect(toJson(r)).toMatchObject({ reference: image, chosen: { digest: children[0], platform: 'linux/arm64/v8' }, target: { requested: true } });
  });

  it('no child for the platform: ERR_NO_MATCHING_PLATFORM (exit 3)', async () => {
    const registry = new FakeRegistry();
    registry.publish(image, [{ architecture: 'arm64', variant: 'v8', label: 'a' }]);
    await expectResolverError(run({ image }, deps(registry)), 'ERR_NO_MATCHING_PLATFORM');
  });

  it('a registry that never answers ends at the deadline (13.23)', async () => {
    const registry = new FakeRegistry();
    registry.publish(image, [{ architecture: 'amd64', label: 'b' }]);
    registry.hooks.set('localhost:5001', (_repo, _what, signal) => new Promise((_, reject) => signal?.addEventListener('abort', () => reject(new Error('aborted')))));
    const e = await expectResolverError(run({ image, timeoutMs: 50 }, deps(registry)), 'ERR_NETWORK');
    expect(e.message).toBe(`resolving ${image} did not finish within 0.05 s (the command's deadline)`);
  });

  it('SIGINT/SIGTERM (the signal in deps) cancels it as ERR_ABORTED', async () => {
    const registry = new FakeRegistry();
    registry.publish(image, [{ architecture: 'amd64', label: 'b' }]);
    const controller = new AbortController();
    controller.abort(new Error('interrupted'));
    registry.hooks.set('localhost:5001', (_repo, _what, signal) => {
      // What http.ts throws for a cancelled request.
      if (signal?.aborted === true) throw new ResolverError('ERR_ABORTED', 'request to localhost:5001 was cancelled');
    });
    const e = await expectResolverError(run({ image, timeoutMs: 10_000 }, deps(registry, new FakeEngine(), { signal: controller.signal })), 'ERR_ABORTED');
    expect(e.message).not.toContain('deadline');
  });
});
