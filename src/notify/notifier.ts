/**
 * The notifier: the one object the daemon's composition root subscribes to its events (docs/daemon.md,
 * subscriber contract). `observe` is synchronous and cheap — it folds the event (derive.ts), appends what it
 * causes to the durable outbox and the hook queue, and returns; delivery happens off the check path, so a
 * slow or dead receiver never delays a check. Events that arrive before the outbox is loaded are kept (at
 * most 1,000) and applied once it is.
 */
import type { HttpClient } from '../http/http.js';
import type { Logger } from '../log/logger.js';
import { durationMs, type NotificationsConfig } from './config.js';
import { derive, inputTypes, stateOf, type NotifierInput } from './derive.js';
import { HookRunner } from './hooks.js';
import { createMqttSink } from './mqtt.js';
import type { Notification, StateUpdate } from './notification.js';
import { Outbox, type QueueLimits, type Sink } from './outbox.js';
import { Redactor } from './secrets.js';
import { createWebhookSink } from './webhook.js';

/** What the notifier needs from its composition root. */
export interface NotifierDeps {
  readonly stateDir: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger: Logger;
  readonly http: HttpClient;
  readonly host: string;
  readonly now?: () => number;
  readonly random?: () => number;
  readonly backoff?: { readonly firstMs: number; readonly maxMs: number };
  readonly onResult?: (sink: string, result: 'delivered' | 'retry' | 'dropped', notification: Notification) => void;
}

/** A configured sink, ready to deliver. */
export interface BuiltSink {
  readonly sink: Sink & { readonly where: string };
  readonly limits: QueueLimits;
}

/** Builds the sinks of a config (reads their secrets). @throws ResolverError ERR_CONFIG_INVALID. */
export async function buildSinks(config: NotificationsConfig | undefined, deps: Pick<NotifierDeps, 'env' | 'http' | 'host'>, redactor: Redactor): Promise<BuiltSink[]> {
  if (config === undefined) return [];
  const out: BuiltSink[] = [];
  for (const [i, w] of config.webhooks.entries()) {
    const sink = await createWebhookSink(w, w.name ?? `webhook-${i + 1}`, { http: deps.http, env: deps.env, redactor, host: deps.host });
    out.push({ sink, limits: { maxQueue: w.maxQueue, maxAgeMs: durationMs(w.maxAge) } });
  }
  if (config.mqtt !== undefined) {
    const sink = await createMqttSink(config.mqtt, { env: deps.env, redactor, host: deps.host });
    out.push({ sink, limits: { maxQueue: config.mqtt.maxQueue, maxAgeMs: durationMs(config.mqtt.maxAge) } });
  }
  return out;
}

/** Derives notifications from daemon events and hands them to sinks and hooks. */
export class Notifier {
  readonly #deps: NotifierDeps;
  readonly #redactor = new Redactor();
  readonly #outbox: Outbox;
  readonly #hooks: HookRunner;
  #failedAfter = 3;
  #ready = false;
  #early: NotifierInput[] = [];
  #configuring: Promise<void> = Promise.resolve();
  /** Per entry key, the state last published in this daemon's life (MQTT's retained state; not persisted). */
  readonly #published = new Map<string, string>();

  constructor(deps: NotifierDeps) {
    this.#deps = deps;
    const redact = (t: string): string => this.#redactor.redact(t);
    this.#outbox = new Outbox({
      stateDir: deps.stateDir, logger: deps.logger, redact,
      ...(deps.now === undefined ? {} : { now: deps.now }),
      ...(deps.random === undefined ? {} : { random: deps.random }),
      ...(deps.backoff === undefined ? {} : { backoff: deps.backoff }),
      ...(deps.onResult === undefined ? {} : { onResult: deps.onResult }),
    });
    this.#hooks = new HookRunner({ logger: deps.logger, host: deps.host, env: deps.env, redact });
  }

  /** Loads the outbox and applies a config. */
  async start(config: NotificationsConfig | undefined): Promise<void> {
    await this.#outbox.load();
    await this.configure(config);
    this.#ready = true;
    const early = this.#early;
    this.#early = [];
    for (const e of early) this.observe(e);
  }

  /**
   * Applies a (re)loaded config: new sinks, hooks and threshold; queued notifications of sinks that remain are kept.
   * A sink whose secret cannot be read is logged and left out; the others work.
   */
  configure(config: NotificationsConfig | undefined): Promise<void> {
    this.#configuring = this.#configuring.then(async () => {
      this.#failedAfter = config?.failedAfter ?? 3;
      this.#hooks.configure(config?.hooks ?? []);
      let sinks: BuiltSink[] = [];
      try {
        sinks = await buildSinks(config, this.#deps, this.#redactor);
      } catch (error) {
        this.#deps.logger.error({ err: this.#redactor.redact(error instanceof Error ? error.message : String(error)) }, 'notification sinks not configured');
      }
      this.#outbox.setSinks(sinks);
      for (const { sink } of sinks) this.#deps.logger.info({ sink: sink.name, kind: sink.kind, url: sink.where }, 'notification sink ready');
    });
    return this.#configuring;
  }

  /** The daemon's event listener: never throws, never blocks. */
  readonly observe = (event: NotifierInput | { readonly type: string }): void => {
    if (!inputTypes.has(event.type)) return;
    const input = event as NotifierInput;
    if (!this.#ready) {
      if (this.#early.length < 1000) this.#early.push(input);
      return;
    }
    const { state, notifications } = derive(this.#outbox.derive, input, { failedAfter: this.#failedAfter });
    this.#outbox.push(state, notifications, this.#stateUpdate(input, state));
    for (const n of notifications) this.#hooks.push(n);
  };

  /**
   * The entry's state when it differs from the one last published in this daemon's life (so the first check
   * outcome of every entry publishes it, and a change without a notification does too), else undefined.
   */
  #stateUpdate(input: NotifierInput, state: ReturnType<typeof derive>['state']): StateUpdate | undefined {
    if (input.type === 'configured') {
      const keep = new Set(input.entries.map((e) => e.key));
      for (const key of this.#published.keys()) if (!keep.has(key)) this.#published.delete(key);
      return undefined;
    }
    const memory = state[input.entry.key];
    if (memory === undefined) return undefined;
    const entryState = stateOf(memory);
    const text = JSON.stringify(entryState);
    if (this.#published.get(input.entry.key) === text) return undefined;
    this.#published.set(input.entry.key, text);
    return { kind: 'state', at: input.at, image: input.entry.image, platform: input.entry.platform, state: entryState };
  }

  /** Items still queued per sink. */
  pending(): Record<string, number> {
    return this.#outbox.pending();
  }

  /** Waits until the queues are empty or `deadlineMs` passes. */
  flush(deadlineMs: number): Promise<Record<string, number>> {
    return this.#outbox.flush(deadlineMs);
  }

  /** Lets queued hooks finish (bounded), persists the outbox and closes the sinks. */
  async close(deadlineMs = 5000): Promise<void> {
    await this.#configuring;
    await this.#hooks.close(deadlineMs);
    await this.#outbox.close();
  }
}
