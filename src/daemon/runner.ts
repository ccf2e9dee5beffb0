/**
 * Admission of runs (issue 14): whether a run of an entry starts now, and under which limits.
 * - Runs of one entry never overlap: a slot that comes while the entry runs is skipped, and "check now"
 *   waits for the run in flight. Keyed by entry, not by config generation, so reloads cannot start a
 *   second run (issue 13.6).
 * - Failures back off per entry (jittered exponential, at least the capped Retry-After) on monotonic time.
 * - A deterministic splay per device and entry spreads a fleet: SHA-256(device id, entry), the device id
 *   from the config or /etc/machine-id (src/rollout/device.ts); retry jitter derives from the same hash.
 * - Concurrency is per registry host, and every run has a deadline, so a registry that never answers holds
 *   only its own slots, for a bounded time, and cannot starve the others (issue 13.11).
 * - A 429 defers every entry of that registry, not only the one that got it (issue 12 §2, 13 leftover): until
 *   the capped Retry-After, or the backoff without one. A request the budget refused (`DeferredError`) and a
 *   rollout wait are not failures: the entry emits `deferred` and waits until the time given.
 * Outcomes become events; the runner knows no subscriber. p-queue was not used: its single queue has no
 * per-key limit, skip-if-running or backoff, which are most of this file (docs/daemon.md).
 */
import { setMaxListeners } from 'node:events';
import { DeferredError } from '../budget/layer.js';
import { RegistryHttpError, ResolverError } from '../errors.js';
import { sleep } from '../limit/abort.js';
import { deadlineSignal, type Deadline } from '../limit/deadline.js';
import type { CheckOutcome } from '../resolver/reconcile.js';
import { KeyedLimiter } from '../limit/limiter.js';
import { detectedPlatform, type DaemonEvent, type EntryRef, type EntrySpec, type Recorded, type RunReason } from './events.js';
import { unitOf } from '../rollout/device.js';
import { backoffMs, splayFor } from './timing.js';

/** One check of an entry, as the coordinator runs it. */
export type CheckEntry = (
  entry: EntrySpec, signal: AbortSignal,
  options: { readonly dryRun: boolean; readonly onPlatform: (platform: string) => void; readonly onRecorded?: (recorded: Recorded | undefined) => void },
) => Promise<CheckOutcome>;

/** What the runner needs. */
export interface RunnerDeps {
  readonly check: CheckEntry;
  readonly emit: (event: DaemonEvent) => void;
  readonly shutdown: AbortSignal;
  readonly monotonic: () => number;
  /** Backoff jitter; default: derived from SHA-256(device id, entry, failures), the same after a restart. */
  readonly random?: (() => number) | undefined;
  /** The device id before a config names one (the host name). */
  readonly hostname: string;
  /** The longest a run may take before it is cancelled and counted as failed. */
  readonly deadlineMs: number;
}

interface Backoff {
  failures: number;
  untilMono: number;
}

/** Decides and runs checks. */
export class Runner {
  readonly #deps: RunnerDeps;
  readonly #running = new Map<string, Promise<void>>();
  readonly #backoff = new Map<string, Backoff>();
  /** Entries held, and why (a disk hold that ends is not the platform coming back). */
  readonly #held = new Map<string, 'platform' | 'disk-space'>();
  /** Per registry host: monotonic time until which every entry of it waits (after a 429). */
  readonly #throttled = new Map<string, { untilMono: number; until: number }>();
  /** Per entry: monotonic time until which it waits (the budget's reserve, a rollout wait). */
  readonly #waiting = new Map<string, { untilMono: number; until: number }>();
  readonly #limiter = new KeyedLimiter(1, { abortMessage: 'shutting down' });
  #splayMs = 0;
  #device: string | undefined;

  constructor(deps: RunnerDeps) {
    this.#deps = deps;
    // Every pending check listens on the shutdown signal (its splay, its turn at the registry, its deadline) and
    // removes its listener when it ends: a daemon with more than 10 images would otherwise print Node's
    // MaxListenersExceededWarning ("possible memory leak") to the journal at every start.
    setMaxListeners(0, deps.shutdown);
  }

