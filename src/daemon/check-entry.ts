/**
 * One check of one entry, as the runner asks for it (`CheckEntry`, runner.ts): built from the config generation
 * in force, which it holds until the check ends (a reload cannot close the services under it: issue 14 defect
 * 3). In order: the target platform (the generation's cache), what the state file recorded, the engine,
 * whether the entry owns its tag, the rollout wiring (rollout-hook.ts), then `checkImage`; after a check that
 * returned, the registry client's rate-limit headers go to `checked` (quota.ts). It emits nothing itself: the
 * runner turns the outcome into events.
 */
import { setMaxListeners } from 'node:events';
import { ResolverError } from '../errors.js';
import { formatPlatformAll } from '../platform/platform.js';
import { windowed } from '../prefetch/prefetch.js';
import { parseReference } from '../reference/reference.js';
import type { RateLimit } from '../registry/client.js';
import type { RegistryReader } from '../registry/registry.js';
import { checkImage } from '../resolver/reconcile.js';
import type { EntrySpec } from './events.js';
import type { Generation } from './generation.js';
import type { RolloutWiring } from './rollout-hook.js';
import type { CheckEntry } from './runner.js';

/** What a check needs besides the generation's services. */
export interface CheckEntryDeps {
  /** The generation in force; undefined before the daemon has one. */
  readonly generation: () => Generation | undefined;
  /** The reader and rollout hook of this check (`RolloutHooks.of`). */
  readonly rollout: (entry: EntrySpec, registry: RegistryReader, signal: AbortSignal) => RolloutWiring;
  /** After `checkImage` returned: the registry client's last `ratelimit-*` headers per host (`Quota.report`). */
  readonly checked: (rateLimits: ReadonlyMap<string, RateLimit>) => void;
}

/** The check of one entry. */
export function entryCheck(deps: CheckEntryDeps): CheckEntry {
  return async (entry, signal, options) => {
    const gen = deps.generation();
    if (gen === undefined) throw new ResolverError('ERR_ABORTED', 'the daemon is not started');
    const release = gen.acquire();
    try {
      // Each request of this check listens on its signal; a few are expected, more would be a leak.
      setMaxListeners(64, signal);
      const target = await gen.target(entry.platformSpec, signal);
      options.onPlatform(formatPlatformAll(target.platform));
      const { registry, credentials, state, preflight, prefetch } = gen.services;
      const record = await state.get(entry.image, formatPlatformAll(target.platform)).catch(() => undefined);
      options.onRecorded?.(record === undefined ? undefined : { indexDigest: record.indexDigest, childDigest: record.childDigest, pulledAt: record.pulledAt });
      const engine = await gen.services.engine(signal);
      const tag = await gen.ownsTag(entry, signal);
      const { reader, rollout } = deps.rollout(entry, registry, signal);
      const outcome = await checkImage(
        { registry: reader, engine, credentials, state, localTags: gen.localTags(engine), preflight, prefetch: windowed(prefetch, entry.rollout?.window), pullSources: (r) => gen.services.pullSources?.(r, target.rules.store) ?? Promise.resolve([]) },
        { reference: parseReference(entry.image), target, onMissingPlatform: entry.onMissingPlatform, retain: entry.retain, tag, rollout },
        { signal, dryRun: options.dryRun },
      );
      deps.checked(registry.rateLimits);
      return outcome;
    } finally {
      release();
    }
  };
}
