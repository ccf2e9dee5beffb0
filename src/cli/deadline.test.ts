import { describe, expect, it } from 'vitest';
import { ResolverError } from '../errors.js';
import { expectResolverError, expectResolverErrorSync } from '../../test/fakes/expect-error.js';
import { commandTimeoutMs, defaultCommandTimeoutMs, timeoutMs, withinDeadline } from './deadline.js';

describe('the command deadline (13.23)', () => {
  it.each([['30', 30_000], ['1.5', 1500], ['500ms', 500], ['90s', 90_000], ['5m', 300_000], ['1h', 3_600_000], ['0', 0], [' 2m ', 120_000]] as const)('parses %j as %d ms', (text, ms) => {
    expect(timeoutMs(text)).toBe(ms);
  });

  it.each(['', 'soon', '-1', '5 m', '1d', '600h', '1e3'])('refuses %j', (text) => {
    expect(timeoutMs(text)).toBeUndefined();
  });

  it('takes the flag, else RESOLVER_TIMEOUT, else 60 s', () => {
    expect(commandTimeoutMs(2000, { RESOLVER_TIMEOUT: '5m' })).toBe(2000);
    expect(commandTimeoutMs(undefined, { RESOLVER_TIMEOUT: '5m' })).toBe(300_000);
    expect(commandTimeoutMs(undefined, { RESOLVER_TIMEOUT: '' })).toBe(defaultCommandTimeoutMs);
    expect(commandTimeoutMs(undefined, {})).toBe(60_000);
    expect(expectResolverErrorSync(() => commandTimeoutMs(undefined, { RESOLVER_TIMEOUT: 'soon' }), 'ERR_USAGE').message).toBe('RESOLVER_TIMEOUT="soon" is not a timeout');
  });

  it('rejects at the deadline with ERR_NETWORK even when the work ignores its signal, and aborts that signal', async () => {
    let seen: AbortSignal | undefined;
    const started = performance.now();
    const e = await expectResolverError(withinDeadline(50, undefined, 'resolving x', (signal) => {
      seen = signal;
      return new Promise(() => undefined);
    }), 'ERR_NETWORK');
    expect(performance.now() - started).toBeLessThan(2000);
    expect(e.message).toBe("resolving x did not finish within 0.05 s (the command's deadline)");
    expect(seen?.aborted).toBe(true);
  });

  it('an interruption stays an interruption (ERR_ABORTED, exit 130/143), not a deadline', async () => {
    const outer = new AbortController();
    const work = withinDeadline(10_000, outer.signal, 'x', (signal) => new Promise((_, reject) => {
      signal?.addEventListener('abort', () => reject(new ResolverError('ERR_ABORTED', 'request was cancelled')));
    }));
    outer.abort(new ResolverError('ERR_ABORTED', 'interrupted by SIGINT'));
    await expectResolverError(work, 'ERR_ABORTED');
  });

  it('passes a result and a failure of the work through, and 0 means no deadline', async () => {
    await expect(withinDeadline(1000, undefined, 'x', () => Promise.resolve(7))).resolves.toBe(7);
    await expectResolverError(withinDeadline(1000, undefined, 'x', () => Promise.reject(new ResolverError('ERR_NOT_FOUND', 'gone'))), 'ERR_NOT_FOUND');
    const outer = new AbortController();
    await withinDeadline(0, outer.signal, 'x', (signal) => {
      expect(signal).toBe(outer.signal);
      return Promise.resolve();
    });
  });
});
