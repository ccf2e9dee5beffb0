import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { expectResolverError } from '../../test/fakes/expect-error.js';
import { linkAbort, sleep } from './abort.js';

/** The abort listeners a signal holds now. */
const listeners = (signal: AbortSignal): number => getEventListeners(signal, 'abort').length;

describe('sleep(ms, signal, message)', () => {
  it('resolves after the wait and leaves no listener on a long-lived signal', async () => {
    const life = new AbortController();
    await sleep(5, life.signal);
    await sleep(0, life.signal);
    expect(listeners(life.signal)).toBe(0);
  });

  it('rejects with ERR_ABORTED and the caller\'s words, at once when already aborted', async () => {
    const life = new AbortController();
    const waiting = sleep(60_000, life.signal, 'shutting down');
    life.abort();
    expect((await expectResolverError(waiting, 'ERR_ABORTED')).message).toBe('shutting down');
    expect((await expectResolverError(sleep(0, life.signal), 'ERR_ABORTED')).message).toBe('cancelled while waiting to retry');
    expect(listeners(life.signal)).toBe(0);
  });
});

describe('linkAbort(outer, inner)', () => {
  it('aborts the inner controller with the outer reason; unlinking removes the listener', () => {
    const outer = new AbortController();
    const inner = new AbortController();
    const unlink = linkAbort(outer.signal, inner);
    expect(listeners(outer.signal)).toBe(1);
    unlink();
    expect(listeners(outer.signal)).toBe(0);
    const second = new AbortController();
    linkAbort(outer.signal, second);
    outer.abort(new Error('stop'));
    expect((second.signal.reason as Error).message).toBe('stop');
    expect(inner.signal.aborted).toBe(false);
  });
});
