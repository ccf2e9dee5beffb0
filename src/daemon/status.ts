/**
 * `resolver status` as a pure fold over the daemon's events: `reduceStatus(state, event)` returns the next
 * state and never does IO or reads a clock (events carry their time). A reload keeps the status of every
 * entry whose key (image and platform) is still configured, so two entries of one image never mix.
 */
import { detectedPlatform, type DaemonEvent, type EntryRef, type EntrySpec, type ServedBy } from './events.js';

/** Per-entry status, as `resolver status` shows it. */
export interface ImageStatus {
  /** `image platform`, unique per entry. */
  key: string;
  image: string;
  /** The resolved target platform once known, else the configured one. */
  platform: string | undefined;
  schedule: string;
  state: 'pending' | 'ok' | 'held' | 'failing';
  indexDigest: string | undefined;
  childDigest: string | undefined;
  lastCheck: string | undefined;
  lastPull: string | undefined;
  lastResult: 'unchanged' | 'index-changed' | 'pulled' | 'would-pull' | 'held' | 'failed' | undefined;
  nextRun: string | undefined;
  failures: number;
  backoffUntil: string | undefined;
  /** The registry's Retry-After (capped) behind the current backoff, in seconds. */
  retryAfterSeconds: number | undefined;
  lastError: string | undefined;
  held: string | undefined;
  /** When a deferred entry (budget, 429 of its registry, rollout) will proceed, and why it waits (issue 12). */
  waitUntil?: string | undefined;
  waitReason?: 'throttled' | 'reserve' | 'rollout' | undefined;
  waitMessage?: string | undefined;
  /** The new child a rollout wait holds back. */
  pendingChild?: string | undefined;
  /** Where the entry came from: `config`, `label of container web`, `config + label of container web`. */
  source?: string | undefined;
  /**
   * Which hosts answered (docs/mirrors.md): `resolve` the tag at the last check, `content` the last content read
   * (the engine's pull source after a pull, else the host of the manifests); a mirror's or the registry's own.
   */
  servedBy?: ServedBy | undefined;
}

/** The status of every configured entry, in config order. */
export type StatusState = ReadonlyMap<string, Readonly<ImageStatus>>;

/** The status the daemon keeps: one map it owns, updated in place by `foldStatus`. */
export type StatusMap = Map<string, Readonly<ImageStatus>>;

/** No entries yet. */
export const emptyStatus: StatusState = new Map();

function fresh(spec: EntrySpec): ImageStatus {
  return {
    key: spec.key, image: spec.image, platform: spec.platformSpec, schedule: spec.schedule, state: 'pending',
    indexDigest: undefined, childDigest: undefined, lastCheck: undefined, lastPull: undefined, lastResult: undefined,
    nextRun: undefined, failures: 0, backoffUntil: undefined, retryAfterSeconds: undefined, lastError: undefined, held: undefined,
    source: spec.source ?? 'config',
  };
}

/** Replaces one entry's object (never mutates it, so an entry read earlier stays as it was). */
function patch(state: StatusMap, key: string, change: (s: Readonly<ImageStatus>) => Partial<ImageStatus>): StatusMap {
  const current = state.get(key);
  if (current !== undefined) state.set(key, { ...current, ...change(current) });
  return state;
}

/** An event's platform, unless it is only the placeholder of a not yet detected one. */
function platformOf(entry: EntryRef, s: Readonly<ImageStatus>): string | undefined {
  return entry.platform === detectedPlatform ? s.platform : entry.platform;
}

/** The hosts after an event: its tag host, and its content host or the one known before (an unchanged check reads none). */
function servedAfter(event: { readonly servedBy?: ServedBy | undefined }, s: Readonly<ImageStatus>): Partial<ImageStatus> {
  const e = event.servedBy;
  if (e === undefined) return {};
  const content = e.content ?? s.servedBy?.content;
  return { servedBy: { ...(e.resolve === undefined ? {} : { resolve: e.resolve }), ...(content === undefined ? {} : { content }) } };
}

