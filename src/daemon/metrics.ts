/**
 * Prometheus text exposition of the daemon's events, served by the HTTP endpoint (src/api/, docs/api.md).
 * Every per-entry series is labelled by image *and* platform (issue 9.3). Labels carry image references,
 * registry hosts and sink names, never credentials. A held check is not a success: it sets `resolver_held`
 * and leaves `resolver_last_success_timestamp_seconds` where it was (issue 9.6). Hand-written rather than
 * prom-client: measured in bench/README.md (prom-client adds start-up time and resident memory for the same
 * families), decided in docs/api.md.
 */
import type { DaemonEvent, DaemonEventType, EntryRef, ServedBy } from './events.js';

const sep = '\0';

function seriesKey(entry: EntryRef, extra?: string): string {
  return [entry.image, entry.platform, ...(extra === undefined ? [] : [extra])].join(sep);
}

/** What `resolver_build_info` says. */
export interface BuildInfo {
  readonly version: string;
  readonly node: string;
  /** `process.platform/process.arch` of the daemon itself (not the target platform). */
  readonly runtime: string;
}

/** The process figures of one scrape. */
export interface ProcessSample {
  readonly residentMemoryBytes: number;
  readonly cpuSeconds: number;
  readonly startTimeSeconds: number;
  readonly heapUsedBytes: number;
  readonly heapTotalBytes: number;
  /** Event-loop delay since the previous scrape (the histogram is reset at each one). */
  readonly eventLoopLagMaxSeconds: number;
  readonly eventLoopLagP99Seconds: number;
}

/** The outcome of one delivery attempt of a notification (`retry`: the attempt failed and will be retried). */
export type NotificationResult = 'delivered' | 'retry' | 'dropped';

/** The `result` labels of resolver_activations_total: the daemon events of container activation (issue 11 §3). */
export const activationResults = ['activated', 'rolled-back'] as const;

type Handler<K extends DaemonEventType> = ((event: Extract<DaemonEvent, { type: K }>) => void) | null;
/** What each event does to the series: every event type is listed (a new one fails the typecheck here), null for none. */
type Handlers = { readonly [K in DaemonEventType]: Handler<K> };

/** Counters and gauges, fed by `apply(event)` and the notifier's `notification(sink, result)`. */
export class Metrics {
  readonly checks = new Map<string, number>();
  readonly pulls = new Map<string, number>();
  readonly failures = new Map<string, number>();
  readonly lastSuccess = new Map<string, number>();
  readonly held = new Map<string, number>();
  readonly rateLimitRemaining = new Map<string, number>();
  /** The budget per registry (issue 12 §2): its reserve and, while requests wait, the Unix time they resume. */
  readonly budgetReserve = new Map<string, number>();
  readonly budgetWaitUntil = new Map<string, number>();
  /** Deferred runs by image, platform and reason (429 of the registry, reserve, rollout). */
  readonly deferred = new Map<string, number>();
  readonly activations = new Map<string, number>(activationResults.map((r) => [r, 0]));
  readonly notifications = new Map<string, number>();
  /** Checks by the host that answered (docs/mirrors.md): image, platform, what (`resolve` the tag, `content`), host. */
  readonly servedBy = new Map<string, number>();
  /** Series key of each configured entry, to drop gauges of removed entries. */
  readonly #seriesOf = new Map<string, string>();
  readonly #build: BuildInfo | undefined;
  readonly #sample: (() => ProcessSample) | undefined;

  constructor(options: { readonly build?: BuildInfo; readonly sample?: () => ProcessSample } = {}) {
    this.#build = options.build;
    this.#sample = options.sample;
  }

  static #inc(map: Map<string, number>, key: string): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }

  #success(entry: EntryRef, result: string, at: string): void {
    Metrics.#inc(this.checks, seriesKey(entry, result));
    this.lastSuccess.set(seriesKey(entry), Math.floor(Date.parse(at) / 1000));
    this.held.set(seriesKey(entry), 0);
    this.#seriesOf.set(entry.key, seriesKey(entry));
  }

  #served(entry: EntryRef, s: ServedBy | undefined): void {
    if (s?.resolve !== undefined) Metrics.#inc(this.servedBy, [entry.image, entry.platform, 'resolve', s.resolve].join(sep));
    if (s?.content !== undefined) Metrics.#inc(this.servedBy, [entry.image, entry.platform, 'content', s.content].join(sep));
  }

  readonly #on: Handlers = {
    checked: (e) => {
      this.#success(e.entry, e.result, e.at);
      this.#served(e.entry, e.servedBy);
    },
    pulled: (e) => {
      this.#success(e.entry, 'pulled', e.at);
      this.#served(e.entry, e.servedBy);
      Metrics.#inc(this.pulls, seriesKey(e.entry));
    },
    held: (e) => {
      Metrics.#inc(this.checks, seriesKey(e.entry, 'held'));
      this.held.set(seriesKey(e.entry), 1);
      this.#seriesOf.set(e.entry.key, seriesKey(e.entry));
    },
    failed: (e) => {
      Metrics.#inc(this.checks, seriesKey(e.entry, 'failed'));
      Metrics.#inc(this.failures, seriesKey(e.entry));
    },
    quota: (e) => {
      this.rateLimitRemaining.set(e.registry, e.remaining);
      if (e.reserve !== undefined) this.budgetReserve.set(e.registry, e.reserve);
      this.budgetWaitUntil.set(e.registry, e.waitUntil === undefined ? 0 : Math.floor(Date.parse(e.waitUntil) / 1000));
    },
    deferred: (e) => Metrics.#inc(this.deferred, seriesKey(e.entry, e.reason)),
    configured: (e) => {
      const keep = new Set(e.entries.map((x) => x.key));
      for (const [key, series] of [...this.#seriesOf]) {
        if (keep.has(key)) continue;
        this.#seriesOf.delete(key);
        this.held.delete(series);
        this.lastSuccess.delete(series);
      }
    },
    'config-rejected': null, started: null, stopped: null, scheduled: null, 'clock-jumped': null, skipped: null,
    'check-started': null, pruned: null, 'platform-back': null, recovered: null, 'rate-limited': null,
    activated: () => Metrics.#inc(this.activations, 'activated'),
    'rolled-back': () => Metrics.#inc(this.activations, 'rolled-back'),
  };

  /** Folds one event into the series. */
  apply(event: DaemonEvent): void {
    (this.#on[event.type] as ((e: DaemonEvent) => void) | null)?.(event);
  }

  /** Counts one delivery attempt of a notification to `sink` (the notifier's `onResult`). */
  notification(sink: string, result: NotificationResult): void {
    Metrics.#inc(this.notifications, [sink, result === 'retry' ? 'failed' : result].join(sep));
  }

  /** The text exposition format. */
  render(): string {
    const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
    const lines: string[] = [];
    const head = (name: string, help: string, type: 'counter' | 'gauge'): void => void lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    const family = (name: string, help: string, type: 'counter' | 'gauge', map: ReadonlyMap<string, number>, labels: readonly string[]): void => {
      head(name, help, type);
      // Code-unit order: stable across locales, and no ICU collator to load on the first scrape.
      for (const [k, v] of [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        const values = k.split(sep);
        lines.push(`${name}{${labels.map((l, i) => `${l}="${esc(values[i] ?? '')}"`).join(',')}} ${v}`);
      }
    };
    const single = (name: string, help: string, type: 'counter' | 'gauge', value: number): void => {
      head(name, help, type);
      lines.push(`${name} ${value}`);
    };
    if (this.#build !== undefined) {
      const b = this.#build;
      family('resolver_build_info', 'Always 1; the labels say which resolver and Node run.', 'gauge', new Map([[[b.version, b.node, b.runtime].join(sep), 1]]), ['version', 'node', 'runtime']);
    }
    family('resolver_checks_total', 'Checks run, by image, platform and result.', 'counter', this.checks, ['image', 'platform', 'result']);
    family('resolver_pulls_total', 'Children pulled, by image and platform.', 'counter', this.pulls, ['image', 'platform']);
    family('resolver_failures_total', 'Failed checks, by image and platform.', 'counter', this.failures, ['image', 'platform']);
    family('resolver_last_success_timestamp_seconds', 'Unix time of the last successful check (not a held one), by image and platform.', 'gauge', this.lastSuccess, ['image', 'platform']);
    family('resolver_held', '1 while the index has no child for the platform and the current image is held, by image and platform.', 'gauge', this.held, ['image', 'platform']);
    family('resolver_registry_ratelimit_remaining', 'Last ratelimit-remaining header seen, by registry.', 'gauge', this.rateLimitRemaining, ['registry']);
    family('resolver_registry_budget_reserve', 'Counted requests stop when ratelimit-remaining is at or below this, by registry.', 'gauge', this.budgetReserve, ['registry']);
    family('resolver_registry_budget_wait_until_timestamp_seconds', 'Unix time until which requests to the registry wait (0: none wait), by registry.', 'gauge', this.budgetWaitUntil, ['registry']);
    family('resolver_deferred_total', 'Runs deferred (429 of the registry, budget reserve, rollout wait), by image, platform and reason.', 'counter', this.deferred, ['image', 'platform', 'reason']);
    family('resolver_served_by_total', 'Checks by the host that answered (a mirror or the registry itself), by image, platform, what (resolve: the tag; content: the manifests, or the child the engine pulled) and host.', 'counter', this.servedBy, ['image', 'platform', 'what', 'host']);
    family('resolver_activations_total', 'Container activations (recreated on a new child and healthy) and rollbacks, by result.', 'counter', this.activations, ['result']);
    family('resolver_notifications_total', 'Notification delivery attempts, by sink and result (delivered, failed: retried later, dropped).', 'counter', this.notifications, ['sink', 'result']);
    const p = this.#sample?.();
    if (p !== undefined) {
      single('process_resident_memory_bytes', 'Resident memory size in bytes.', 'gauge', p.residentMemoryBytes);
      single('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', 'counter', p.cpuSeconds);
      single('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.', 'gauge', p.startTimeSeconds);
      single('nodejs_heap_size_used_bytes', 'V8 heap used in bytes.', 'gauge', p.heapUsedBytes);
      single('nodejs_heap_size_total_bytes', 'V8 heap size in bytes.', 'gauge', p.heapTotalBytes);
      single('nodejs_eventloop_lag_max_seconds', 'Largest event-loop delay since the previous scrape, in seconds.', 'gauge', p.eventLoopLagMaxSeconds);
      single('nodejs_eventloop_lag_p99_seconds', '99th percentile of the event-loop delay since the previous scrape, in seconds.', 'gauge', p.eventLoopLagP99Seconds);
    }
    return `${lines.join('\n')}\n`;
  }
}
