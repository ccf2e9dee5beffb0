import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { v8Collector } from './v8-collector.js';

describe('v8Collector', () => {
  it('runs a full collection without --expose-gc on the command line, and gives no later context a gc', async () => {
    const collect = v8Collector();
    expect(collect).toBeTypeOf('function');
    const weak = ((): WeakRef<object> => new WeakRef({ payload: new Array(1000).fill('x') }))();
    // A WeakRef's target is kept until the job that made it ends.
    await new Promise((r) => setTimeout(r, 0));
    collect?.();
    expect(weak.deref()).toBeUndefined();
    expect(runInNewContext('typeof gc')).toBe('undefined');
  });
});
