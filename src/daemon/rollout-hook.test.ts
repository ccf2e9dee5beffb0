import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeRegistry } from '../../test/fakes/fake-registry.js';
import { parseConfig } from '../config/load.js';
import { repositoryOf } from '../reference/repository.js';
import { parseReference } from '../reference/reference.js';
import { entriesOf } from './entries.js';
import type { EntrySpec } from './events.js';
import { RolloutHooks } from './rollout-hook.js';

const image = 'localhost:5001/fleet/app:stable';
const now = Date.parse('2026-12-01T12:00:00.000Z');
const signal = new AbortController().signal;
const entryOf = (rollout: string): EntrySpec => entriesOf(parseConfig(`stateDir: /tmp/unused\n${rollout}images:\n  - image: ${image}\n`, 'rollout-hook.yaml'))[0]!;

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'rollout-hook-'));
  const registry = new FakeRegistry();
  const hooks = new RolloutHooks({ stateDir: () => dir, now: () => now });
  return { dir, registry, hooks };
}

describe('RolloutHooks', () => {
  it('an entry whose policy holds nothing reads the registry itself and gets no hook', () => {
    const { registry, hooks } = setup();
    const wiring = hooks.of(entryOf(''), { registry: registry.asClient(), device: 'pi-7', signal });
    expect(wiring.reader).toBe(registry.asClient());
    expect(wiring.rollout).toBeUndefined();
  });

  it('a gated entry gets the gate\'s hook: a device with nothing yet pulls at once, a new child waits its cooldown from first-seen (kept in rollout.json)', async () => {
    const { dir, registry, hooks } = setup();
    const entry = entryOf('rollout:\n  cooldown: 1h\n');
    const { rollout } = hooks.of(entry, { registry: registry.asClient(), device: 'pi-7', signal });
    expect(await rollout?.({ indexDigest: 'sha256:i', childDigest: 'sha256:new', previous: undefined })).toBeUndefined();
    expect(await rollout?.({ indexDigest: 'sha256:i', childDigest: 'sha256:new', previous: 'sha256:old' })).toEqual({
      until: new Date(now + 3_600_000).toISOString(), message: 'cooldown: the new child is not old enough yet',
    });
    expect(JSON.parse(readFileSync(join(dir, 'rollout.json'), 'utf8'))).toEqual({ [entry.key]: { child: 'sha256:new', firstSeen: now } });
  });

  it('a gated entry reads manifests by digest through a memory that outlives one check (a waiting entry re-reads its index without a counted GET)', async () => {
    const { registry, hooks } = setup();
    const { index } = registry.publish(image, [{ architecture: 'amd64', label: 'a1' }]);
    const entry = entryOf('rollout:\n  cooldown: 1h\n');
    const repo = repositoryOf(parseReference(image));
    const first = hooks.of(entry, { registry: registry.asClient(), device: 'pi-7', signal });
    expect(first.reader).not.toBe(registry.asClient());
    await first.reader.getManifest(repo, index, signal);
    await first.reader.getManifest(repo, index, signal);
    // The next check's reader (a new generation's registry client, even) shares the memory.
    const next = hooks.of(entry, { registry: registry.asClient(), device: 'pi-7', signal });
    expect((await next.reader.getManifest(repo, index, signal)).digest).toBe(index);
    expect(registry.requests.GET).toBe(1);
    // Tags are always asked.
    await next.reader.resolveTag(repo, 'stable', signal);
    await next.reader.resolveTag(repo, 'stable', signal);
    expect(registry.requests.HEAD).toBe(2);
  });
});