const success = { failures: 0, backoffUntil: undefined, retryAfterSeconds: undefined, lastError: undefined, waitUntil: undefined, waitReason: undefined, waitMessage: undefined, pendingChild: undefined } as const;

/** The next status after `event`, leaving `state` as it was (a copy, then `foldStatus`): for one-off folds and tests. */
export function reduceStatus(state: StatusState, event: DaemonEvent): StatusState {
  return foldStatus(new Map(state), event);
}

/**
 * Folds `event` into `state`, a map the caller owns, and returns the status after it: that map, updated in
 * place (an entry's object is replaced, never changed), or a new map for `configured`. In place because a
 * copy of the map per event made the daemon's fold quadratic: three events per check, each copying every
 * entry, were at 1,000 tags its largest CPU cost (2.5 of 24 s in a 75 s profile) and most of its garbage
 * (bench/README.md).
 */
export function foldStatus(state: StatusMap, event: DaemonEvent): StatusMap {
  switch (event.type) {
    case 'configured': {
      const next: StatusMap = new Map();
      for (const spec of event.entries) {
        const prev = state.get(spec.key);
        next.set(spec.key, prev === undefined ? fresh(spec) : { ...prev, schedule: spec.schedule, nextRun: undefined, source: spec.source ?? 'config' });
      }
      return next;
    }
    case 'scheduled':
      return patch(state, event.key, () => ({ nextRun: event.nextRun }));
    case 'checked':
      return patch(state, event.entry.key, (s) => ({
        ...success, platform: platformOf(event.entry, s), state: 'ok', held: undefined, lastCheck: event.at, lastResult: event.result,
        indexDigest: event.indexDigest, childDigest: event.childDigest, lastPull: s.lastPull ?? event.pulledAt, ...servedAfter(event, s),
      }));
    case 'pulled':
      return patch(state, event.entry.key, (s) => ({
        ...success, platform: platformOf(event.entry, s), state: 'ok', held: undefined, lastCheck: event.at, lastPull: event.at, lastResult: 'pulled',
        indexDigest: event.indexDigest, childDigest: event.childDigest, ...servedAfter(event, s),
      }));
    case 'held':
      return patch(state, event.entry.key, (s) => ({
        ...success, platform: platformOf(event.entry, s), state: 'held', held: event.message, lastCheck: event.at, lastResult: 'held',
        indexDigest: event.indexDigest, childDigest: event.childDigest ?? s.childDigest, lastPull: s.lastPull ?? event.pulledAt, ...servedAfter(event, s),
      }));
    case 'failed':
      return patch(state, event.entry.key, (s) => ({
        platform: platformOf(event.entry, s), state: 'failing', lastCheck: event.at, lastResult: 'failed', failures: event.failures,
        backoffUntil: event.backoffUntil, lastError: event.message,
        // Before this daemon's first success the digests and pull time are what the state file recorded.
        indexDigest: s.indexDigest ?? event.recorded?.indexDigest ?? undefined, childDigest: s.childDigest ?? event.recorded?.childDigest,
        lastPull: s.lastPull ?? event.recorded?.pulledAt,
        retryAfterSeconds: event.retryAfterMs === undefined ? undefined : Math.round(event.retryAfterMs / 1000),
        waitUntil: undefined, waitReason: undefined, waitMessage: undefined,
      }));
    case 'deferred':
      return patch(state, event.entry.key, (s) => ({
        platform: platformOf(event.entry, s), lastCheck: event.at, waitUntil: event.until, waitReason: event.reason, waitMessage: event.message,
        ...(event.childDigest === undefined ? {} : { pendingChild: event.childDigest }),
      }));
    case 'config-rejected':
    case 'started':
    case 'stopped':
    case 'clock-jumped':
    case 'skipped':
    case 'check-started':
    case 'pruned':
    case 'platform-back':
    case 'recovered':
    case 'rate-limited':
    case 'quota':
    case 'activated':
    case 'rolled-back':
      return state;
  }
}
