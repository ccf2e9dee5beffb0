import { describe, expect, it } from 'vitest';
import { PromiseMemo } from './promise-memo.js';

describe('PromiseMemo', () => {
  it('shares one pending or fulfilled promise per key', async () => {
    const memo = new PromiseMemo<string, number>();
    let made = 0;
    const make = (): Promise<number> => Promise.resolve(++made);
    const [a, b] = await Promise.all([memo.get('k', make), memo.get('k', make)]);
    expect([a, b, await memo.get('k', make), await memo.get('other', make)]).toEqual([1, 1, 1, 2]);
  });

  it('forgets a rejected promise, so the next caller tries again (issue 14, defect 1)', async () => {
    const memo = new PromiseMemo<string, string>();
    await expect(memo.get('k', () => Promise.reject(new Error('helper timed out')))).rejects.toThrow('helper timed out');
    expect(await memo.get('k', () => Promise.resolve('second try'))).toBe('second try');
    memo.clear('k');
    expect(await memo.get('k', () => Promise.resolve('after clear'))).toBe('after clear');
  });
});