  /** Applies a config's limits; forgets the backoff of entries no longer configured. */
  configure(options: { readonly perRegistry: number; readonly splayMs: number; readonly keys: readonly string[]; readonly device?: string | undefined }): void {
    this.#limiter.limit = options.perRegistry;
    this.#splayMs = options.splayMs;
    if (options.device !== undefined) this.#device = options.device;
    const keep = new Set(options.keys);
    for (const key of [...this.#backoff.keys()]) if (!keep.has(key)) this.#backoff.delete(key);
    for (const key of [...this.#held.keys()]) if (!keep.has(key)) this.#held.delete(key);
    for (const key of [...this.#waiting.keys()]) if (!keep.has(key)) this.#waiting.delete(key);
  }

  /** A scheduled (or start/reload) run: skipped while the entry runs or backs off; waits its splay. */
  async trigger(entry: EntrySpec, why: RunReason): Promise<void> {
    if (this.#deps.shutdown.aborted) return;
    const ref: EntryRef = { key: entry.key, image: entry.image, platform: entry.platformSpec ?? detectedPlatform };
    if (this.#running.has(entry.key)) {
      this.#deps.emit({ type: 'skipped', entry: ref, reason: 'running' });
      return;
    }
    if (this.#deps.monotonic() < (this.#backoff.get(entry.key)?.untilMono ?? 0)) {
      this.#deps.emit({ type: 'skipped', entry: ref, reason: 'backoff' });
      return;
    }
    const throttled = this.#throttled.get(entry.registry);
    if (throttled !== undefined && this.#deps.monotonic() < throttled.untilMono) {
      this.#deps.emit({
        type: 'deferred', entry: ref, reason: 'throttled', until: new Date(throttled.until).toISOString(), childDigest: undefined, at: new Date().toISOString(),
        message: `${entry.registry} answered 429 (too many requests); every image of it waits until ${new Date(throttled.until).toISOString()}`,
      });
      return;
    }
    const waiting = this.#waiting.get(entry.key);
    if (waiting !== undefined && this.#deps.monotonic() < waiting.untilMono) return;
    await this.#start(entry, ref, why, false);
  }

  /** A run now (`check`, or asked over the socket): waits for a run in flight, ignores splay and backoff. */
  async runNow(entry: EntrySpec, options: { readonly dryRun: boolean }): Promise<void> {
    for (let r = this.#running.get(entry.key); r !== undefined; r = this.#running.get(entry.key)) await r;
    if (this.#deps.shutdown.aborted) return;
    await this.#start(entry, { key: entry.key, image: entry.image, platform: entry.platformSpec ?? detectedPlatform }, 'now', options.dryRun);
  }

  #start(entry: EntrySpec, ref: EntryRef, why: RunReason, dryRun: boolean): Promise<void> {
    const run = this.#run(entry, ref, why, dryRun).finally(() => this.#running.delete(entry.key));
    this.#running.set(entry.key, run);
    return run;
  }

  /** The id splay and jitter derive from: the configured or machine-id device id, else the host name. */
  get device(): string {
    return this.#device ?? this.#deps.hostname;
  }

  /** Runs in flight. */
  get running(): number {
    return this.#running.size;
  }

  /** Resolves when every run in flight has settled. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.#running.values()]);
  }

  async #run(entry: EntrySpec, input: EntryRef, why: RunReason, dryRun: boolean): Promise<void> {
    const { shutdown } = this.#deps;
    let ref = input;
    let recorded: Recorded | undefined;
    let deadline: Deadline | undefined;
    try {
      if (why !== 'now') await sleep(splayFor(this.device, entry.key, entry.splayMs ?? this.#splayMs), shutdown, 'shutting down');
      const release = await this.#limiter.acquire(entry.registry, shutdown);
      // The check's signal follows shutdown through a listener removed when the check ends, not
      // AbortSignal.any: that one leaves a WeakRef and FinalizationRegistry cells on the long-lived shutdown
      // signal per check until a full GC (~30,000 at 1,000 tags in a heap snapshot; bench/README.md).
      const ms = this.#deps.deadlineMs;
      const limit = deadlineSignal(ms, { what: entry.image, code: 'ERR_NETWORK', message: `${entry.image}: no result within ${Math.round(ms / 1000)} s; the check was cancelled`, signal: shutdown });
      deadline = limit;
      try {
        this.#deps.emit({ type: 'check-started', entry: ref, why, at: new Date().toISOString() });
        const outcome = await this.#deps.check(entry, limit.signal, {
          dryRun, onPlatform: (p) => (ref = { ...ref, platform: p }), onRecorded: (r) => (recorded = r),
        });
        this.#succeeded(ref, outcome);
      } finally {
        limit.clear();
        release();
      }
    } catch (error) {
      if (shutdown.aborted) return;
      const reason: unknown = deadline?.expired === true ? deadline.signal.reason : error;
      if (reason instanceof DeferredError) this.#deferred(ref, entry, reason);
      else this.#failed(ref, entry, reason, recorded);
    }
  }

  /** The budget refused a request of this run: not a failure; the entry (or its registry) waits. */
  #deferred(ref: EntryRef, entry: EntrySpec, error: DeferredError): void {
    const wait = { untilMono: this.#deps.monotonic() + Math.max(0, error.until - Date.now()), until: error.until };
    if (error.reason === 'throttled') this.#throttled.set(entry.registry, wait);
    else this.#waiting.set(entry.key, wait);
    this.#deps.emit({ type: 'deferred', entry: ref, reason: error.reason, until: new Date(error.until).toISOString(), message: error.message, childDigest: undefined, at: new Date().toISOString() });
  }

  #succeeded(ref: EntryRef, o: CheckOutcome): void {
    const emit = this.#deps.emit;
    const at = new Date().toISOString();
    const failures = this.#backoff.get(ref.key)?.failures ?? 0;
    // Which hosts answered (docs/mirrors.md), on the events status, logs and metrics read.
    const served = o.servedBy === undefined ? {} : { servedBy: o.servedBy };
    this.#backoff.delete(ref.key);
    if (failures > 0) emit({ type: 'recovered', entry: ref, failures, at });
    if (o.kind === 'held') {
      const reason = o.reason ?? 'platform';
      const repeat = this.#held.get(ref.key) === reason;
      this.#held.set(ref.key, reason);
      emit({ type: 'held', entry: ref, indexDigest: o.indexDigest, childDigest: o.childDigest, pulledAt: o.pulledAt, message: o.message, available: o.available, repeat, at, reason, ...(o.disk === undefined ? {} : { disk: o.disk }), ...served });
      return;
    }
    if (o.kind === 'waiting') {
      emit({ type: 'deferred', entry: ref, reason: 'rollout', until: o.until, message: o.message, childDigest: o.childDigest, at });
      return;
    }
    const wasHeld = this.#held.get(ref.key);
    this.#held.delete(ref.key);
    if (wasHeld === 'platform') emit({ type: 'platform-back', entry: ref, childDigest: o.childDigest, at });
    if (o.kind === 'pulled') {
      emit({ type: 'pulled', entry: ref, indexDigest: o.indexDigest, childDigest: o.childDigest, previous: o.previous, pruned: o.pruned, size: o.size, ...(o.wasPresent === true ? { wasPresent: true as const } : {}), at, ...served });
      if (o.pruned.length > 0) emit({ type: 'pruned', entry: ref, digests: o.pruned, at });
      return;
    }
    emit({ type: 'checked', entry: ref, result: o.kind, indexDigest: o.indexDigest, childDigest: o.childDigest, pulledAt: o.kind === 'would-pull' ? undefined : o.pulledAt, at, ...served });
  }

  #failed(ref: EntryRef, entry: EntrySpec, error: unknown, recorded: Recorded | undefined): void {
    const b = this.#backoff.get(ref.key) ?? { failures: 0, untilMono: 0 };
    b.failures++;
    const retryAfterMs = error instanceof RegistryHttpError && error.retryAfterSeconds !== undefined ? error.retryAfterSeconds * 1000 : undefined;
    const failures = b.failures;
    const random = this.#deps.random ?? ((): number => unitOf(this.device, ref.key, 'retry', String(failures)));
    const wait = backoffMs(b.failures, { baseMs: 5_000, capMs: 15 * 60_000, retryAfterMs, random });
    b.untilMono = this.#deps.monotonic() + wait;
    this.#backoff.set(ref.key, b);
    const code = error instanceof ResolverError ? error.code : 'ERR_INTERNAL';
    const at = new Date().toISOString();
    const cappedRetryAfter = retryAfterMs === undefined ? undefined : Math.min(retryAfterMs, wait);
    this.#deps.emit({
      type: 'failed', entry: ref, code, message: error instanceof Error ? error.message : String(error), failures: b.failures,
      retryInMs: Math.round(wait), retryAfterMs: cappedRetryAfter, backoffUntil: new Date(Date.now() + wait).toISOString(), recorded, at,
    });
    if (code === 'ERR_RATE_LIMITED') {
      // Every entry of this registry waits as long as this one (issue 12 §2): the registry asked all of us.
      this.#throttled.set(entry.registry, { untilMono: b.untilMono, until: Date.now() + wait });
      this.#deps.emit({ type: 'rate-limited', entry: ref, registry: entry.registry, retryAfterMs: cappedRetryAfter, at });
    }
  }
}
