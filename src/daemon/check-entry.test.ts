import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostPlatform, targetFor } from '../../test/fakes/daemon-rig.js';
import { expectResolverError } from '../../test/fakes/expect-error.js';
import { FakeEngine } from '../../test/fakes/fake-engine.js';
import { FakeRegistry } from '../../test/fakes/fake-registry.js';
import { parseConfig } from '../config/load.js';
import { RegistryHttpError } from '../errors.js';
import type { RateLimit } from '../registry/client.js';
import type { RegistryReader } from '../registry/registry.js';
import { StateStore } from '../state/state-store.js';
import { entryCheck } from './check-entry.js';
import type { Recorded } from './events.js';
import { Generation, type DaemonServices } from './generation.js';

const image = 'localhost:5001/fleet/app:stable';
const signal = new AbortController().signal;

/** A generation over FakeEngine and FakeRegistry with a real state file; `closed` says whether its services closed. */
function setup(images = `  - image: ${image}\n`) {
  const engine = new FakeEngine();
  const registry = new FakeRegistry();
  const state = new StateStore(join(mkdtempSync(join(tmpdir(), 'check-entry-')), 'state'), () => undefined);
  const s = { closed: false };
  const services: DaemonServices = {
    registry: registry.asClient(), credentials: { get: () => Promise.resolve(undefined) }, state,
    engine: () => Promise.resolve(engine), target: ({ platform }) => targetFor(engine, platform),
    close: () => {
      s.closed = true;
      return Promise.resolve();
    },
  };
  const gen = new Generation(parseConfig(`stateDir: /tmp/unused\nimages:\n${images}`, 'check-entry.yaml'), services, () => 0);
  const wired: { entry: string; registry: RegistryReader }[] = [];
  const quotas: ReadonlyMap<string, RateLimit>[] = [];
  let current: Generation | undefined = gen;
  const check = entryCheck({
    generation: () => current,
    rollout: (entry, reader) => {
      wired.push({ entry: entry.key, registry: reader });
      return { reader, rollout: undefined };
    },
    checked: (rl) => quotas.push(new Map(rl)),
  });
  const entry = [...gen.entries.values()][0]!;
  const run = async (dryRun = false) => {
    const seen: { platform?: string; recorded?: Recorded | undefined } = {};
    const outcome = await check(entry, signal, { dryRun, onPlatform: (p) => (seen.platform = p), onRecorded: (r) => (seen.recorded = r) });
    return { outcome, seen };
  };
  return { engine, registry, gen, s, wired, quotas, check, entry, run, unset: () => (current = undefined) };
}

describe('entryCheck: one check of one entry from the generation in force', () => {
  it('reports the detected platform and what the state file recorded, reads through the rollout wiring, and hands the rate limits on', async () => {
    const t = setup();
    const { children } = t.registry.publish(image, [{ architecture: 'amd64', label: 'a1' }]);
    t.registry.rateLimits.set('localhost:5001', { limit: 100, remaining: 99, window: '21600' });
    const first = await t.run();
    expect(first.outcome).toMatchObject({ kind: 'pulled', childDigest: children[0] });
    expect(first.seen).toEqual({ platform: await hostPlatform(), recorded: undefined });
    expect(t.wired.map((w) => w.entry)).toEqual([t.entry.key]);
    expect(t.wired[0]?.registry).toBe(t.registry.asClient());
    expect(t.quotas).toEqual([new Map([['localhost:5001', { limit: 100, remaining: 99, window: '21600' }]])]);

    const second = await t.run();
    expect(second.outcome).toMatchObject({ kind: 'unchanged', childDigest: children[0] });
    expect(second.seen.recorded).toMatchObject({ childDigest: children[0], indexDigest: expect.stringMatching(/^sha256:/) });
    expect(t.engine.calls.filter((c) => c.startsWith('pull '))).toHaveLength(1);
  });

  it('a dry run pulls nothing', async () => {
    const t = setup();
    t.registry.publish(image, [{ architecture: 'amd64', label: 'a1' }]);
    expect((await t.run(true)).outcome.kind).toBe('would-pull');
    expect(t.engine.calls.filter((c) => c.startsWith('pull '))).toEqual([]);
  });

  it('holds the generation until the check ends: a generation retired during a pull closes after it (issue 14 defect 3)', async () => {
    const t = setup();
    t.registry.publish(image, [{ architecture: 'amd64', label: 'a1' }]);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let pulling!: () => void;
    const started = new Promise<void>((resolve) => (pulling = resolve));
    t.engine.pullHook = () => {
      pulling();
      return gate;
    };
    const running = t.run();
    await started;
    t.gen.retire();
    expect(t.s.closed).toBe(false);
    release();
    await running;
    expect(t.s.closed).toBe(true);
  });

  it('a check that fails hands no rate limits on and releases the generation; without a generation it is ERR_ABORTED', async () => {
    const t = setup();
    t.registry.hooks.set('localhost:5001', () => {
      throw new RegistryHttpError('ERR_REGISTRY_HTTP', 'localhost:5001 answered 500', { status: 500, method: 'HEAD', url: 'http://localhost:5001/v2/' });
    });
    await expectResolverError(t.run(), 'ERR_REGISTRY_HTTP');
    expect(t.quotas).toEqual([]);
    t.gen.retire();
    expect(t.s.closed).toBe(true);
    t.unset();
    const e = await expectResolverError(t.run(), 'ERR_ABORTED');
    expect(e.message).toBe('the daemon is not started');
  });
});
