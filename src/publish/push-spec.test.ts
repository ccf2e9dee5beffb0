import { describe, expect, it } from 'vitest';
import { inPool } from './push-spec.js';

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('inPool', () => {
  it('runs at most `limit` at once and every item once', async () => {
    let running = 0;
    let peak = 0;
    const seen: number[] = [];
    await inPool([1, 2, 3, 4, 5, 6, 7, 8, 9], 4, undefined, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await tick(5);
      seen.push(n);
      running--;
    });
    expect(peak).toBe(4);
    expect(seen.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('throws the first failure, aborts the work in flight and starts no more', async () => {
    const started: number[] = [];
    const aborted: number[] = [];
    const run = inPool([1, 2, 3, 4, 5, 6], 2, undefined, async (n, signal) => {
      started.push(n);
      if (n === 2) throw new Error('blob 2 failed');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        signal.addEventListener('abort', () => {
          clearTimeout(t);
          aborted.push(n);
          resolve();
        });
      });
    });
    await expect(run).rejects.toThrow('blob 2 failed');
    expect(started).toEqual([1, 2]);
    expect(aborted).toEqual([1]);
  });

  it('passes the caller’s abort on', async () => {
    const outer = new AbortController();
    const run = inPool([1], 1, outer.signal, (_n, signal) => new Promise<void>((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('stopped')))));
    outer.abort();
    await expect(run).rejects.toThrow('stopped');
  });
});
