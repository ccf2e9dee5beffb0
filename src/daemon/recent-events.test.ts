import { describe, expect, it } from 'vitest';
import type { DaemonEvent } from './events.js';
import { RecentEvents } from './recent-events.js';

const entry = { key: 'alpine:latest detected', image: 'docker.io/library/alpine:latest', platform: 'linux/amd64' };
const checked = (i: number): DaemonEvent => ({ type: 'checked', entry, result: 'unchanged', indexDigest: `sha256:${i}`, childDigest: 'sha256:c', pulledAt: undefined, at: new Date(i * 1000).toISOString() });

describe('RecentEvents', () => {
  it('keeps at most its capacity, the newest, numbered in emit order and oldest first', () => {
    const r = new RecentEvents(3);
    for (let i = 1; i <= 10; i++) r.push(checked(i));
    expect(r.size).toBe(3);
    const page = r.list();
    expect(page.events.map((e) => e.seq)).toEqual([8, 9, 10]);
    expect(page).toMatchObject({ last: 10, oldest: 8 });
    expect(page.events.map((e) => (e as Extract<DaemonEvent, { type: 'checked' }>).indexDigest)).toEqual(['sha256:8', 'sha256:9', 'sha256:10']);
  });

  it('filters by since, type and limit (the newest of them); skips scheduled and quota', () => {
    const r = new RecentEvents(100);
    r.push(checked(1));
    r.push({ type: 'scheduled', key: entry.key, nextRun: undefined });
    r.push({ type: 'quota', registry: 'r', remaining: 1, limit: 2 });
    r.push({ type: 'stopped', at: new Date(0).toISOString() });
    r.push(checked(2));
    r.push(checked(3));
    expect(r.size).toBe(4);
    expect(r.list({ since: 2 }).events.map((e) => e.seq)).toEqual([3, 4]);
    expect(r.list({ types: ['stopped'] }).events.map((e) => e.type)).toEqual(['stopped']);
    expect(r.list({ types: ['checked'], limit: 2 }).events.map((e) => e.seq)).toEqual([3, 4]);
    expect(r.list({ limit: 0 }).events).toEqual([]);
    expect(new RecentEvents(1).list()).toEqual({ last: 0, oldest: 1, events: [] });
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new RecentEvents(0)).toThrow(RangeError);
  });
});
