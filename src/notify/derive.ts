/**
 * When a notification is sent: the daemon emits its events every cycle (`held` every check while held,
 * `failed` on every failure), a person wants to hear once per change (issue 11 §1). `derive` is a pure
 * fold over the daemon's events with a small per-entry state that is persisted beside the outbox, so a
 * restart neither repeats a `held` nor forgets that `failed` was sent (and `recovered` is owed).
 *
 * Rules (docs/notifications.md):
 * - `pulled` when the entry's child differs from the last one notified (an index rebuilt for other
 *   platforms pulls nothing and notifies nothing; a re-pull of the same child is not a change, nor is the
 *   first check of a tag the engine already had at that child, e.g. a discovered container's image);
 * - `held` once until the platform is back (`platform-back`, or any success after a restart);
 * - `failed` once when consecutive failures reach `failedAfter`; `recovered` on the next success, only
 *   if `failed` was sent;
 * - `rate-limited` once per streak of failures that are rate limits;
 * - `pruned` for every removal (each is a change); `activated`, `rolled-back` once per child.
 */
import type { NotificationKind } from './config.js';
import { notificationId, type EntryState, type Notification } from './notification.js';

/** Which entry an event is about (the daemon's `EntryRef`). */
export interface EntryRefInput {
  readonly key: string;
  readonly image: string;
  readonly platform: string;
}

/**
 * The daemon events the notifier reads — a structural subset of the daemon's `DaemonEvent` (src/daemon/events.ts),
 * so `daemon.events.on((e) => notifier.observe(e))` type-checks without this folder importing the daemon.
 */
export type NotifierInput =
  | { readonly type: 'configured'; readonly entries: readonly { readonly key: string }[] }
  | { readonly type: 'checked'; readonly entry: EntryRefInput; readonly indexDigest: string; readonly childDigest: string; readonly at: string }
  | { readonly type: 'pulled'; readonly entry: EntryRefInput; readonly indexDigest: string; readonly childDigest: string; readonly previous: string | undefined; readonly size?: number | undefined; readonly wasPresent?: true; readonly at: string }
  | { readonly type: 'pruned'; readonly entry: EntryRefInput; readonly digests: readonly string[]; readonly at: string }
  | { readonly type: 'held'; readonly entry: EntryRefInput; readonly indexDigest: string; readonly childDigest: string | undefined; readonly message: string; readonly available: readonly string[]; readonly at: string }
  | { readonly type: 'platform-back'; readonly entry: EntryRefInput; readonly childDigest: string; readonly at: string }
  | { readonly type: 'failed'; readonly entry: EntryRefInput; readonly code: string; readonly message: string; readonly failures: number; readonly retryAfterMs: number | undefined; readonly at: string }
  | { readonly type: 'recovered'; readonly entry: EntryRefInput; readonly failures: number; readonly at: string }
  | { readonly type: 'rate-limited'; readonly entry: EntryRefInput; readonly registry: string; readonly retryAfterMs: number | undefined; readonly at: string }
  | { readonly type: 'activated'; readonly entry: EntryRefInput; readonly childDigest: string; readonly previous?: string | undefined; readonly at: string }
  | { readonly type: 'rolled-back'; readonly entry: EntryRefInput; readonly childDigest: string; readonly badDigest: string; readonly message: string; readonly at: string };

/** The event types read; every other daemon event is ignored. */
export const inputTypes: ReadonlySet<string> = new Set<NotifierInput['type']>(['configured', 'checked', 'pulled', 'pruned', 'held', 'platform-back', 'failed', 'recovered', 'rate-limited', 'activated', 'rolled-back']);

/** What is remembered per entry (persisted). */
export interface EntryMemory {
  readonly child?: string | undefined;
  readonly index?: string | undefined;
  readonly held: boolean;
  /** Consecutive failures seen. */
  readonly failures: number;
  /** `failed` was sent and `recovered` is owed. */
  readonly failing: boolean;
  readonly rateLimited: boolean;
  /** The child last notified as activated (no repeat). */
  readonly activated?: string | undefined;
}

/** The derivation state: per entry key. */
export type DeriveState = Readonly<Record<string, EntryMemory>>;

const fresh: EntryMemory = { held: false, failures: 0, failing: false, rateLimited: false };

/** Options of the derivation. */
export interface DeriveOptions {
  /** Consecutive failures before `failed` (config `failedAfter`). */
  readonly failedAfter: number;
}

/** The state notifications (and MQTT's retained state message) show for an entry. */
export function stateOf(m: EntryMemory): EntryState {
  return { status: m.held ? 'held' : m.failing ? 'failing' : 'ok', childDigest: m.child, indexDigest: m.index, rateLimited: m.rateLimited };
}

