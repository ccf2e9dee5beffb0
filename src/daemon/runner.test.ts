import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeferredError } from '../budget/layer.js';
import { RegistryHttpError, ResolverError } from '../errors.js';
import type { CheckOutcome } from '../resolver/reconcile.js';
import type { DaemonEvent, EntrySpec } from './events.js';
import { Runner, type CheckEntry } from './runner.js';
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
  it('lets every pending check listen on the shutdown signal without a MaxListenersExceededWarning (more than 10 images)', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      const { r, shutdown } = runner(() => Promise.resolve(ok), { splayMs: 60_000 });
      const done = Array.from({ length: 40 }, (_, i) => r.trigger(entry(`localhost:5001/app:${i}`), 'schedule'));
      await vi.advanceTimersByTimeAsync(0);
      expect(getEventListeners(shutdown.signal, 'abort').length).toBeGreaterThanOrEqual(40);
      await vi.advanceTimersByTimeAsync(60_000);
      await Promise.all(done);
      expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
      // The warning is emitted on the next tick.
      await new Promise((res) => process.nextTick(res));
      expect(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning'))).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

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

  it('leaves nothing on the long-lived shutdown signal after its checks (no listener, no dependant signal), and shutdown still cancels a running check', async () => {
    // Node keeps AbortSignal.any's results in a set of WeakRefs on each source signal (until a full GC):
    // at 1,000 tags that was ~30,000 cells on the daemon's shutdown signal (bench/README.md, Footprint).
    const dependants = (s: AbortSignal): number => {
      const k = Object.getOwnPropertySymbols(s).find((x) => x.description === 'kDependantSignals');
      return k === undefined ? 0 : ((s as unknown as Record<symbol, Set<unknown> | undefined>)[k]?.size ?? 0);
    };
    const seen: AbortSignal[] = [];
    const { r, events, shutdown } = runner((_e, signal) => {
      seen.push(signal);
      return Promise.resolve(ok);
    }, { perRegistry: 4 });
    for (let i = 0; i < 50; i++) await r.runNow(entry(`localhost:5001/app:${i}`), { dryRun: false });
    expect(events.filter((x) => x.type === 'checked')).toHaveLength(50);
    expect(seen).toHaveLength(50);
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
    expect(dependants(shutdown.signal)).toBe(0);

    let cancelled: unknown;
    const { r: r2, shutdown: stop } = runner((_e, signal) => new Promise((_res, rej) => signal.addEventListener('abort', () => {
      cancelled = signal.reason;
      rej(new ResolverError('ERR_ABORTED', 'cancelled'));
    })));
    const run = r2.trigger(entry('localhost:5001/app:x'), 'now');
    await vi.advanceTimersByTimeAsync(0);
    const reason = new Error('stopping');
    stop.abort(reason);
    await run;
    expect(cancelled).toBe(reason);
    expect(r2.running).toBe(0);
  });
});

describe('Runner: a 429 and the budget (issue 12 §2)', () => {
  const tooMany = (retryAfterSeconds: number | undefined): RegistryHttpError =>
    new RegistryHttpError('ERR_RATE_LIMITED', 'hub is rate limiting', { status: 429, method: 'GET', url: 'https://hub/v2/', retryAfterSeconds });

  it.each([[120], [undefined]])('a 429 (Retry-After %s) on one image defers every image of that registry, not the others', async (retryAfter) => {
    const checked: string[] = [];
    const { r, events } = runner((e) => {
      checked.push(e.image);
      return e.image === 'hub/a:1' ? Promise.reject(tooMany(retryAfter)) : Promise.resolve(ok);
    });
    const a = entry('hub/a:1', 'hub');
    const b = entry('hub/b:1', 'hub');
    const c = entry('other/c:1', 'other');
    await r.trigger(a, 'schedule');
    await r.trigger(b, 'schedule');
    await r.trigger(c, 'schedule');
    expect(checked).toEqual(['hub/a:1', 'other/c:1']);
    const deferred = events.find((x) => x.type === 'deferred');
    const failed = events.find((x) => x.type === 'failed');
    expect(deferred).toMatchObject({ type: 'deferred', reason: 'throttled', entry: { key: b.key } });
    const waitMs = failed?.type === 'failed' ? failed.retryInMs : 0;
    expect(waitMs).toBeGreaterThanOrEqual((retryAfter ?? 2.5) * 1000);
    expect(deferred?.type === 'deferred' ? Date.parse(deferred.until ?? '') : 0).toBe(Date.now() + waitMs);
    vi.advanceTimersByTime(waitMs);
    await r.trigger(b, 'schedule');
    expect(checked).toEqual(['hub/a:1', 'other/c:1', 'hub/b:1']);
  });

  it('a request the budget refused is a deferral, not a failure: no failure count, the entry waits until the time given', async () => {
    let refuse = true;
    const until = Date.now() + 3_600_000;
    const { r, events } = runner(() => (refuse ? Promise.reject(new DeferredError({ reason: 'reserve', until, message: 'at the reserve' })) : Promise.resolve(ok)));
    const a = entry('hub/a:1', 'hub');
    await r.trigger(a, 'schedule');
    expect(events.map((x) => x.type)).toEqual(['check-started', 'deferred']);
    expect(events[1]).toMatchObject({ reason: 'reserve', until: new Date(until).toISOString() });
    refuse = false;
    vi.advanceTimersByTime(3_599_000);
    await r.trigger(a, 'schedule');
    expect(events).toHaveLength(2);
    vi.advanceTimersByTime(1000);
    await r.trigger(a, 'schedule');
    expect(events.map((x) => x.type)).toEqual(['check-started', 'deferred', 'check-started', 'checked']);
  });
});

describe('Runner, disk holds', () => {
  it('a disk hold warns once per streak (repeat on the next), is no failure, and its end is not "platform-back"', async () => {
    const held: CheckOutcome = { kind: 'held', reason: 'disk-space', indexDigest: 'sha256:i', childDigest: 'sha256:old', pulledAt: undefined, message: 'not enough disk space', available: [], disk: { needed: 10, free: 5, minFree: 1, path: '/d', childDigest: 'sha256:new' } };
    const outcomes: CheckOutcome[] = [held, held, { kind: 'pulled', indexDigest: 'sha256:i', childDigest: 'sha256:new', previous: 'sha256:old', pruned: [] }];
    const { r, events } = runner(() => Promise.resolve(outcomes.shift() ?? ok));
    const e = entry('localhost:5001/app:1');
    for (let i = 0; i < 3; i++) await r.runNow(e, { dryRun: false });
    const kinds = events.filter((ev) => ev.type !== 'check-started').map((ev) => (ev.type === 'held' ? `held ${ev.reason ?? ''} repeat=${ev.repeat}` : ev.type));
    expect(kinds).toEqual(['held disk-space repeat=false', 'held disk-space repeat=true', 'pulled']);
  });
});
