/**
 * The staged rollout's one hook in a check (issue 12 §3; docs/rollout.md). An entry whose policy can hold a
 * pull (`isGated`) gets the gate's hook (rollout-gate.ts), which `checkImage` asks before it pulls a new child,
 * and a registry reader that remembers manifests by digest, so an entry that waits in the ramp re-reads its
 * index without a counted GET. Every other entry gets the registry itself and no hook: nothing on its path.
 * One per daemon: the gate's first-seen times and the remembered manifests outlive config generations.
 */
import type { FetchedManifest, RegistryReader } from '../registry/registry.js';
import type { CheckDeps, TrackedImage } from '../resolver/reconcile.js';
import { isGated } from '../rollout/config.js';
import type { EntrySpec } from './events.js';
import { rememberingReader, RolloutGate } from './rollout-gate.js';

/** What one check of an entry reads the registry through, and the hook it asks before a pull. */
export interface RolloutWiring {
  readonly reader: CheckDeps['registry'];
  readonly rollout: TrackedImage['rollout'];
}

/** The rollout hooks of a daemon. */
export class RolloutHooks {
  readonly #gate: RolloutGate;
  readonly #manifests = new Map<string, FetchedManifest>();

  /** `stateDir`: where `rollout.json` is (read when a gated entry first needs it). */
  constructor(o: { readonly stateDir: () => string; readonly now?: () => number }) {
    this.#gate = new RolloutGate(o);
  }

  /** The reader and hook of one check of `entry` on device `device`. */
  of(entry: EntrySpec, o: { readonly registry: RegistryReader; readonly device: string; readonly signal: AbortSignal }): RolloutWiring {
    const policy = entry.rollout !== undefined && isGated(entry.rollout) ? entry.rollout : undefined;
    if (policy === undefined) return { reader: o.registry, rollout: undefined };
    const reader = rememberingReader(o.registry, this.#manifests);
    return { reader, rollout: this.#gate.hook({ key: entry.key, image: entry.image, device: o.device, policy, registry: reader, signal: o.signal }) };
  }
}
