/**
 * The daemon's log lines, as a subscriber of its events: one line per event worth a line, with the
 * entry's image and platform on every per-entry line (issue 9.3). Messages are static strings; the
 * fields carry the data (style.md §15).
 */
import type { Logger } from '../log/logger.js';
import type { DaemonEvent, EntryRef, Listener } from './events.js';

/** The fields every per-entry line starts with. */
const about = (entry: EntryRef): { image: string; platform: string } => ({ image: entry.image, platform: entry.platform });

/** A listener that logs daemon events. */
export function logEvents(logger: Logger): Listener<DaemonEvent> {
  return (event) => {
    switch (event.type) {
      case 'started':
        // Where the device id came from (config, machine-id, hostname), never the id itself (machine-id(5)).
        logger.info({ images: event.entries, stateDir: event.stateDir, metrics: event.metrics, deviceIdFrom: event.deviceIdFrom }, 'daemon started');
        return;
      case 'stopped':
        logger.info({}, 'daemon stopped');
        return;
      case 'configured':
        // A change of discovered entries is logged by discovery itself ('discovered entries changed').
        if (event.reload && event.changed === undefined) logger.info({ images: event.entries.length }, 'config reloaded');
        return;
      case 'config-rejected':
        logger.error({ err: event.message, details: event.details }, 'new config rejected; keeping the running one');
        return;
      case 'clock-jumped':
        logger.warn({ jumpMs: event.jumpMs }, 'wall clock jumped; re-arming schedules');
        return;
      case 'skipped':
        logger.debug(about(event.entry), event.reason === 'running' ? 'previous check still running; skipped' : 'backing off; skipped');
        return;
      case 'check-started':
        logger.debug({ ...about(event.entry), why: event.why }, 'check started');
        return;
      case 'checked':
        logger.info({ ...about(event.entry), result: event.result, child: event.childDigest }, 'checked');
        return;
      case 'pulled':
        logger.info({ ...about(event.entry), child: event.childDigest, previous: event.previous, pruned: event.pruned }, 'pulled a new child');
        return;
      case 'held':
        // One warning per streak (README): the repeats of every cycle are debug lines.
        if (event.disk !== undefined) {
          const d = event.disk;
          (event.repeat ? logger.debug : logger.warn).call(logger, { ...about(event.entry), child: d.childDigest, keeping: event.childDigest, needed: d.needed, free: d.free, minFree: d.minFree, path: d.path, err: event.message }, 'not enough disk space for the new child; holding the current image');
        } else if (event.childDigest === undefined) {
          (event.repeat ? logger.debug : logger.warn).call(logger, { ...about(event.entry), available: event.available }, 'no child for this platform in the index; nothing to pull');
        } else {
          (event.repeat ? logger.debug : logger.warn).call(logger, { ...about(event.entry), available: event.available, keeping: event.childDigest }, 'no child for this platform any more; holding the current image');
        }
        return;
      case 'platform-back':
        logger.warn({ ...about(event.entry), child: event.childDigest }, 'the platform is back in the index');
        return;
      case 'failed':
        logger.error({ ...about(event.entry), code: event.code, failures: event.failures, retryInMs: event.retryInMs, err: event.message }, 'check failed');
        return;
      case 'recovered':
        logger.info({ ...about(event.entry), failures: event.failures }, 'recovered');
        return;
      case 'rate-limited':
        logger.warn({ ...about(event.entry), registry: event.registry, retryAfterMs: event.retryAfterMs }, 'rate limited by the registry');
        return;
      case 'deferred':
        logger.info({ image: event.entry.image, platform: event.entry.platform, reason: event.reason, until: event.until, child: event.childDigest, detail: event.message }, 'deferred');
        return;
      case 'scheduled':
      case 'pruned':
      case 'quota':
      case 'activated': // Activation logs its own lines (every step, with the container's name): src/activate/.
      case 'rolled-back':
        return;
    }
  };
}