/** Folds one daemon event: the new state and the notifications it causes (usually none). */
export function derive(state: DeriveState, event: NotifierInput, options: DeriveOptions): { state: DeriveState; notifications: Notification[] } {
  if (event.type === 'configured') {
    // Entries no longer configured are forgotten: the state stays bounded by the config.
    const keep = new Set(event.entries.map((e) => e.key));
    const next = Object.fromEntries(Object.entries(state).filter(([k]) => keep.has(k)));
    return { state: Object.keys(next).length === Object.keys(state).length ? state : next, notifications: [] };
  }
  const { entry } = event;
  const before = state[entry.key] ?? fresh;
  let m: EntryMemory = before;
  const out: Notification[] = [];
  const note = (kind: NotificationKind, discriminator: string, fields: Partial<Notification>): void => {
    out.push({ kind, id: notificationId(kind, entry.key, discriminator), at: event.at, image: entry.image, platform: entry.platform, ...fields, state: stateOf(m) });
  };
  /** A check that worked: ends a failure streak (and a hold seen before a restart, when the child is there). */
  const succeeded = (child: string | undefined, index: string | undefined): void => {
    if (m.failing) {
      const failures = m.failures;
      m = { ...m, failing: false, failures: 0, rateLimited: false };
      note('recovered', event.at, { failures });
    } else if (m.failures !== 0 || m.rateLimited) m = { ...m, failures: 0, rateLimited: false };
    if (m.held && child !== undefined) {
      m = { ...m, held: false, child: m.child ?? child, index: index ?? m.index };
      note('platform-back', `${child} ${event.at}`, { newDigest: child, indexDigest: index });
    }
  };

  switch (event.type) {
    case 'checked':
      succeeded(event.childDigest, event.indexDigest);
      if (m.child === undefined || m.index !== event.indexDigest) m = { ...m, child: m.child ?? event.childDigest, index: event.indexDigest };
      break;
    case 'pulled': {
      succeeded(event.childDigest, event.indexDigest);
      const old = event.previous ?? m.child;
      const changed = m.child !== event.childDigest;
      m = { ...m, child: event.childDigest, index: event.indexDigest };
      if (changed && event.wasPresent !== true) note('pulled', event.childDigest, { oldDigest: old, newDigest: event.childDigest, indexDigest: event.indexDigest, size: event.size });
      break;
    }
    case 'pruned':
      if (event.digests.length > 0) note('pruned', [...event.digests].sort().join(','), { digests: [...event.digests] });
      break;
    case 'held':
      succeeded(undefined, undefined);
      if (!m.held) {
        m = { ...m, held: true, child: event.childDigest ?? m.child, index: event.indexDigest };
        note('held', `${event.indexDigest} ${event.at}`, { oldDigest: m.child, indexDigest: event.indexDigest, message: event.message, available: [...event.available] });
      }
      break;
    case 'platform-back':
      succeeded(undefined, undefined);
      if (m.held) {
        m = { ...m, held: false };
        note('platform-back', `${event.childDigest} ${event.at}`, { newDigest: event.childDigest });
      }
      break;
    case 'failed': {
      m = { ...m, failures: Math.max(event.failures, m.failures + 1) };
      if (!m.failing && m.failures >= options.failedAfter) {
        m = { ...m, failing: true };
        note('failed', event.at, { code: event.code, message: event.message, failures: m.failures, retryAfterSeconds: event.retryAfterMs === undefined ? undefined : Math.ceil(event.retryAfterMs / 1000) });
      }
      break;
    }
    case 'recovered':
      succeeded(undefined, undefined);
      break;
    case 'rate-limited':
      if (!m.rateLimited) {
        m = { ...m, rateLimited: true };
        note('rate-limited', event.at, { registry: event.registry, retryAfterSeconds: event.retryAfterMs === undefined ? undefined : Math.ceil(event.retryAfterMs / 1000) });
      }
      break;
    case 'activated':
      if (m.activated !== event.childDigest) {
        const previous = event.previous;
        m = { ...m, activated: event.childDigest };
        note('activated', event.childDigest, { newDigest: event.childDigest, oldDigest: previous });
      }
      break;
    case 'rolled-back':
      m = { ...m, activated: event.childDigest };
      note('rolled-back', event.badDigest, { oldDigest: event.childDigest, newDigest: event.badDigest, message: event.message });
      break;
  }
  return { state: m === before ? state : { ...state, [entry.key]: m }, notifications: out };
}
