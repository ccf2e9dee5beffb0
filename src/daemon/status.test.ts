import { describe, expect, it } from 'vitest';
import type { DaemonEvent, EntrySpec } from './events.js';
import { emptyStatus, foldStatus, reduceStatus, type StatusMap } from './status.js';

const at = '2026-12-01T12:00:00.000Z';
const summary = { images: 2, schedule: '* * * * *', splayMs: 0, concurrency: 1, platform: undefined, onMissingPlatform: 'hold', retain: 1, logLevel: 'info', metrics: undefined, notifications: undefined } as const;
const spec = (n: number): EntrySpec => ({ key: `r.lan/app:${n} linux/arm64`, image: `r.lan/app:${n}`, platformSpec: 'linux/arm64', registry: 'r.lan', schedule: '* * * * *', onMissingPlatform: 'hold', retain: 1 });
const configured = (n: number): DaemonEvent => ({ type: 'configured', entries: Array.from({ length: n }, (_, i) => spec(i)), reload: false, summary, at });
const checked = (i: number, digest: string): DaemonEvent => ({ type: 'checked', entry: { key: spec(i).key, image: spec(i).image, platform: 'linux/arm64' }, result: 'unchanged', indexDigest: 'sha256:i', childDigest: digest, pulledAt: at, at });

describe('foldStatus', () => {
  it('updates the map it is given in place for an entry event (no copy of every entry per event), replacing only that entry', () => {
    const state: StatusMap = foldStatus(new Map(), configured(1000));
    const before = state.get(spec(7).key);
    const other = state.get(spec(8).key);
    const after = foldStatus(state, checked(7, 'sha256:c1'));
    expect(after).toBe(state);
    expect(after.get(spec(7).key)?.childDigest).toBe('sha256:c1');
    // The entry object is replaced, never changed: what a reader took before stays as it was.
    expect(before?.childDigest).toBeUndefined();
    expect(after.get(spec(7).key)).not.toBe(before);
    expect(after.get(spec(8).key)).toBe(other);
    expect(foldStatus(state, { type: 'scheduled', key: spec(3).key, nextRun: at })).toBe(state);
  });

  it('builds a new map on configured, keeping the status of entries still configured', () => {
    const state = foldStatus(foldStatus(new Map(), configured(3)), checked(1, 'sha256:c1'));
    const next = foldStatus(state, configured(2));
    expect(next).not.toBe(state);
    expect([...next.keys()]).toEqual([spec(0).key, spec(1).key]);
    expect(next.get(spec(1).key)?.childDigest).toBe('sha256:c1');
  });
});

describe('reduceStatus', () => {
  it('leaves the state it is given as it was', () => {
    const state = reduceStatus(emptyStatus, configured(2));
    const next = reduceStatus(state, checked(0, 'sha256:c0'));
    expect(next).not.toBe(state);
    expect(state.get(spec(0).key)?.childDigest).toBeUndefined();
    expect(next.get(spec(0).key)?.childDigest).toBe('sha256:c0');
    expect(emptyStatus.size).toBe(0);
  });
});
