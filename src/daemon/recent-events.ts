/**
 * The recent daemon events served by `GET /v1/events`: a bounded ring buffer (default 1,000), each event
 * numbered in emit order so a poller asks for `since` the last number it saw. `scheduled` and `quota` are
 * not kept (state, not news: /v1/status and /metrics carry them, and with many entries they would push
 * everything else out). Events are data with no secret in them (docs/daemon.md); they are stored as they are.
 */
import type { DaemonEvent } from './events.js';

/** A kept event: its sequence number and the event. */
export type NumberedEvent = { readonly seq: number } & DaemonEvent;

/** What `list` answers. */
export interface EventsPage {
  /** The number of the newest event emitted so far (0 before any). */
  readonly last: number;
  /** The oldest number still kept; a `since` below it means some were dropped. */
  readonly oldest: number;
  readonly events: readonly NumberedEvent[];
}

const skipped = new Set<DaemonEvent['type']>(['scheduled', 'quota']);

/** A ring buffer of the newest events. */
export class RecentEvents {
  readonly #capacity: number;
  readonly #ring: NumberedEvent[] = [];
  #next = 0;
  #seq = 0;

  constructor(capacity = 1000) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, not ${capacity}`);
    this.#capacity = capacity;
  }

  /** The subscriber: keeps `event` unless it is one of the skipped types. */
  readonly push = (event: DaemonEvent): void => {
    if (skipped.has(event.type)) return;
    const numbered = { seq: ++this.#seq, ...event } as NumberedEvent;
    if (this.#ring.length < this.#capacity) this.#ring.push(numbered);
    else this.#ring[this.#next] = numbered;
    this.#next = (this.#next + 1) % this.#capacity;
  };

  /** How many are kept. */
  get size(): number {
    return this.#ring.length;
  }

  /** The kept events, oldest first, after `since`, of `types`, the newest `limit` of them. */
  list(query: { readonly since?: number | undefined; readonly limit?: number | undefined; readonly types?: readonly string[] | undefined } = {}): EventsPage {
    const ordered = this.#ring.length < this.#capacity ? this.#ring : [...this.#ring.slice(this.#next), ...this.#ring.slice(0, this.#next)];
    const types = query.types === undefined ? undefined : new Set(query.types);
    const since = query.since ?? 0;
    const picked = ordered.filter((e) => e.seq > since && (types === undefined || types.has(e.type)));
    const limit = query.limit ?? picked.length;
    return { last: this.#seq, oldest: ordered[0]?.seq ?? this.#seq + 1, events: limit === 0 ? [] : picked.slice(-limit) };
  }
}
