/**
 * The bandwidth cap of the prefetch (docs/prefetch.md): a token bucket of `rate` bytes per second holding at
 * most `burst` bytes. `take(n)` waits until `n` bytes may go; a take larger than the bucket runs it into debt
 * (the next takes wait it off), so a chunk of any size passes and the average stays at the rate. Pure: the
 * clock and the sleep are given.
 */

/** Paces a stream of chunks. */
export interface Pace {
  take(bytes: number, signal?: AbortSignal): Promise<void>;
}

/** No cap. */
export const unpaced: Pace = { take: () => Promise.resolve() };

/** A bucket of `rateBytesPerSecond`, `burstBytes` deep (default: a quarter second of the rate, at least 16 KiB). */
export function tokenBucket(rateBytesPerSecond: number, clock: { now: () => number; sleep: (ms: number, signal?: AbortSignal) => Promise<void> }, burstBytes?: number): Pace {
  if (!(rateBytesPerSecond > 0)) throw new RangeError(`a rate must be above 0 bytes per second, not ${rateBytesPerSecond}`);
  const burst = burstBytes ?? Math.max(16_384, Math.floor(rateBytesPerSecond / 4));
  let tokens = burst;
  let last = clock.now();
  return {
    async take(bytes, signal) {
      const now = clock.now();
      tokens = Math.min(burst, tokens + ((now - last) * rateBytesPerSecond) / 1000);
      last = now;
      tokens -= bytes;
      if (tokens < 0) await clock.sleep((-tokens / rateBytesPerSecond) * 1000, signal);
    },
  };
}
