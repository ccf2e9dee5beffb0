/**
 * The entries source of discovery by label (docs/discovery.md): lists the engine's containers, follows the
 * tags of those `select.ts` picks, and re-lists when containers are created, started, stopped, renamed or
 * destroyed — from the engine's events stream (filtered to containers), debounced, with a full re-list every
 * `resync` as the safety net. The stream is reopened after it is lost, with jittered exponential backoff
 * (1 s doubling to 60 s, at least 0.5 s: a lost stream never spins), and reopened on purpose every 15 min so
 * that no wait on it is unbounded; after every (re)connection the containers are re-listed, because what
 * happened while it was down was not seen. A listing that fails keeps the entries found before (an engine
 * restart does not drop them). Every engine request has a deadline.
 * The daemon consumes it through `EntriesSource` (`current`, `onChange`); the composition root configures it.
 */
import { ResolverError } from '../errors.js';
import { sleep } from '../limit/abort.js';
import { deadlineSignal, settleWithin, withDeadline } from '../limit/deadline.js';
import type { Logger } from '../log/logger.js';
import type { DiscoveryConfig } from './config.js';
import { entriesFingerprint, followedImage, followReason, groupEntries, listChangingActions, type Followed, type FoundEntry, type ImagePlatform } from './select.js';

/** The engine as discovery uses it: src/engine's ContainerEngine and ImageEngine's inspectImage (discover/ is below engine/, so it names them itself). */
export interface DiscoveryEngine {
  listContainers(signal?: AbortSignal): Promise<readonly { readonly id: string; readonly name: string; readonly imageId: string; readonly labels: Readonly<Record<string, string>>; readonly state: string }[]>;
  inspectContainer(id: string, signal?: AbortSignal): Promise<{ readonly image: string; readonly imageId: string } | undefined>;
  inspectImage(name: string): Promise<ImagePlatform | undefined>;
  containerEvents(signal: AbortSignal, options?: { readonly connectTimeoutMs?: number }): Promise<AsyncIterable<{ readonly action: string; readonly id: string }>>;
}

/** An engine connection and the host's platform, built by the composition root for one config. */
export interface DiscoveryConnection {
  engine(signal?: AbortSignal): Promise<DiscoveryEngine>;
  /** The platform an entry without `platform:` resolves to (the detected host platform). */
  hostPlatform(signal?: AbortSignal): Promise<ImagePlatform>;
  close(): Promise<void>;
}

/** Timing of discovery (defaults in parentheses); tests shorten them. */
export interface DiscoveryTiming {
  /** Deadline of each engine request and of connecting (15 s). */
  readonly requestTimeoutMs?: number;
  /** A stream is reopened after this long, on purpose (15 min). */
  readonly maxStreamMs?: number;
  /** Longest wait before reconnecting (60 s). */
  readonly backoffMaxMs?: number;
  /** A stream that lived this long was healthy: the backoff starts again from 1 s (30 s). */
  readonly healthyStreamMs?: number;
}

/** Dependencies of discovery. */
export interface DiscoveryDeps extends DiscoveryTiming {
  readonly logger: Logger;
  readonly monotonic?: () => number;
  readonly random?: () => number;
}

/** What happened, for tests and benchmarks. */
export interface DiscoveryStats {
  /** Event streams opened. */
  connections: number;
  /** Listings that completed. */
  listings: number;
  /** Container events read. */
  events: number;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Resolves after `ms`, or at once (resolving) when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, signal).catch(() => undefined);
}

/** `promise`, or ERR_ENGINE_UNAVAILABLE `WHAT: no answer within S s` once `ms` passed. */
function answered<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return withDeadline(promise, ms, { what, code: 'ERR_ENGINE_UNAVAILABLE', message: `${what}: no answer within ${ms / 1000} s` });
}

/** Discovery: the entries found on the engine, kept current. */
export class Discovery {
  readonly stats: DiscoveryStats = { connections: 0, listings: 0, events: 0 };
  readonly #deps: DiscoveryDeps;
  readonly #log: Logger;
  readonly #mono: () => number;
  readonly #listeners = new Set<() => void>();
  #config: DiscoveryConfig | undefined;
  #connection: { key: string; value: DiscoveryConnection } | undefined;
  #watch: { controller: AbortController; loop: Promise<void> } | undefined;
  #entries: readonly FoundEntry[] = [];
  #fingerprint = '';
  #stopped = false;
  #stop = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #pendingSince: number | undefined;
  #resync: NodeJS.Timeout | undefined;
  #inflight: Promise<void> | undefined;
  #again = false;
  #listingFails = false;
  #streamLost = false;
  /** `Config.Image` per container ID (it never changes for a container). */
  readonly #images = new Map<string, { image: string; imageId: string }>();
  /** Platform per image ID (an image's config never changes). */
  readonly #platforms = new Map<string, ImagePlatform>();
  /** Containers already logged as not followable. */
  readonly #skipped = new Set<string>();

