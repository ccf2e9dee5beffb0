/**
 * The durable outbox: one FIFO per sink, persisted in the state folder (`notify-outbox.json`, written with
 * `writeFileDurable`: temp file, fsync, rename, fsync the folder) together with the derivation state, so a
 * notification survives a receiver down for hours and a daemon restart (issue 11 §1). Each sink's queue is
 * delivered in order, one at a time, with full-jitter exponential backoff (1 s doubling to 5 min) while the
 * receiver fails; a queue holds at most `maxQueue` items (the oldest is dropped, logged) and an item older
 * than `maxAge` is dropped (logged). A sink that refuses an item for good (a 4xx) drops just that item.
 * Delivery never runs on the daemon's check path: `push` only appends and schedules.
 */
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { describeFirstIssue, parseJson, type JsonResult } from '../json/parse-json.js';
import type { Logger } from '../log/logger.js';
import { removeOrphans, writeFileDurable } from '../state/durable-file.js';
import { notificationKinds } from './config.js';
import type { DeriveState } from './derive.js';
import type { Notification, StateUpdate } from './notification.js';

/** The outbox file in the state folder. */
export const outboxFile = 'notify-outbox.json';

/** Thrown by a sink for an item that will never be accepted (retrying is pointless). */
export class PermanentDeliveryError extends Error {
  override name = 'PermanentDeliveryError';
}

