import cron from 'node-cron';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventBus } from './events.js';
import { autoSplayCapMs, schedulePeriodMs, Scheduler, splayOf } from './scheduler.js';
import { parseConfig } from '../config/load.js';
import { entriesOf, summaryOf } from './entries.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], now: new Date('2026-12-01T12:00:00.000Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

/** Monotonic time follows the fake wall clock, minus `offset` (a jump of the wall clock alone). */
function scheduler(): { s: Scheduler; due: string[]; jumps: number[]; mono: { offset: number; frozen: number | undefined } } {
  const due: string[] = [];
  const jumps: number[] = [];
  const mono: { offset: number; frozen: number | undefined } = { offset: 0, frozen: undefined };
  const s = new Scheduler({ onDue: (k) => due.push(`${k}@${new Date().toISOString().slice(11, 19)}`), onArmed: () => undefined, onJump: (ms) => jumps.push(ms), monotonic: () => mono.frozen ?? Date.now() - mono.offset });
  return { s, due, jumps, mono };
}

describe('Scheduler', () => {
  it('fires each entry on its own cron slots', async () => {
    const { s, due } = scheduler();
    s.set([{ key: 'a', schedule: '*/10 * * * * *' }, { key: 'b', schedule: '*/15 * * * * *' }]);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(due.sort()).toEqual(['a@12:00:10', 'a@12:00:20', 'a@12:00:30', 'b@12:00:15', 'b@12:00:30']);
    s.stop();
  });

  it('a swap replaces every timer at once, reuses a task per schedule, and stop leaves nothing', async () => {
    const { s, due } = scheduler();
    const tasks = cron.getTasks().size;
    for (let i = 0; i < 100; i++) s.set([{ key: 'a', schedule: '*/10 * * * * *' }, { key: 'b', schedule: '*/10 * * * * *' }, { key: 'c', schedule: '0 * * * *' }]);
    expect(s.timers).toBe(4);
    expect(vi.getTimerCount()).toBe(4);
    expect(s.tasks).toBe(2);
    s.set([{ key: 'a', schedule: '*/5 * * * * *' }]);
    expect(s.tasks).toBe(1);
    // The plain grammar needs no node-cron task (its slots page in ICU's data: issue 10 §4).
    expect(cron.getTasks().size).toBe(tasks);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(due).toEqual(['a@12:00:05', 'a@12:00:10']);
    s.stop();
    expect(vi.getTimerCount()).toBe(0);
    expect(s.tasks).toBe(0);
  });

  it('leaves schedules outside the plain grammar to node-cron, one task per schedule, destroyed on stop', async () => {
    const { s, due } = scheduler();
    const tasks = cron.getTasks().size;
    s.set([{ key: 'a', schedule: '0 0 L * *' }, { key: 'b', schedule: '0 0 L * *' }, { key: 'c', schedule: '*/10 * * * * *' }]);
    expect(s.tasks).toBe(2);
    expect(cron.getTasks().size - tasks).toBe(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(due).toEqual(['c@12:00:10']);
    s.stop();
    expect(cron.getTasks().size).toBe(tasks);
  });

  it('notices a wall-clock jump against monotonic time and re-arms; its watchdog is the liveness signal', async () => {
    const { s, jumps, mono } = scheduler();
    s.set([{ key: 'a', schedule: '0 0 1 1 *' }]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(s.alive()).toBe(true);
    vi.setSystemTime(Date.now() + 3_600_000);
    mono.offset = 3_600_000;
    await vi.advanceTimersByTimeAsync(5000);
    expect(jumps).toEqual([3_600_000]);
    expect(s.alive()).toBe(true);
    // A blocked event loop: monotonic time moves on, the watchdog does not tick.
    mono.frozen = Date.now() - mono.offset + 60_000;
    expect(s.alive()).toBe(false);
    s.stop();
  });
});

describe('EventBus', () => {
  it('delivers in order; a throwing subscriber is reported and the others still run', () => {
    const errors: string[] = [];
    const bus = new EventBus<{ type: string }>((e, ev) => errors.push(`${ev.type}: ${String(e)}`));
    const seen: string[] = [];
    bus.on(() => {
      throw new Error('boom');
    });
    const off = bus.on((e) => seen.push(e.type));
    bus.emit({ type: 'one' });
    off();
    bus.emit({ type: 'two' });
    expect(seen).toEqual(['one']);
    expect(errors).toEqual(['one: Error: boom', 'two: Error: boom']);
    expect(bus.size).toBe(1);
  });
});

describe('splay: auto (the default)', () => {
  it('is the schedule period, at most 15 min: the default schedule spreads a fleet over all of its 15 min', () => {
    expect(schedulePeriodMs('*/15 * * * *')).toBe(15 * 60_000);
    expect(schedulePeriodMs('0 3 * * *')).toBe(24 * 3_600_000);
    expect(schedulePeriodMs('*/2 * * * * *')).toBe(2000);
    expect(splayOf(undefined, '*/15 * * * *')).toBe(15 * 60_000);
    expect(splayOf(undefined, '*/5 * * * *')).toBe(5 * 60_000);
    expect(splayOf(undefined, '0 3 * * *')).toBe(autoSplayCapMs);
    expect(splayOf(0, '*/15 * * * *')).toBe(0);
    expect(splayOf(60_000, '0 3 * * *')).toBe(60_000);
  });

  it('the plain grammar\'s period is computed without Intl.DateTimeFormat (node-cron\'s slots page in ICU\'s data: ~10 MB of RSS); the rest is node-cron\'s', () => {
    // node-cron caches its formatter, so it is the formatting that is watched, not the constructor.
    const formats = vi.spyOn(Intl.DateTimeFormat.prototype, 'formatToParts');
    try {
      expect(schedulePeriodMs('5,20 * * * *')).toBe(15 * 60_000);
      expect(schedulePeriodMs('30 */6 * * mon-fri')).toBe(6 * 3_600_000);
      expect(schedulePeriodMs('*/3 * * * * *')).toBe(3000);
      expect(formats).not.toHaveBeenCalled();
      expect(schedulePeriodMs('0 0 L * *')).toBeGreaterThanOrEqual(28 * 24 * 3_600_000);
      expect(formats).toHaveBeenCalled();
    } finally {
      formats.mockRestore();
    }
  });

  it('a config without splay gives every entry its own schedule\'s auto splay; an explicit splay applies to all', () => {
    const c = parseConfig('images:\n  - image: alpine\n  - image: busybox\n    schedule: "*/5 * * * *"\n', 'c.yaml');
    expect(entriesOf(c).map((e) => e.splayMs)).toEqual([15 * 60_000, 5 * 60_000]);
    expect(summaryOf(c).splayMs).toBe(15 * 60_000);
    const fixed = parseConfig('splay: 30s\nimages:\n  - image: alpine\n  - image: busybox\n    schedule: "*/5 * * * *"\n', 'c.yaml');
    expect(entriesOf(fixed).map((e) => e.splayMs)).toEqual([30_000, 30_000]);
  });
});