  constructor(deps: DiscoveryDeps) {
    this.#deps = deps;
    this.#log = deps.logger.child({ component: 'discovery' });
    this.#mono = deps.monotonic ?? (() => performance.now());
  }

  /** The entries found now. */
  current(): readonly FoundEntry[] {
    return this.#entries;
  }

  /** Calls `listener` whenever `current()` changed; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get #requestMs(): number {
    return this.#deps.requestTimeoutMs ?? 15_000;
  }

  /**
   * Applies a config (undefined: discovery off, no entries). `connection.key` names the engine: the same key
   * keeps the running connection and stream. With `watch` it follows the events stream and re-lists every
   * `resync`; without (`resolver check`), it lists once. Resolves after the first listing, or its deadline.
   */
  async configure(config: DiscoveryConfig | undefined, connection: { readonly key: string; readonly open: () => DiscoveryConnection } | undefined, options: { readonly watch: boolean }): Promise<void> {
    if (this.#stopped) return;
    const same = config !== undefined && connection !== undefined && this.#connection?.key === connection.key;
    const changed = JSON.stringify(config) !== JSON.stringify(this.#config);
    this.#config = config;
    if (!same) {
      await this.#unwatch();
      const old = this.#connection;
      this.#connection = config === undefined || connection === undefined ? undefined : { key: connection.key, value: connection.open() };
      await old?.value.close().catch(() => undefined);
      this.#images.clear();
      this.#platforms.clear();
    }
    clearInterval(this.#resync);
    this.#resync = undefined;
    if (config === undefined || this.#connection === undefined) {
      this.#set([]);
      return;
    }
    if (options.watch) {
      this.#resync = setInterval(() => this.#schedule(0), config.resyncMs);
      this.#resync.unref();
      if (this.#watch === undefined) {
        const controller = new AbortController();
        this.#watch = { controller, loop: this.#follow(this.#connection.value, controller.signal) };
      }
    }
    if (!same || changed || !options.watch) await settleWithin(this.refresh(), this.#requestMs * 2, this.#stop.signal);
  }

  async #unwatch(): Promise<void> {
    const watch = this.#watch;
    this.#watch = undefined;
    if (watch === undefined) return;
    watch.controller.abort();
    await watch.loop;
  }

  /** True once stop() was called. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Stops following, closes the connection; `current()` keeps the last entries. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#stop.abort();
    clearTimeout(this.#timer);
    clearInterval(this.#resync);
    await this.#unwatch();
    await this.#inflight?.catch(() => undefined);
    await this.#connection?.value.close().catch(() => undefined);
    this.#connection = undefined;
  }

  /** A re-list after `delayMs`, debounced: later events move it, but never more than 5 × the debounce (at least 10 s) after the first. */
  #schedule(delayMs: number): void {
    if (this.#stopped || this.#config === undefined) return;
    const now = this.#mono();
    this.#pendingSince ??= now;
    const at = Math.min(now + delayMs, this.#pendingSince + Math.max(5 * delayMs, 10_000));
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pendingSince = undefined;
      void this.refresh();
    }, Math.max(0, at - now));
  }

  /** Lists the containers now (a listing in flight is followed by one more, never run twice at once). */
  refresh(): Promise<void> {
    if (this.#inflight !== undefined) {
      this.#again = true;
      return this.#inflight;
    }
    this.#inflight = (async () => {
      try {
        for (let more = true; more && !this.stopped; ) {
          this.#again = false;
          await this.#list();
          // Set again by a refresh() asked while this listing ran.
          more = this.#again;
        }
      } finally {
        this.#inflight = undefined;
      }
    })();
    return this.#inflight;
  }

