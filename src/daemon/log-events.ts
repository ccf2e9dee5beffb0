/**
 * The daemon's log lines, as a subscriber of its events: one line per event worth a line, with the
 * entry's image and platform on every per-entry line (issue 9.3). Messages are static strings; the
 * fields carry the data (style.md §15). One table, one row per event type: the compiler asks for a row
 * when an event type is added.
 */
import type { Logger } from '../log/logger.js';
import type { DaemonEvent, EntryRef, Listener, ServedBy } from './events.js';

/** A log line: level, fields, message. */
type Line = readonly [level: 'debug' | 'info' | 'warn' | 'error', fields: Record<string, unknown>, message: string];

/** The line of each event type; undefined: no line. */
type Lines = { readonly [K in DaemonEvent['type']]: (event: Extract<DaemonEvent, { type: K }>) => Line | undefined };

/** The fields every per-entry line starts with. */
const about = (entry: EntryRef): { image: string; platform: string } => ({ image: entry.image, platform: entry.platform });

/** Which hosts answered (docs/mirrors.md): `resolvedBy` the tag, `contentFrom` the content; absent fields are left out. */
const served = (s: ServedBy | undefined): { resolvedBy?: string; contentFrom?: string } => ({
  ...(s?.resolve === undefined ? {} : { resolvedBy: s.resolve }), ...(s?.content === undefined ? {} : { contentFrom: s.content }),
});

/**
 * The messages of a `pulled` event (docs/daemon.md, "Log lines"): a child the engine fetched, or a first check
 * that found the engine already holding it (`wasPresent`) and only recorded it.
 */
const pulledMessages = { pulled: 'pulled a new child', present: 'child already present; recorded' } as const;

/** One warning per streak (README): the repeats of every cycle are debug lines. */
const streak = (repeat: boolean): Line[0] => (repeat ? 'debug' : 'warn');

const lines: Lines = {
  // Where the device id came from (config, machine-id, hostname), never the id itself (machine-id(5)).
  started: (e) => ['info', { images: e.entries, stateDir: e.stateDir, metrics: e.metrics, deviceIdFrom: e.deviceIdFrom }, 'daemon started'],
  stopped: () => ['info', {}, 'daemon stopped'],
  // A change of discovered entries is logged by discovery itself ('discovered entries changed').
  configured: (e) => (e.reload && e.changed === undefined ? ['info', { images: e.entries.length }, 'config reloaded'] : undefined),
  'config-rejected': (e) => ['error', { err: e.message, details: e.details }, 'new config rejected; keeping the running one'],
  'clock-jumped': (e) => ['warn', { jumpMs: e.jumpMs }, 'wall clock jumped; re-arming schedules'],
  skipped: (e) => ['debug', about(e.entry), e.reason === 'running' ? 'previous check still running; skipped' : 'backing off; skipped'],
  'check-started': (e) => ['debug', { ...about(e.entry), why: e.why }, 'check started'],
  checked: (e) => ['info', { ...about(e.entry), result: e.result, child: e.childDigest, ...served(e.servedBy) }, 'checked'],
  // `wasPresent`: the entry's first check found the engine already holding this child under the tag (an image
  // present before resolver, a discovered container's): it is recorded, but nothing new arrived (not notified).
  pulled: (e) => ['info', { ...about(e.entry), child: e.childDigest, previous: e.previous, pruned: e.pruned, ...(e.wasPresent === true ? { wasPresent: true } : {}), ...served(e.servedBy) }, e.wasPresent === true ? pulledMessages.present : pulledMessages.pulled],
  held: (e) => {
    if (e.disk !== undefined) {
      const d = e.disk;
      return [streak(e.repeat), { ...about(e.entry), child: d.childDigest, keeping: e.childDigest, needed: d.needed, free: d.free, minFree: d.minFree, path: d.path, err: e.message }, 'not enough disk space for the new child; holding the current image'];
    }
    if (e.childDigest === undefined) return [streak(e.repeat), { ...about(e.entry), available: e.available }, 'no child for this platform in the index; nothing to pull'];
    return [streak(e.repeat), { ...about(e.entry), available: e.available, keeping: e.childDigest }, 'no child for this platform any more; holding the current image'];
  },
  'platform-back': (e) => ['warn', { ...about(e.entry), child: e.childDigest }, 'the platform is back in the index'],
  failed: (e) => ['error', { ...about(e.entry), code: e.code, failures: e.failures, retryInMs: e.retryInMs, err: e.message }, 'check failed'],
  recovered: (e) => ['info', { ...about(e.entry), failures: e.failures }, 'recovered'],
  'rate-limited': (e) => ['warn', { ...about(e.entry), registry: e.registry, retryAfterMs: e.retryAfterMs }, 'rate limited by the registry'],
  deferred: (e) => ['info', { ...about(e.entry), reason: e.reason, until: e.until, child: e.childDigest, detail: e.message }, 'deferred'],
  scheduled: () => undefined,
  pruned: () => undefined,
  quota: () => undefined,
  // Activation logs its own lines (every step, with the container's name): src/activate/.
  activated: () => undefined,
  'rolled-back': () => undefined,
};

/** A listener that logs daemon events. */
export function logEvents(logger: Logger): Listener<DaemonEvent> {
  return (event) => {
    const line = (lines[event.type] as (e: DaemonEvent) => Line | undefined)(event);
    if (line !== undefined) logger[line[0]](line[1], line[2]);
  };
}
