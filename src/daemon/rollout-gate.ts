/**
 * The daemon's side of the staged rollout (issue 12 §3; docs/rollout.md): the one hook `checkImage` asks
 * before it pulls a new child. It remembers when this device first saw each entry's new child (in
 * `rollout.json` beside the state file, written durably, so a restart keeps the ramp's clock), reads the
 * control document `REPO:TAG.rollout` when the policy asks for it (one HEAD per check; a GET only when its
 * digest changed), and applies the pure `decide` (src/rollout/decide.ts).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { parseJson } from '../json/parse-json.js';
import { ResolverError } from '../errors.js';
import { parseReference, withDefaultTag } from '../reference/reference.js';
import { repositoryOf } from '../reference/repository.js';
import type { FetchedManifest, RegistryReader } from '../registry/registry.js';
import type { RolloutHold, RolloutCandidate } from '../resolver/reconcile.js';
import { controlTag, parseControl } from '../rollout/control.js';
import { decide, noControl, type Decision, type RolloutControl, type RolloutPolicy } from '../rollout/decide.js';
import { writeFileDurable } from '../state/durable-file.js';

const Seen = z.object({ child: z.string(), firstSeen: z.number() });
type Seen = z.infer<typeof Seen>;
/** `rollout.json`: first-seen times per entry key; an entry of another shape is skipped alone. */
const SeenFile = z.record(z.string(), z.unknown());

/** The gate. One per daemon; its memory of first-seen times outlives config generations. */
export class RolloutGate {
  readonly #file: () => string;
  readonly #now: () => number;
  #seen: Map<string, Seen> | undefined;
  #writing: Promise<void> = Promise.resolve();
  readonly #controls = new Map<string, { digest: string; control: RolloutControl }>();

  constructor(o: { readonly stateDir: () => string; readonly now?: () => number }) {
    this.#file = () => join(o.stateDir(), 'rollout.json');
    this.#now = o.now ?? Date.now;
  }

  async #load(): Promise<Map<string, Seen>> {
    if (this.#seen !== undefined) return this.#seen;
    const text = await readFile(this.#file(), 'utf8').catch(() => '{}');
    const seen = new Map<string, Seen>();
    // A corrupt file (or entry) restarts the ramp's clock (of that entry): the safe direction (later, never earlier).
    const json = parseJson(SeenFile, text);
    for (const [k, v] of Object.entries(json.success ? json.data : {})) {
      const s = Seen.safeParse(v);
      if (s.success) seen.set(k, s.data);
    }
    this.#seen ??= seen;
    return this.#seen;
  }

  /** When this device first saw `child` for `key` (recorded now if new). */
  async firstSeen(key: string, child: string): Promise<number> {
    const seen = await this.#load();
    const s = seen.get(key);
    if (s?.child === child) return s.firstSeen;
    const firstSeen = this.#now();
    seen.set(key, { child, firstSeen });
    const data = JSON.stringify(Object.fromEntries(seen), null, 1);
    this.#writing = this.#writing.then(() => writeFileDurable(this.#file(), data)).catch(() => undefined);
    await this.#writing;
    return firstSeen;
  }

  /** The control document of `image` (a HEAD; a GET when it changed); none when the tag does not exist. */
  async control(registry: RegistryReader, image: string, signal: AbortSignal): Promise<RolloutControl> {
    const ref = withDefaultTag(parseReference(image));
    const tag = controlTag(ref.tag ?? 'latest');
    if (tag === undefined) return noControl;
    const repo = repositoryOf(ref);
    let digest: string;
    try {
      digest = (await registry.resolveTag(repo, tag, signal)).digest;
    } catch (error) {
      if (error instanceof ResolverError && error.code === 'ERR_NOT_FOUND') {
        this.#controls.delete(image);
        return noControl;
      }
      throw error;
    }
    const hit = this.#controls.get(image);
    if (hit?.digest === digest) return hit.control;
    const parsed = parseControl((await registry.getManifest(repo, digest, signal)).body);
    // An unreadable document holds every new child (fail safe) and says why.
    const control: RolloutControl = 'problem' in parsed ? { paused: true, blocked: [], step: undefined } : parsed;
    if ('problem' in parsed) throw new ResolverError('ERR_MANIFEST_INVALID', `${image}: the rollout control document ${tag} is unreadable (${parsed.problem}); new children are held until it is fixed`);
    this.#controls.set(image, { digest, control });
    return control;
  }

  /** The hook for one check of `key`. */
  hook(o: { readonly key: string; readonly image: string; readonly device: string; readonly policy: RolloutPolicy & { readonly control: boolean }; readonly registry: RegistryReader; readonly signal: AbortSignal; readonly onDecision?: (d: Decision) => void }): (c: RolloutCandidate) => Promise<RolloutHold | undefined> {
    return async (c) => {
      // A device with nothing of this tag yet takes the current child at once: a new device must not sit empty.
      if (c.previous === undefined) return undefined;
      const firstSeen = await this.firstSeen(o.key, c.childDigest);
      const control = o.policy.control ? await this.control(o.registry, o.image, o.signal) : noControl;
      const now = this.#now();
      const d = decide({ device: o.device, child: c.childDigest, firstSeen }, { now, utcOffsetMinutes: -new Date(now).getTimezoneOffset() }, o.policy, control);
      o.onDecision?.(d);
      const share = (k: number): string => `${Math.round((o.policy.steps[k] ?? 1) * 1000) / 10}%`;
      switch (d.kind) {
        case 'pull':
          return undefined;
        case 'blocked':
          return { until: undefined, message: `the rollout control document blocks ${c.childDigest}` };
        case 'paused':
          return { until: undefined, message: control.paused ? 'the rollout is paused by its control document' : `the control document holds the ramp at step ${control.step ?? 0} (${share(control.step ?? 0)}); this device is in step ${d.step} (${share(d.step)})` };
        case 'wait':
          return {
            until: new Date(d.until).toISOString(),
            message: d.reason === 'cooldown' ? 'cooldown: the new child is not old enough yet' : d.reason === 'cohort' ? `ramp: this device is in step ${d.step} (${share(d.step)}), open from then` : 'outside the prefetch window',
          };
      }
    };
  }
}

/**
 * A reader whose manifests by digest are remembered (content-addressed, verified when first fetched), so the
 * checks of an entry that waits in the ramp re-resolve its index without a counted GET each time. Bounded:
 * 64 documents of at most 256 KiB.
 */
export function rememberingReader(registry: RegistryReader, cache: Map<string, FetchedManifest>): RegistryReader {
  return {
    resolveTag: (repo, reference, signal) => registry.resolveTag(repo, reference, signal),
    getBlob: (repo, digest, signal, maxBytes) => registry.getBlob(repo, digest, signal, maxBytes),
    downloadBlob: (repo, blob, sink, options) => registry.downloadBlob(repo, blob, sink, options),
    async getManifest(repo, digest, signal, expectedSize) {
      const key = `${repo.host}/${repo.path}@${digest}`;
      const hit = cache.get(key);
      if (hit !== undefined && (expectedSize === undefined || hit.body.byteLength === expectedSize)) return hit;
      const m = await registry.getManifest(repo, digest, signal, expectedSize);
      if (m.body.byteLength <= 256 * 1024) {
        cache.set(key, m);
        if (cache.size > 64) cache.delete(cache.keys().next().value ?? key);
      }
      return m;
    },
  };
}