  async #list(): Promise<void> {
    const config = this.#config;
    const connection = this.#connection?.value;
    if (config === undefined || connection === undefined || this.#stopped) return;
    const ms = this.#requestMs;
    // The listing's requests stop at its deadline or at stop(); each step also gets `ms` of its own.
    const deadline = deadlineSignal(ms, { what: 'listing the containers', code: 'ERR_ENGINE_UNAVAILABLE', signal: this.#stop.signal });
    const { signal } = deadline;
    try {
      const engine = await answered(connection.engine(signal), ms, 'connecting to the engine');
      const [list, host] = await Promise.all([
        answered(engine.listContainers(signal), ms, 'listing containers'),
        answered(connection.hostPlatform(signal), ms, 'detecting the host platform'),
      ]);
      const followed: Followed[] = [];
      const seen = new Set<string>();
      for (const c of list) {
        seen.add(c.id);
        const reason = followReason(c.labels, c.state, config);
        if (reason === undefined) continue;
        let created = this.#images.get(c.id);
        if (created === undefined) {
          const details = await answered(engine.inspectContainer(c.id, signal), ms, `inspecting container ${c.name}`);
          if (details === undefined) continue; // Gone since the listing.
          created = { image: details.image, imageId: details.imageId };
          this.#images.set(c.id, created);
        }
        const image = followedImage({ image: created.image, imageId: created.imageId, labels: c.labels });
        if ('skip' in image) {
          if (!this.#skipped.has(c.id)) this.#log.warn({ container: c.name, id: c.id.slice(0, 12), reason: image.skip }, 'container not followed');
          this.#skipped.add(c.id);
          continue;
        }
        let platform = this.#platforms.get(created.imageId);
        if (platform === undefined) {
          const info = await answered(engine.inspectImage(created.imageId), ms, `inspecting the image of container ${c.name}`);
          if (info === undefined) continue;
          platform = { os: info.os, architecture: info.architecture, variant: info.variant };
          this.#platforms.set(created.imageId, platform);
        }
        followed.push({ container: { id: c.id, name: c.name, reason }, image: image.image, platform });
      }
      for (const id of [...this.#images.keys()]) if (!seen.has(id)) this.#images.delete(id);
      for (const id of [...this.#skipped]) if (!seen.has(id)) this.#skipped.delete(id);
      const images = new Set([...this.#images.values()].map((i) => i.imageId));
      for (const id of [...this.#platforms.keys()]) if (!images.has(id)) this.#platforms.delete(id);
      this.stats.listings++;
      if (this.#listingFails) this.#log.info({}, 'container listing works again');
      this.#listingFails = false;
      this.#set(groupEntries(followed, host));
    } catch (error) {
      if (this.stopped) return;
      if (!this.#listingFails) this.#log.warn({ err: message(error) }, 'could not list the containers; keeping the entries found before');
      this.#listingFails = true;
    } finally {
      deadline.clear();
    }
  }

  #set(entries: readonly FoundEntry[]): void {
    const fingerprint = entriesFingerprint(entries);
    if (fingerprint === this.#fingerprint) return;
    const before = new Set(this.#entries.map((e) => `${e.image} ${e.platform}`));
    const after = new Set(entries.map((e) => `${e.image} ${e.platform}`));
    this.#entries = entries;
    this.#fingerprint = fingerprint;
    this.#log.info({
      entries: entries.length,
      added: [...after].filter((k) => !before.has(k)),
      removed: [...before].filter((k) => !after.has(k)),
    }, 'discovered entries changed');
    for (const listener of [...this.#listeners]) {
      try {
        listener();
      } catch (error) {
        this.#log.error({ err: message(error) }, 'a discovery listener failed');
      }
    }
  }

  /** Follows the events stream until `signal` aborts, reconnecting with backoff. */
  async #follow(connection: DiscoveryConnection, signal: AbortSignal): Promise<void> {
    const random = this.#deps.random ?? Math.random;
    const maxMs = this.#deps.backoffMaxMs ?? 60_000;
    let failures = 0;
    while (!signal.aborted) {
      const started = this.#mono();
      // The stream's planned end: its signal aborts after maxStreamMs, or with `signal`.
      const life = deadlineSignal(this.#deps.maxStreamMs ?? 15 * 60_000, { what: 'the events stream', code: 'ERR_ENGINE_UNAVAILABLE', signal });
      const planned = (): boolean => life.expired;
      const lost = (): boolean => signal.aborted;
      try {
        const engine = await answered(connection.engine(signal), this.#requestMs, 'connecting to the engine');
        const stream = await engine.containerEvents(life.signal, { connectTimeoutMs: this.#requestMs });
        this.stats.connections++;
        if (this.#streamLost) this.#log.info({}, 'events stream reconnected');
        this.#streamLost = false;
        // What happened while there was no stream was not seen.
        if (this.stats.connections > 1) this.#schedule(0);
        for await (const event of stream) {
          this.stats.events++;
          if (listChangingActions.has(event.action)) this.#schedule(this.#config?.debounceMs ?? 0);
        }
        if (lost()) return;
        if (!planned()) throw new ResolverError('ERR_ENGINE_UNAVAILABLE', 'the engine closed the events stream');
        failures = 0;
      } catch (error) {
        if (lost()) return;
        if (planned()) {
          failures = 0;
          continue;
        }
        if (this.#mono() - started >= (this.#deps.healthyStreamMs ?? 30_000)) failures = 0;
        failures++;
        const cap = Math.min(maxMs, 1000 * 2 ** Math.min(failures - 1, 16));
        const waitMs = Math.round(cap / 2 + (random() * cap) / 2);
        if (this.#streamLost) this.#log.debug({ err: message(error), retryInMs: waitMs, failures }, 'events stream still lost');
        else this.#log.warn({ err: message(error), retryInMs: waitMs }, 'lost the engine events stream; reconnecting');
        this.#streamLost = true;
        await pause(waitMs, signal);
      } finally {
        life.clear();
      }
    }
  }
}
