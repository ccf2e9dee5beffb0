import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ResolverError } from '../errors.js';
import { expectResolverError } from '../../test/fakes/expect-error.js';
import { DeadlineError, deadlineSignal, settleWithin, withDeadline } from './deadline.js';

/** The abort listeners a signal holds now. */
const listeners = (signal: AbortSignal): number => getEventListeners(signal, 'abort').length;

/** What a path must leave behind: no armed timer, no listener on the long-lived outer signal. */
function expectClean(outer: AbortSignal): void {
  expect(vi.getTimerCount()).toBe(0);
  expect(listeners(outer)).toBe(0);
}

/** A promise settled from outside. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const spec = { what: 'listing containers', code: 'ERR_ENGINE_UNAVAILABLE' } as const;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('withDeadline(work, ms, options)', () => {
  it('resolves with the work\'s value and leaves no timer and no listener (promise and function forms)', async () => {
    const life = new AbortController();
    await expect(withDeadline(Promise.resolve(7), 1000, { ...spec, signal: life.signal })).resolves.toBe(7);
    expectClean(life.signal);
    let seen: AbortSignal | undefined;
    const work = deferred<string>();
    const running = withDeadline((signal) => ((seen = signal), work.promise), 1000, { ...spec, signal: life.signal, onAbort: () => new Error('stop') });
    expect(listeners(life.signal)).toBe(2);
    work.resolve('listed');
    await expect(running).resolves.toBe('listed');
    expect(seen?.aborted).toBe(false);
    expectClean(life.signal);
  });

  it('rejects with the work\'s own error, unchanged, and leaves nothing behind', async () => {
    const life = new AbortController();
    const gone = new ResolverError('ERR_NOT_FOUND', 'no such container');
    expect(await withDeadline(Promise.reject(gone), 1000, { ...spec, signal: life.signal }).catch((e: unknown) => e)).toBe(gone);
    expectClean(life.signal);
    const thrown = new Error('thrown before any promise');
    expect(await withDeadline(() => {
      throw thrown;
    }, 1000, { ...spec, signal: life.signal, onAbort: () => new Error('stop') }).catch((e: unknown) => e)).toBe(thrown);
    expectClean(life.signal);
  });

  it('times out at once with a DeadlineError naming what timed out, aborts the work\'s signal with it, and drops the late result', async () => {
    const life = new AbortController();
    const onTimeout = vi.fn();
    let seen: AbortSignal | undefined;
    const work = deferred<string>();
    const running = withDeadline((signal) => ((seen = signal), work.promise), 15_000, { ...spec, signal: life.signal, onTimeout });
    const outcome = expectResolverError(running, 'ERR_ENGINE_UNAVAILABLE');
    await vi.advanceTimersByTimeAsync(14_999);
    expect(onTimeout).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    const e = await outcome;
    expect(e).toBeInstanceOf(DeadlineError);
    expect(e.message).toBe('listing containers did not finish within 15 s');
    expect(e).toMatchObject({ what: 'listing containers', ms: 15_000 });
    expect(onTimeout).toHaveBeenCalledWith(e);
    expect(seen?.reason).toBe(e);
    expectClean(life.signal);
    // The work ends later, its way: nothing unhandled, nothing changes.
    work.reject(new Error('aborted'));
    await vi.advanceTimersByTimeAsync(0);
  });

  it('takes the caller\'s message and details, and waits on a bare promise that ignores any signal', async () => {
    const running = withDeadline(new Promise(() => undefined), 2000, { what: 'publishing to mqtt://broker:1883', code: 'ERR_NETWORK', message: 'publishing to mqtt://broker:1883 took longer than 2 s', details: ['is the broker up?'] });
    const outcome = expectResolverError(running, 'ERR_NETWORK');
    await vi.advanceTimersByTimeAsync(2000);
    const e = await outcome;
    expect([e.message, e.details]).toEqual(['publishing to mqtt://broker:1883 took longer than 2 s', ['is the broker up?']]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an outer abort with onAbort rejects at once with that error and aborts the work\'s signal with the outer reason', async () => {
    const life = new AbortController();
    let seen: AbortSignal | undefined;
    const running = withDeadline((signal) => ((seen = signal), new Promise(() => undefined)), 60_000, { ...spec, signal: life.signal, onAbort: (reason) => new ResolverError('ERR_ABORTED', `listing cancelled (${String(reason)})`) });
    life.abort('shutdown');
    expect((await expectResolverError(running, 'ERR_ABORTED')).message).toBe('listing cancelled (shutdown)');
    expect(seen?.reason).toBe('shutdown');
    expectClean(life.signal);
    // Already aborted: the work is not even started.
    const work = vi.fn(() => Promise.resolve(1));
    await expectResolverError(withDeadline(work, 60_000, { ...spec, signal: life.signal, onAbort: () => new ResolverError('ERR_ABORTED', 'cancelled') }), 'ERR_ABORTED');
    expect(work).not.toHaveBeenCalled();
    expectClean(life.signal);
  });

  it('an outer abort without onAbort is the work\'s to end: it settles as the work does, still bounded by the deadline', async () => {
    const life = new AbortController();
    const reacting = withDeadline((signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(new ResolverError('ERR_ABORTED', 'request was cancelled')))), 60_000, { ...spec, signal: life.signal });
    life.abort(new ResolverError('ERR_ABORTED', 'interrupted by SIGINT'));
    expect((await expectResolverError(reacting, 'ERR_ABORTED')).message).toBe('request was cancelled');
    expectClean(life.signal);
    const ignoring = withDeadline(() => new Promise(() => undefined), 60_000, { ...spec, signal: life.signal });
    const outcome = expectResolverError(ignoring, 'ERR_ENGINE_UNAVAILABLE');
    await vi.advanceTimersByTimeAsync(60_000);
    expect((await outcome).message).toBe('listing containers did not finish within 60 s');
    expectClean(life.signal);
  });

  it('a long-lived signal collects no listener over many calls on every path', async () => {
    const life = new AbortController();
    const onAbort = (): Error => new Error('stop');
    for (let i = 0; i < 50; i++) {
      await withDeadline((signal) => Promise.resolve(signal.aborted), 1000, { ...spec, signal: life.signal, onAbort });
      await withDeadline(Promise.reject(new Error('failed')), 1000, { ...spec, signal: life.signal, onAbort }).catch(() => undefined);
      const late = withDeadline(new Promise(() => undefined), 10, { ...spec, signal: life.signal, onAbort }).catch(() => undefined);
      await vi.advanceTimersByTimeAsync(10);
      await late;
    }
    expectClean(life.signal);
  });
});

describe('deadlineSignal(ms, options)', () => {
  it('aborts with a DeadlineError at the deadline and says it expired; clear() leaves nothing', async () => {
    const life = new AbortController();
    const d = deadlineSignal(5000, { what: 'GET https://registry.example/v2/', code: 'ERR_NETWORK', signal: life.signal });
    expect([listeners(life.signal), vi.getTimerCount(), d.expired, d.signal.aborted]).toEqual([1, 1, false, false]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(d.expired).toBe(true);
    expect(d.signal.reason).toBeInstanceOf(DeadlineError);
    expect((d.signal.reason as DeadlineError).code).toBe('ERR_NETWORK');
    expectClean(life.signal);
    d.clear();
    const cleared = deadlineSignal(5000, { ...spec, signal: life.signal });
    cleared.clear();
    expectClean(life.signal);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(cleared.signal.aborted).toBe(false);
  });

  it('follows the outer signal (at once when already aborted) without calling that a deadline', async () => {
    const life = new AbortController();
    const d = deadlineSignal(5000, { ...spec, signal: life.signal });
    life.abort('shutdown');
    expect([d.signal.reason, d.expired]).toEqual(['shutdown', false]);
    d.clear();
    expectClean(life.signal);
    const late = deadlineSignal(5000, { ...spec, signal: life.signal });
    expect([late.signal.reason, late.expired]).toEqual(['shutdown', false]);
    await vi.advanceTimersByTimeAsync(5000);
    expect([late.signal.reason, late.expired]).toEqual(['shutdown', false]);
    expectClean(life.signal);
  });

  it('arms no timer for Infinity or beyond what a Node timer holds', () => {
    expect([deadlineSignal(Infinity, spec), deadlineSignal(2 ** 31, spec)].map((d) => d.signal.aborted)).toEqual([false, false]);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('settleWithin(work, ms, signal)', () => {
  it('true when the work settled in time, false when the time ran out or the signal aborted; a failure in time rejects', async () => {
    const life = new AbortController();
    await expect(settleWithin(Promise.resolve(), 10_000, life.signal)).resolves.toBe(true);
    expectClean(life.signal);
    const late = settleWithin(new Promise(() => undefined), 10_000, life.signal);
    await vi.advanceTimersByTimeAsync(10_000);
    await expect(late).resolves.toBe(false);
    expectClean(life.signal);
    const cancelled = settleWithin(new Promise(() => undefined), 10_000, life.signal);
    life.abort();
    await expect(cancelled).resolves.toBe(false);
    expectClean(life.signal);
    await expect(settleWithin(Promise.reject(new Error('hook chain broke')), 10_000)).rejects.toThrow('hook chain broke');
    expect(vi.getTimerCount()).toBe(0);
  });
});
