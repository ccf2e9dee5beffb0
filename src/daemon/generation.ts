/**
 * One config generation (issue 14 defect 3): a config with the services built from it and the caches that
 * live as long as they do (detected targets, the engine's tag listing). It is reference-counted: a reload
 * retires it at once, and it closes its services only when the last check that holds it has finished.
 */
import type { Config } from '../config/schema.js';
import type { FoundEntry } from '../discover/select.js';
import type { Engine, ImageInfo } from '../engine/engine.js';
import type { TargetPlatform } from '../platform/detect.js';
import type { Prefetch } from '../prefetch/prefetch.js';
import type { DiskPreflight } from '../preflight/preflight.js';
import type { Reference } from '../reference/reference.js';
import type { RegistryClient } from '../registry/client.js';
import type { CredentialStore } from '../registry/credentials.js';
import { indexByTag } from '../resolver/reconcile.js';
import type { StateStore } from '../state/state-store.js';
import { entriesOf } from './entries.js';
import type { EntrySpec } from './events.js';

/** The IO the daemon needs, built by the composition root from a config. */
export interface DaemonServices {
  readonly registry: RegistryClient;
  readonly credentials: CredentialStore;
  readonly state: StateStore;
  /** The disk preflight before each pull (config `preflight:`); none: no check. */
  readonly preflight?: DiskPreflight | undefined;
  engine(signal?: AbortSignal): Promise<Engine>;
  target(options: { platform?: string | undefined }, signal?: AbortSignal): Promise<TargetPlatform>;
  /** The resolver-side prefetch (docs/prefetch.md); undefined: off. */
  readonly prefetch?: Prefetch | undefined;
  /** Mirror repositories the engine pulls a child from first (docs/mirrors.md). */
  pullSources?(ref: Reference, store: 'classic' | 'containerd'): Promise<readonly string[]>;
  close(): Promise<void>;
}

/** How long a detected target is reused (host detection costs ~0.6 ms; a changed engine is seen within it). */
export const targetTtlMs = 300_000;
/** How long one image listing is shared by the checks that need it. */
export const listingTtlMs = 1000;

/** A config with its services and caches; closed once retired and no run holds it. */
export class Generation {
  readonly config: Config;
  readonly services: DaemonServices;
  /** Replaced when discovered entries change (same config, same services). */
  entries: ReadonlyMap<string, EntrySpec>;
  #refs = 0;
  #retired = false;
  #closed: Promise<void> | undefined;
  /** Detected targets per platform spec, refreshed every `targetTtlMs`. */
  readonly #targets = new Map<string, { at: number; target: Promise<TargetPlatform> }>();
  /** One image listing shared by the checks of the next `listingTtlMs`. */
  #listing: { at: number; tags: Promise<ReadonlyMap<string, ImageInfo>> } | undefined;
  readonly #mono: () => number;

  constructor(config: Config, services: DaemonServices, mono: () => number, found: readonly FoundEntry[] = []) {
    this.config = config;
    this.services = services;
    this.entries = new Map(entriesOf(config, found).map((e) => [e.key, e]));
    this.#mono = mono;
  }

  /** Re-merges the found entries; the new list when it differs (an entry, or an entry's source), else undefined. */
  refound(found: readonly FoundEntry[] = []): EntrySpec[] | undefined {
    const before = this.entries;
    const entries = entriesOf(this.config, found);
    if (entries.length === before.size && entries.every((e) => before.get(e.key)?.source === e.source)) return undefined;
    this.entries = new Map(entries.map((e) => [e.key, e]));
    return entries;
  }

  /** Holds the generation open; call the result when done (a second call does nothing). */
  acquire(): () => void {
    this.#refs++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#refs--;
      if (this.#retired && this.#refs === 0) void this.close();
    };
  }

  /** No new run will use it; closes now or after the last run. */
  retire(): void {
    this.#retired = true;
    if (this.#refs === 0) void this.close();
  }

  /** Closes the services once (a failure to close is not the caller's). */
  close(): Promise<void> {
    this.#closed ??= this.services.close().catch(() => undefined);
    return this.#closed;
  }

  /** The detected target of a platform spec (undefined: the host's), kept `targetTtlMs`; a failure is not kept. */
  target(platform: string | undefined, signal: AbortSignal): Promise<TargetPlatform> {
    const key = platform ?? '';
    const hit = this.#targets.get(key);
    if (hit !== undefined && this.#mono() - hit.at < targetTtlMs) return hit.target;
    const target = this.services.target({ platform }, signal);
    this.#targets.set(key, { at: this.#mono(), target });
    target.catch(() => this.#targets.delete(key));
    return target;
  }

  /** The engine's images by tag, one listing shared for `listingTtlMs`; a failed listing is not kept. */
  localTags(engine: Engine): () => Promise<ReadonlyMap<string, ImageInfo>> {
    return () => {
      const now = this.#mono();
      if (this.#listing === undefined || now - this.#listing.at > listingTtlMs) {
        const tags = engine.listImages().then(indexByTag);
        this.#listing = { at: now, tags };
        tags.catch(() => (this.#listing = undefined));
      }
      return this.#listing.tags;
    };
  }

  /**
   * Whether `entry` owns its tag (`name:tag` in the engine). Docker has one `name:tag` per engine; an image
   * listed for several platforms gives it to the entry of the host's platform (os and architecture), else to
   * the first listed; the others keep their child by digest only (README, "One tag for two platforms").
   */
  async ownsTag(entry: EntrySpec, signal: AbortSignal): Promise<boolean> {
    const same = [...this.entries.values()].filter((e) => e.image === entry.image);
    if (same.length <= 1) return true;
    const host = (await this.target(undefined, signal)).platform;
    const targets = await Promise.all(same.map(async (e) => (await this.target(e.platformSpec, signal)).platform));
    const i = targets.findIndex((p) => p.os === host.os && p.architecture === host.architecture);
    return same[i === -1 ? 0 : i]?.key === entry.key;
  }
}
