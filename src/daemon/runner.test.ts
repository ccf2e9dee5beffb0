import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ResolverError } from '../errors.js';
import type { CheckOutcome } from '../resolver/reconcile.js';
import type { DaemonEvent, EntrySpec } from './events.js';
import { KeyedLimiter, Runner, type CheckEntry } from './runner.js';
import { splayFor } from './timing.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], now: new Date('2026-12-01T12:00:00.000Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

const entry = (image: string, registry = 'localhost:5001', platformSpec?: string): EntrySpec => ({
  key: `${image} ${platformSpec ?? 'detected'}`, image, platformSpec, registry, schedule: '* * * * *', onMissingPlatform: 'hold', retain: 1,
});
const ok: CheckOutcome = { kind: 'unchanged', indexDigest: 'sha256:i', childDigest: 'sha256:c', pulledAt: '2026-12-01T00:00:00.000Z' };

function runner(check: CheckEntry, options: { splayMs?: number; deadlineMs?: number; perRegistry?: number } = {}): { r: Runner; events: DaemonEvent[]; shutdown: AbortController } {
  const events: DaemonEvent[] = [];
  const shutdown = new AbortController();
  const r = new Runner({ check, emit: (e) => events.push(e), shutdown: shutdown.signal, monotonic: () => Date.now(), random: () => 1, hostname: 'pi-7', deadlineMs: options.deadlineMs ?? 60_000 });
  r.configure({ perRegistry: options.perRegistry ?? 1, splayMs: options.splayMs ?? 0, keys: [] });
  return { r, events, shutdown };
}

describe('Runner', () => {
  it('waits the deterministic splay of the host and entry before a scheduled run, not before a run now', async () => {
    const started: number[] = [];
    const { r } = runner(() => {
      started.push(Date.now());
      return Promise.resolve(ok);
    }, { splayMs: 60_000 });
    const e = entry('localhost:5001/app:1');
    const t0 = Date.now();
    void r.trigger(e, 'schedule');
    const splay = splayFor('pi-7', e.key, 60_000);
    await vi.advanceTimersByTimeAsync(splay - 1);
    expect(started).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(started).toEqual([t0 + splay]);
    await r.runNow(e, { dryRun: false });
    expect(started).toHaveLength(2);
    expect(splayFor('pi-7', entry('localhost:5001/app:1', 'localhost:5001', 'linux/arm/v7').key, 60_000)).not.toBe(splay);
  });

  it('skips a slot while the entry runs; runNow waits for it and never overlaps', async () => {
    let inFlight = 0;
    let most = 0;
    let release!: () => void;
    const { r, events } = runner(async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise<void>((res) => (release = res));
      inFlight--;
      return ok;
    });
    const e = entry('localhost:5001/app:1');
    void r.trigger(e, 'schedule');
    await vi.advanceTimersByTimeAsync(0);
    void r.trigger(e, 'schedule');
    const now = r.runNow(e, { dryRun: false });
    await vi.advanceTimersByTimeAsync(0);
    expect(events.filter((x) => x.type === 'skipped')).toHaveLength(1);
    release();
    await vi.advanceTimersByTimeAsync(0);
    release();
    await now;
    expect(most).toBe(1);
    expect(events.filter((x) => x.type === 'checked')).toHaveLength(2);
  });

  it('backs off after failures (skipping slots), then emits recovered', async () => {
    let fail = true;
    const { r, events } = runner(() => (fail ? Promise.reject(new ResolverError('ERR_NETWORK', 'down')) : Promise.resolve(ok)));
    const e = entry('localhost:5001/app:1');
    await r.trigger(e, 'schedule');
    const failed = events.find((x) => x.type === 'failed');
    expect(failed).toMatchObject({ type: 'failed', code: 'ERR_NETWORK', failures: 1, retryInMs: 5000 });
    await r.trigger(e, 'schedule');
    expect(events.at(-1)).toMatchObject({ type: 'skipped', reason: 'backoff' });
    vi.advanceTimersByTime(5000);
    fail = false;
    await r.trigger(e, 'schedule');
    expect(events.slice(-2).map((x) => x.type)).toEqual(['recovered', 'checked']);
  });

  it('cancels a run at its deadline and counts it as failed, freeing the registry slot', async () => {
    const { r, events } = runner((_e, signal) => new Promise((_res, rej) => signal.addEventListener('abort', () => rej(new ResolverError('ERR_ABORTED', 'x')))), { deadlineMs: 30_000 });
    const run = r.trigger(entry('127.0.0.2:5000/app:1', '127.0.0.2:5000'), 'schedule');
    await vi.advanceTimersByTimeAsync(30_000);
    await run;
    expect(events.find((x) => x.type === 'failed')).toMatchObject({ code: 'ERR_NETWORK', message: expect.stringMatching(/no result within 30 s/) });
    expect(r.running).toBe(0);
  });
});

describe('KeyedLimiter', () => {
  it('limits per key, FIFO, and drops a waiter whose signal aborts', async () => {
    const l = new KeyedLimiter(1);
    const never = new AbortController();
    const a = await l.acquire('a', never.signal);
    const b = await l.acquire('b', never.signal);
    const order: string[] = [];
    const cancel = new AbortController();
    const dropped = l.acquire('a', cancel.signal).catch(() => 'aborted');
    const next = l.acquire('a', never.signal).then((release) => {
      order.push('next');
      return release;
    });
    cancel.abort();
    expect(await dropped).toBe('aborted');
    expect(l.active('a')).toBe(1);
    a();
    (await next)();
    b();
    expect(order).toEqual(['next']);
    expect(l.active('a')).toBe(0);
    expect(l.active('b')).toBe(0);
  });
});
