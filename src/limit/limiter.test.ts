import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { expectResolverError } from '../../test/fakes/expect-error.js';
import { KeyedLimiter } from './limiter.js';

/** Lets every settled promise's callbacks run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

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

  it('honours the limit: the third of a limit of 2 waits until one is released, the others run at once', async () => {
    const l = new KeyedLimiter(2);
    const granted: number[] = [];
    const take = (n: number): Promise<() => void> => l.acquire('hub').then((release) => (granted.push(n), release));
    const [first, second] = [take(1), take(2)];
    const third = take(3);
    await settle();
    expect([granted, l.active('hub'), l.waiting('hub')]).toEqual([[1, 2], 2, 1]);
    expect(l.tryAcquire('hub')).toBeUndefined();
    (await first)();
    await settle();
    expect([granted, l.active('hub'), l.waiting('hub')]).toEqual([[1, 2, 3], 2, 0]);
    (await second)();
    (await third)();
    expect(l.active('hub')).toBe(0);
    const now = l.tryAcquire('hub');
    expect([now === undefined, l.active('hub')]).toEqual([false, 1]);
    now?.();
  });

  it('is fair within a key and keys do not wait for each other: a busy registry does not hold back another', async () => {
    const l = new KeyedLimiter(1);
    const granted: string[] = [];
    const take = (key: string, n: number): Promise<() => void> => l.acquire(key).then((release) => (granted.push(`${key}${n}`), release));
    const held = await take('slow', 0);
    const waiting = [take('slow', 1), take('slow', 2), take('slow', 3)];
    const other = await take('fast', 1);
    expect(granted).toEqual(['slow0', 'fast1']);
    held();
    for (const w of waiting) (await w)();
    other();
    expect(granted).toEqual(['slow0', 'fast1', 'slow1', 'slow2', 'slow3']);
  });

  it('an abort rejects only the waiter with ERR_ABORTED and its message, at once for a signal already aborted, and leaves no listener', async () => {
    const l = new KeyedLimiter(1, { abortMessage: 'shutting down' });
    const life = new AbortController();
    const held = await l.acquire('a', life.signal);
    expect(getEventListeners(life.signal, 'abort')).toHaveLength(0);
    const waiter = l.acquire('a', life.signal);
    expect(getEventListeners(life.signal, 'abort')).toHaveLength(1);
    life.abort();
    expect((await expectResolverError(waiter, 'ERR_ABORTED')).message).toBe('shutting down');
    expect([l.waiting('a'), l.active('a')]).toEqual([0, 1]);
    expect((await expectResolverError(l.acquire('a', life.signal), 'ERR_ABORTED')).message).toBe('shutting down');
    held();
    expect(l.active('a')).toBe(0);
  });

  it('a grant removes its abort listener from a long-lived signal (100 acquisitions leave none)', async () => {
    const l = new KeyedLimiter(1);
    const shutdown = new AbortController();
    for (let i = 0; i < 100; i++) (await l.acquire('a', shutdown.signal))();
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });

  it('a failing work does not leak its slot, and a release called twice frees one slot only', async () => {
    const l = new KeyedLimiter(1);
    await expect(l.run('a', () => Promise.reject(new Error('registry said 500')))).rejects.toThrow('registry said 500');
    expect(l.active('a')).toBe(0);
    expect(await l.run('a', () => Promise.resolve('next one runs'))).toBe('next one runs');
    const l2 = new KeyedLimiter(2);
    const one = await l2.acquire('a');
    await l2.acquire('a');
    one();
    one();
    expect(l2.active('a')).toBe(1);
  });

  it('a raised limit admits waiters at once; a lowered one lets running slots finish', async () => {
    const l = new KeyedLimiter(1);
    const a = await l.acquire('k');
    const b = l.acquire('k');
    l.limit = 2;
    const releaseB = await b;
    l.limit = 1;
    const c = l.acquire('k');
    a();
    await settle();
    expect([l.active('k'), l.waiting('k')]).toEqual([1, 1]);
    releaseB();
    (await c)();
    expect(l.active('k')).toBe(0);
  });
});
