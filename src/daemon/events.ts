/**
 * What the daemon says happened, as typed events (issue 14): the check path emits them and knows no
 * consumer; logs, metrics and status subscribe, as will notifications, hooks, activation and the HTTP API
 * (docs/daemon.md). The pattern is undici's `diagnostics_channel` and p-queue's event union: synchronous
 * delivery in emit order, one object per event, never mutated. A subscriber must not block (queue slow
 * work of your own) and cannot break a check: what it throws is reported to `onError` and dropped.
 */

import type { ServedBy } from '../resolver/resolve.js';
import type { RolloutPolicy } from '../rollout/decide.js';

export type { ServedBy } from '../resolver/resolve.js';

/** One configured entry: an image and the platform asked for. Two entries may share an image. */
export interface EntrySpec {
  /** `image platform`: unique per entry (a duplicate image and platform is a config error). */
  readonly key: string;
  /** Canonical reference, e.g. `registry.example.com/app:stable`. */
  readonly image: string;
  /** The platform the config asks for, or undefined for the detected one. */
  readonly platformSpec: string | undefined;
  /** Registry host: the admission unit for concurrency. */
  readonly registry: string;
  readonly schedule: string;
  /** The longest delay before a scheduled run (the configured splay, or `auto`'s); absent: the runner's default. */
  readonly splayMs?: number;
  readonly onMissingPlatform: 'hold' | 'fail';
  readonly retain: number;
  /** Where it came from, as status shows it: `config`, `label of container web`, … (undefined: config). */
  readonly source?: string | undefined;
  /** The staged-rollout policy (issue 12 §3); absent: pull at once. */
  readonly rollout?: RolloutPolicy & { readonly control: boolean };
}

/** Which entry an event is about. `platform` is the resolved target (`linux/arm/v7`), or the spec before it is known. */
export interface EntryRef {
  readonly key: string;
  readonly image: string;
  readonly platform: string;
}

/** `EntryRef.platform` of an entry without a configured platform before its target is detected. */
export const detectedPlatform = 'detected';

/** What the state file recorded for an entry when its check started (status shows it while a check fails). */
export interface Recorded {
  readonly indexDigest: string | null;
  readonly childDigest: string;
  readonly pulledAt: string;
}

/**
 * The effective config of a `configured` event, without secrets: only whether a token, TLS or a sink is set,
 * never a path's content, a URL or a header (GET /v1/events serves it).
 */
export interface ConfigSummary {
  readonly images: number;
  readonly schedule: string;
  readonly splayMs: number;
  readonly concurrency: number;
  readonly platform: string | undefined;
  readonly onMissingPlatform: 'hold' | 'fail';
  readonly retain: number;
  readonly logLevel: string;
  readonly metrics: { readonly listen: string; readonly token: boolean; readonly tls: boolean } | undefined;
  readonly notifications: { readonly webhooks: number; readonly mqtt: boolean; readonly hooks: number } | undefined;
}

/** Why a run started. */
export type RunReason = 'start' | 'schedule' | 'reload' | 'now';

/**
 * Every event the daemon emits. `at` is an ISO time. `configured` with `changed: 'containers'` is the same
 * config with another set of discovered entries (docs/discovery.md): the config file was not re-read.
 */
