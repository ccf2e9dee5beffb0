/**
 * Which host answered (docs/mirrors.md) as status, metrics and log lines show it: the `servedBy` of the check
 * events, folded by reduceStatus, counted by Metrics, and logged by logEvents.
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../log/logger.js';
import type { DaemonEvent, EntrySpec } from './events.js';
import { logEvents } from './log-events.js';
import { Metrics } from './metrics.js';
import { emptyStatus, reduceStatus } from './status.js';

const spec: EntrySpec = { key: 'k', image: 'origin.lan:5000/app:1', platformSpec: 'linux/amd64', registry: 'origin.lan:5000', schedule: '* * * * *', onMissingPlatform: 'hold', retain: 1 };
const entry = { key: 'k', image: spec.image, platform: 'linux/amd64' };
const at = '2026-12-01T12:00:00.000Z';
const summary = { images: 1, schedule: '* * * * *', splayMs: 0, concurrency: 1, platform: undefined, onMissingPlatform: 'hold', retain: 1, logLevel: 'info', metrics: undefined, notifications: undefined } as const;
const pulled: DaemonEvent = { type: 'pulled', entry, indexDigest: 'sha256:i', childDigest: 'sha256:c', previous: undefined, pruned: [], at, servedBy: { resolve: 'origin.lan:5000', content: 'mirror.lan:5000' } };
const unchanged: DaemonEvent = { type: 'checked', entry, result: 'unchanged', indexDigest: 'sha256:i', childDigest: 'sha256:c', pulledAt: at, at, servedBy: { resolve: 'origin.lan:5000' } };

describe('servedBy', () => {
  it('status: the tag\'s host from every check; the content\'s from the last check that read content', () => {
    let s = reduceStatus(emptyStatus, { type: 'configured', entries: [spec], reload: false, summary, at });
    s = reduceStatus(s, pulled);
    expect(s.get('k')?.servedBy).toEqual({ resolve: 'origin.lan:5000', content: 'mirror.lan:5000' });
    // An unchanged check read no content: the content host stays the one of the pull.
    s = reduceStatus(s, unchanged);
    expect(s.get('k')?.servedBy).toEqual({ resolve: 'origin.lan:5000', content: 'mirror.lan:5000' });
    s = reduceStatus(s, { ...unchanged, result: 'index-changed', servedBy: { resolve: 'mirror.lan:5000', content: 'origin.lan:5000' } });
    expect(s.get('k')?.servedBy).toEqual({ resolve: 'mirror.lan:5000', content: 'origin.lan:5000' });
  });

  it('metrics: resolver_served_by_total by image, platform, what and host', () => {
    const m = new Metrics();
    m.apply(pulled);
    m.apply(unchanged);
    const lines = m.render().split('\n').filter((l) => l.startsWith('resolver_served_by_total'));
    expect(lines).toEqual([
      'resolver_served_by_total{image="origin.lan:5000/app:1",platform="linux/amd64",what="content",host="mirror.lan:5000"} 1',
      'resolver_served_by_total{image="origin.lan:5000/app:1",platform="linux/amd64",what="resolve",host="origin.lan:5000"} 2',
    ]);
  });

  it('logs: resolvedBy and contentFrom on the checked and pulled lines', () => {
    const out: string[] = [];
    const listener = logEvents(createLogger({ level: 'info', human: false, write: (t) => void out.push(t) }));
    listener(pulled);
    listener(unchanged);
    const lines = out.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l['msg'], l['resolvedBy'], l['contentFrom']])).toEqual([
      ['pulled a new child', 'origin.lan:5000', 'mirror.lan:5000'],
      ['checked', 'origin.lan:5000', undefined],
    ]);
  });
});