/** A destination. `deliver` resolves once the receiver has the notification. */
export interface Sink {
  readonly name: string;
  readonly kind: 'webhook' | 'mqtt';
  /** True when this sink wants that kind. */
  accepts(kind: Notification['kind']): boolean;
  deliver(notification: Notification, signal: AbortSignal): Promise<void>;
  /** Sinks with a retained per-entry state (MQTT): publishes a state-only update (no event). */
  publishState?(update: StateUpdate, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** Limits of one sink's queue. */
export interface QueueLimits {
  readonly maxQueue: number;
  readonly maxAgeMs: number;
}

interface Item {
  readonly n: Notification | StateUpdate;
  readonly queuedAt: number;
  attempts: number;
}

interface Persisted {
  readonly version: 1;
  readonly derive: DeriveState;
  readonly queues: Record<string, Item[]>;
}

const EntryStateSchema = z.object({ status: z.enum(['ok', 'held', 'failing']), childDigest: z.string().optional(), indexDigest: z.string().optional(), rateLimited: z.boolean() });
const Text = z.string().optional();
/** A queued notification or state update, as `Item` is written (the file is ours, but may be cut short or edited). */
const QueuedSchema = z.union([
  z.object({ kind: z.literal('state'), at: z.string(), image: z.string(), platform: z.string(), state: EntryStateSchema }),
  z.object({
    kind: z.enum([...notificationKinds, 'test']), id: z.string(), at: z.string(), image: z.string(), platform: z.string(), oldDigest: Text, newDigest: Text, indexDigest: Text,
    size: z.number().optional(), message: Text, code: Text, failures: z.number().optional(), registry: Text, retryAfterSeconds: z.number().optional(),
    digests: z.array(z.string()).optional(), available: z.array(z.string()).optional(), state: EntryStateSchema,
  }),
]);
/** The outbox file. */
const PersistedSchema = z.object({
  version: z.literal(1),
  derive: z.record(z.string(), z.object({ child: Text, index: Text, held: z.boolean(), failures: z.number(), failing: z.boolean(), rateLimited: z.boolean(), activated: Text })),
  queues: z.record(z.string(), z.array(z.object({ n: QueuedSchema, queuedAt: z.number(), attempts: z.number() }))),
}) satisfies z.ZodType<Persisted>;

/** Why the outbox file is unreadable, for the warning: not JSON, or the first field of the wrong shape. */
function unreadable(result: Exclude<JsonResult<unknown>, { success: true }>): string {
  if (result.reason === 'syntax') return 'not JSON (cut short or overwritten?)';
  const issue = describeFirstIssue(result.issues, 'the top');
  return `unknown layout${issue === undefined ? '' : ` at ${issue}`}`;
}

/** Dependencies of the outbox (clock and randomness are seams for tests). */
export interface OutboxDeps {
  readonly stateDir: string;
  readonly logger: Logger;
  readonly redact: (text: string) => string;
  readonly now?: () => number;
  readonly random?: () => number;
  /** First retry delay (default 1 s) and the largest (default 5 min). */
  readonly backoff?: { readonly firstMs: number; readonly maxMs: number };
  /** Called after each attempt (metrics, tests). */
  readonly onResult?: (sink: string, result: 'delivered' | 'retry' | 'dropped', notification: Notification) => void;
}

/** Loads and persists the derivation state and the queues; delivers queued notifications to their sinks. */
export class Outbox {
  readonly #deps: OutboxDeps;
  readonly #path: string;
  #derive: DeriveState = {};
  #queues = new Map<string, Item[]>();
  #sinks = new Map<string, { sink: Sink; limits: QueueLimits }>();
  #timers = new Map<string, NodeJS.Timeout>();
  #running = new Map<string, Promise<void>>();
  #writing: Promise<void> = Promise.resolve();
  #dirty = false;
  readonly #stop = new AbortController();
  #closed = false;

  constructor(deps: OutboxDeps) {
    this.#deps = deps;
    this.#path = join(deps.stateDir, outboxFile);
  }

  get #now(): number {
    return (this.#deps.now ?? Date.now)();
  }

  /** Reads the file (a missing one is empty; a corrupt one is moved aside with a warning). */
  async load(): Promise<void> {
    await removeOrphans(this.#path);
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    const data = parseJson(PersistedSchema, text);
    if (data.success) {
      this.#derive = data.data.derive;
      this.#queues = new Map(Object.entries(data.data.queues));
      return;
    }
    const aside = `${this.#path}.corrupt-${new Date(this.#now).toISOString().replace(/[:.]/g, '-')}`;
    await rename(this.#path, aside).catch(() => undefined);
    this.#deps.logger.warn({ file: this.#path, movedTo: aside, err: unreadable(data) }, 'notification outbox unreadable; moved aside, starting empty');
  }

  /** The persisted derivation state. */
  get derive(): DeriveState {
    return this.#derive;
  }

  /** Items waiting per sink (status, tests). */
  pending(): Record<string, number> {
    return Object.fromEntries([...this.#queues].map(([k, v]) => [k, v.length]));
  }

  /**
   * Sets the sinks (on start and on every reload). Queues of sinks no longer configured are dropped (logged);
   * queued items of a sink that is still configured are kept and delivered.
   */
  setSinks(sinks: readonly { sink: Sink; limits: QueueLimits }[]): void {
    const old = this.#sinks;
    this.#sinks = new Map(sinks.map((s) => [s.sink.name, s]));
    for (const [name, entry] of old) if (this.#sinks.get(name)?.sink !== entry.sink) void entry.sink.close().catch(() => undefined);
    for (const [name, items] of this.#queues) {
      if (!this.#sinks.has(name)) {
        if (items.length > 0) this.#deps.logger.warn({ sink: name, dropped: items.length }, 'notification sink no longer configured; its queued notifications are dropped');
        this.#queues.delete(name);
        this.#dirty = true;
      }
    }
    if (this.#dirty) void this.#persist();
    for (const name of this.#sinks.keys()) this.#kick(name, 0);
  }

  /**
   * Records a new derivation state and queues notifications for every sink that wants them; persists once.
   * `stateUpdate` (the entry's state changed, or is not yet published in this daemon's life) is queued for each
   * sink with a retained state that takes none of `notifications` (a notification publishes the state itself).
   */
  push(derive: DeriveState, notifications: readonly Notification[], stateUpdate?: StateUpdate): void {
    if (this.#closed) return;
    const changed = derive !== this.#derive;
    this.#derive = derive;
    const touched: string[] = [];
    for (const n of notifications) {
      for (const [name, { sink, limits }] of this.#sinks) {
        if (!sink.accepts(n.kind)) continue;
        const q = this.#queues.get(name) ?? [];
        q.push({ n, queuedAt: this.#now, attempts: 0 });
        while (q.length > limits.maxQueue) {
          const dropped = q.shift();
          this.#deps.logger.warn({ sink: name, event: dropped?.n.kind, image: dropped?.n.image, maxQueue: limits.maxQueue }, 'notification queue full; dropped the oldest');
          if (dropped !== undefined) this.#result(name, 'dropped', dropped.n);
        }
        this.#queues.set(name, q);
        touched.push(name);
      }
    }
    if (stateUpdate !== undefined) {
      for (const [name, { sink }] of this.#sinks) {
        if (sink.publishState === undefined || notifications.some((n) => n.image === stateUpdate.image && n.platform === stateUpdate.platform && sink.accepts(n.kind))) continue;
        const q = this.#queues.get(name) ?? [];
        q.push({ n: stateUpdate, queuedAt: this.#now, attempts: 0 });
        this.#queues.set(name, q);
        touched.push(name);
      }
    }
    if (changed || touched.length > 0) {
      this.#dirty = true;
      void this.#persist();
    }
    for (const name of touched) this.#kick(name, 0);
  }

  /** Reports an attempt's result; state-only updates are not notifications and are not counted. */
  #result(name: string, result: 'delivered' | 'retry' | 'dropped', n: Notification | StateUpdate): void {
    if (n.kind !== 'state') this.#deps.onResult?.(name, result, n);
  }

  /** Starts delivering to `name` after `delayMs`, unless a delivery runs or a retry is already scheduled. */
  #kick(name: string, delayMs: number): void {
    if (this.#closed || this.#running.has(name) || this.#timers.has(name)) return;
    const timer = setTimeout(() => {
      this.#timers.delete(name);
      const run = this.#drain(name).then(
        (retryInMs) => {
          this.#running.delete(name);
          // An item pushed while the last attempt was finishing is picked up here.
          if (retryInMs !== undefined || (this.#queues.get(name)?.length ?? 0) > 0) this.#kick(name, retryInMs ?? 0);
        },
        () => void this.#running.delete(name),
      );
      this.#running.set(name, run);
    }, delayMs);
    timer.unref();
    this.#timers.set(name, timer);
  }

  /** Delivers the head of the queue until it is empty (undefined) or an attempt failed (the retry delay). */
  async #drain(name: string): Promise<number | undefined> {
    for (;;) {
      const entry = this.#sinks.get(name);
      const q = this.#queues.get(name);
      const item = q?.[0];
      if (entry === undefined || q === undefined || item === undefined || this.#closed) return undefined;
      if (this.#now - item.queuedAt > entry.limits.maxAgeMs) {
        q.shift();
        this.#deps.logger.error({ sink: name, event: item.n.kind, image: item.n.image, attempts: item.attempts }, 'notification not delivered within maxAge; dropped');
        this.#result(name, 'dropped', item.n);
        await this.#persist();
        continue;
      }
      item.attempts++;
      try {
        const n = item.n;
        if (n.kind !== 'state') await entry.sink.deliver(n, this.#stop.signal);
        else if (entry.sink.publishState !== undefined) await entry.sink.publishState(n, this.#stop.signal);
      } catch (error) {
        if (this.#stop.signal.aborted) return undefined;
        const message = this.#deps.redact(error instanceof Error ? error.message : String(error));
        if (error instanceof PermanentDeliveryError) {
          q.shift();
          this.#deps.logger.error({ sink: name, event: item.n.kind, image: item.n.image, err: message }, 'notification refused by the receiver; dropped');
          this.#result(name, 'dropped', item.n);
          await this.#persist();
          continue;
        }
        const { firstMs, maxMs } = this.#deps.backoff ?? { firstMs: 1000, maxMs: 300_000 };
        const ceiling = Math.min(maxMs, firstMs * 2 ** Math.min(item.attempts - 1, 30));
        const delay = Math.max(firstMs / 2, Math.round(ceiling * (this.#deps.random ?? Math.random)()));
        this.#deps.logger.warn({ sink: name, event: item.n.kind, image: item.n.image, attempt: item.attempts, retryInMs: delay, err: message }, 'notification delivery failed; will retry');
        this.#result(name, 'retry', item.n);
        return delay;
      }
      if (this.#queues.get(name) === q && q[0] === item) q.shift();
      this.#deps.logger.debug({ sink: name, event: item.n.kind, image: item.n.image, attempts: item.attempts }, 'notification delivered');
      this.#result(name, 'delivered', item.n);
      await this.#persist();
    }
  }

  /** Writes the file; writes are serialised and coalesced. A failed write is logged, and retried on the next change. */
  #persist(): Promise<void> {
    this.#dirty = true;
    this.#writing = this.#writing.then(async () => {
      if (!this.#dirty) return;
      this.#dirty = false;
      const data: Persisted = { version: 1, derive: this.#derive, queues: Object.fromEntries(this.#queues) };
      try {
        await writeFileDurable(this.#path, `${JSON.stringify(data)}\n`);
      } catch (error) {
        this.#dirty = true;
        this.#deps.logger.error({ file: this.#path, err: error instanceof Error ? error.message : String(error) }, 'cannot write the notification outbox');
      }
    });
    return this.#writing;
  }

  /** Waits until every queue is empty or `deadlineMs` passes (tests, `check`), then returns what is left. */
  async flush(deadlineMs: number): Promise<Record<string, number>> {
    const until = Date.now() + deadlineMs;
    while (Date.now() < until && [...this.#queues.values()].some((q) => q.length > 0)) await new Promise((r) => setTimeout(r, 20));
    return this.pending();
  }

  /** Stops delivering (in-flight attempts are aborted; the item stays queued), writes the file, closes the sinks. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort(new Error('the notifier is stopping'));
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    await Promise.allSettled([...this.#running.values()]);
    this.#dirty = true;
    await this.#persist();
    await Promise.allSettled([...this.#sinks.values()].map((s) => s.sink.close()));
  }
}