export type DaemonEvent =
  | { readonly type: 'configured'; readonly entries: readonly EntrySpec[]; readonly reload: boolean; readonly summary: ConfigSummary; readonly at: string; readonly changed?: 'containers' | undefined }
  | { readonly type: 'config-rejected'; readonly message: string; readonly details: readonly string[]; readonly at: string }
  | { readonly type: 'started'; readonly entries: number; readonly stateDir: string; readonly metrics: string | undefined; readonly at: string; readonly deviceIdFrom?: 'config' | 'machine-id' | 'hostname' | undefined }
  | { readonly type: 'stopped'; readonly at: string }
  | { readonly type: 'scheduled'; readonly key: string; readonly nextRun: string | undefined }
  | { readonly type: 'clock-jumped'; readonly jumpMs: number; readonly at: string }
  | { readonly type: 'skipped'; readonly entry: EntryRef; readonly reason: 'running' | 'backoff' }
  | { readonly type: 'check-started'; readonly entry: EntryRef; readonly why: RunReason; readonly at: string }
  | { readonly type: 'checked'; readonly entry: EntryRef; readonly result: 'unchanged' | 'index-changed' | 'would-pull'; readonly indexDigest: string; readonly childDigest: string; readonly pulledAt: string | undefined; readonly at: string; readonly servedBy?: ServedBy | undefined }
  /** `wasPresent`: the entry's first check found the engine already holding this child under the tag (not notified). */
  | { readonly type: 'pulled'; readonly entry: EntryRef; readonly indexDigest: string; readonly childDigest: string; readonly previous: string | undefined; readonly pruned: readonly string[]; readonly size?: number | undefined; readonly wasPresent?: true; readonly at: string; readonly servedBy?: ServedBy | undefined }
  | { readonly type: 'pruned'; readonly entry: EntryRef; readonly digests: readonly string[]; readonly at: string }
  | { readonly type: 'held'; readonly entry: EntryRef; readonly indexDigest: string; readonly childDigest: string | undefined; readonly pulledAt: string | undefined; readonly message: string; readonly available: readonly string[]; readonly repeat: boolean; readonly at: string; readonly servedBy?: ServedBy | undefined; readonly reason?: 'platform' | 'disk-space'; readonly disk?: { readonly needed: number; readonly free: number; readonly minFree: number; readonly path: string; readonly childDigest: string } }
  | { readonly type: 'platform-back'; readonly entry: EntryRef; readonly childDigest: string; readonly at: string }
  | { readonly type: 'failed'; readonly entry: EntryRef; readonly code: string; readonly message: string; readonly failures: number; readonly retryInMs: number; readonly retryAfterMs: number | undefined; readonly backoffUntil: string; readonly recorded: Recorded | undefined; readonly at: string }
  | { readonly type: 'recovered'; readonly entry: EntryRef; readonly failures: number; readonly at: string }
  | { readonly type: 'rate-limited'; readonly entry: EntryRef; readonly registry: string; readonly retryAfterMs: number | undefined; readonly at: string }
  | { readonly type: 'quota'; readonly registry: string; readonly remaining: number; readonly limit: number | undefined; readonly reserve?: number; readonly windowSeconds?: number | undefined; readonly waitUntil?: string | undefined }
  /**
   * A run did not happen, or stopped before its counted requests, and the entry waits until `until` (issue 12):
   * `throttled`: its registry answered 429 (every image of that registry waits); `reserve`: the registry's
   * allowance is at the budget's reserve; `rollout`: the staged rollout holds the new child (cooldown, cohort,
   * prefetch window, pause). Not a failure: no failure count, no backoff.
   */
  | { readonly type: 'deferred'; readonly entry: EntryRef; readonly reason: DeferReason; readonly until: string | undefined; readonly message: string; readonly childDigest: string | undefined; readonly at: string }
  // Container activation (src/activate/, docs/activation.md): emitted by its subscriber, not by the check path.
  | { readonly type: 'activated'; readonly entry: EntryRef; readonly container: string; readonly childDigest: string; readonly previous: string | undefined; readonly at: string }
  | { readonly type: 'rolled-back'; readonly entry: EntryRef; readonly container: string; readonly childDigest: string; readonly badDigest: string; readonly message: string; readonly at: string };

/** Why an entry waits. */
export type DeferReason = 'throttled' | 'reserve' | 'rollout';

/** The event types. */
export type DaemonEventType = DaemonEvent['type'];

/** A listener. */
export type Listener<E> = (event: E) => void;

/** A tiny synchronous bus; `on` returns the unsubscribe function. */
export class EventBus<E extends { readonly type: string }> {
  readonly #listeners = new Set<Listener<E>>();
  readonly #onError: (error: unknown, event: E) => void;

  constructor(onError: (error: unknown, event: E) => void) {
    this.#onError = onError;
  }

  /** Subscribes to every event. */
  on(listener: Listener<E>): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Delivers an event to every subscriber; a throwing subscriber is reported and skipped. */
  emit(event: E): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch (error) {
        try {
          this.#onError(error, event);
        } catch {
          // The error sink itself failed: nothing left to tell.
        }
      }
    }
  }

  /** How many subscribers (tests of leaks). */
  get size(): number {
    return this.#listeners.size;
  }
}
