import { describe, expect, it } from 'vitest';
import { idleCollector, type TimerHandle } from './idle-collect.js';

/** Timers by hand: `fire()` runs what is due at `now`. */
function clock() {
  let now = 0;
  let pending: { fn: () => void; at: number; handle: TimerHandle & { unrefed: boolean } }[] = [];
  return {
    setTimer: (fn: () => void, ms: number) => {
      const handle = { unrefed: false, unref() { handle.unrefed = true; } };
      pending.push({ fn, at: now + ms, handle });
      return handle;
    },
    clearTimer: (h: TimerHandle) => {
      pending = pending.filter((p) => p.handle !== h);
    },
    advance(ms: number) {
      now += ms;
      const due = pending.filter((p) => p.at <= now);
      pending = pending.filter((p) => p.at > now);
      for (const p of due) p.fn();
    },
    pending: () => pending,
  };
}

const started = { type: 'check-started' };

describe('idleCollector', () => {
  it('collects once checks go quiet after a burst, not during it', () => {
    const c = clock();
    let collected = 0;
    const idle = idleCollector({ collect: () => collected++, minChecks: 3, idleMs: 1000, ...c });
    for (let i = 0; i < 5; i++) {
      idle.observe(started);
      c.advance(500);
    }
    expect(collected).toBe(0);
    c.advance(500);
    expect(collected).toBe(1);
    // Nothing new since: no second collection, and no timer left.
    c.advance(10_000);
    expect([collected, c.pending().length]).toEqual([1, 0]);
  });

  it('waits for minChecks before a quiet moment counts (a small daemon collects every few cycles)', () => {
    const c = clock();
    let collected = 0;
    const idle = idleCollector({ collect: () => collected++, minChecks: 3, idleMs: 100, ...c });
    idle.observe(started);
    idle.observe(started);
    c.advance(1000);
    expect(collected).toBe(0);
    idle.observe(started);
    c.advance(100);
    expect(collected).toBe(1);
  });

  it('collects after maxChecks even when checks never go quiet', () => {
    const c = clock();
    let collected = 0;
    const idle = idleCollector({ collect: () => collected++, minChecks: 2, maxChecks: 4, idleMs: 1000, ...c });
    for (let i = 0; i < 12; i++) {
      idle.observe(started);
      c.advance(10);
    }
    expect([collected, idle.collections()]).toEqual([3, 3]);
  });

  it('ignores other events, never keeps the process alive, and stops with the daemon', () => {
    const c = clock();
    let collected = 0;
    const idle = idleCollector({ collect: () => collected++, minChecks: 1, idleMs: 100, ...c });
    idle.observe({ type: 'checked' });
    expect(c.pending()).toHaveLength(0);
    idle.observe(started);
    expect(c.pending().map((p) => p.handle.unrefed)).toEqual([true]);
    idle.observe({ type: 'stopped' });
    expect(c.pending()).toHaveLength(0);
    idle.observe(started);
    c.advance(1000);
    expect(collected).toBe(0);
  });
});
