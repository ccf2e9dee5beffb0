/**
 * Prometheus text exposition of the daemon's events, and the loopback HTTP endpoint that serves it with
 * /healthz (liveness: the scheduler ticks) and /readyz (readiness: config loaded, engine reachable, the
 * last results are not failures for every entry; 503 otherwise). Off by default; loopback only (the config
 * schema refuses anything else). Every per-entry series is labelled by image *and* platform (issue 9.3).
 * Labels carry image references and registry hosts, never credentials. A held check is not a success: it
 * sets `resolver_held` and leaves `resolver_last_success_timestamp_seconds` where it was (issue 9.6).
 */
import type { DaemonEvent, EntryRef } from './events.js';

const sep = '\0';

function seriesKey(entry: EntryRef, extra?: string): string {
  return [entry.image, entry.platform, ...(extra === undefined ? [] : [extra])].join(sep);
}

/** Counters and gauges, fed by `apply(event)`. */
export class Metrics {
  readonly checks = new Map<string, number>();
  readonly pulls = new Map<string, number>();
  readonly failures = new Map<string, number>();
  readonly lastSuccess = new Map<string, number>();
  readonly held = new Map<string, number>();
  readonly rateLimitRemaining = new Map<string, number>();
  /** Series key of each configured entry, to drop gauges of removed entries. */
  readonly #seriesOf = new Map<string, string>();

  static #inc(map: Map<string, number>, key: string): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }

  /** Folds one event into the series. */
  apply(event: DaemonEvent): void {
    switch (event.type) {
      case 'checked':
      case 'pulled': {
        const result = event.type === 'pulled' ? 'pulled' : event.result;
        Metrics.#inc(this.checks, seriesKey(event.entry, result));
        if (event.type === 'pulled') Metrics.#inc(this.pulls, seriesKey(event.entry));
        this.lastSuccess.set(seriesKey(event.entry), Math.floor(Date.parse(event.at) / 1000));
        this.held.set(seriesKey(event.entry), 0);
        this.#seriesOf.set(event.entry.key, seriesKey(event.entry));
        return;
      }
      case 'held':
        Metrics.#inc(this.checks, seriesKey(event.entry, 'held'));
        this.held.set(seriesKey(event.entry), 1);
        this.#seriesOf.set(event.entry.key, seriesKey(event.entry));
        return;
      case 'failed':
        Metrics.#inc(this.checks, seriesKey(event.entry, 'failed'));
        Metrics.#inc(this.failures, seriesKey(event.entry));
        return;
      case 'quota':
        this.rateLimitRemaining.set(event.registry, event.remaining);
        return;
      case 'configured': {
        const keep = new Set(event.entries.map((e) => e.key));
        for (const [key, series] of [...this.#seriesOf]) {
          if (keep.has(key)) continue;
          this.#seriesOf.delete(key);
          this.held.delete(series);
          this.lastSuccess.delete(series);
        }
        return;
      }
      case 'config-rejected':
      case 'started':
      case 'stopped':
      case 'scheduled':
      case 'clock-jumped':
      case 'skipped':
      case 'check-started':
      case 'pruned':
      case 'platform-back':
      case 'recovered':
      case 'rate-limited':
        return;
    }
  }

  /** The text exposition format. */
  render(): string {
    const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
    const lines: string[] = [];
    const family = (name: string, help: string, type: 'counter' | 'gauge', map: Map<string, number>, labels: readonly string[]): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [k, v] of [...map].sort(([a], [b]) => a.localeCompare(b))) {
        const values = k.split(sep);
        lines.push(`${name}{${labels.map((l, i) => `${l}="${esc(values[i] ?? '')}"`).join(',')}} ${v}`);
      }
    };
    family('resolver_checks_total', 'Checks run, by image, platform and result.', 'counter', this.checks, ['image', 'platform', 'result']);
    family('resolver_pulls_total', 'Children pulled, by image and platform.', 'counter', this.pulls, ['image', 'platform']);
    family('resolver_failures_total', 'Failed checks, by image and platform.', 'counter', this.failures, ['image', 'platform']);
    family('resolver_last_success_timestamp_seconds', 'Unix time of the last successful check (not a held one), by image and platform.', 'gauge', this.lastSuccess, ['image', 'platform']);
    family('resolver_held', '1 while the index has no child for the platform and the current image is held, by image and platform.', 'gauge', this.held, ['image', 'platform']);
    family('resolver_registry_ratelimit_remaining', 'Last ratelimit-remaining header seen, by registry.', 'gauge', this.rateLimitRemaining, ['registry']);
    return `${lines.join('\n')}\n`;
  }
}
