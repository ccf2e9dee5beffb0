import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { backoffMs, splayFor } from './timing.js';

describe('splay', () => {
  it('is the same for a host and image every time, different across a fleet', () => {
    expect(splayFor('pi-001', 'alpine', 60_000)).toBe(splayFor('pi-001', 'alpine', 60_000));
    const fleet = new Set(Array.from({ length: 100 }, (_, i) => Math.floor(splayFor(`pi-${i}`, 'alpine', 60_000) / 6000)));
    expect(fleet.size).toBeGreaterThan(7);
    expect(splayFor('pi-001', 'alpine', 0)).toBe(0);
  });

  test.prop([fc.string(), fc.string(), fc.integer({ min: 1, max: 3_600_000 })])('stays within [0, max)', (host, image, max) => {
    const v = splayFor(host, image, max);
    expect(v).toBeGreaterThanOrEqual(0);
    expect(v).toBeLessThan(max);
  });
});

describe('backoff', () => {
  it('grows exponentially with full jitter up to the cap', () => {
    const top = (n: number): number => backoffMs(n, { baseMs: 5000, capMs: 900_000, random: () => 1 });
    expect([1, 2, 3, 4, 10, 20].map(top)).toEqual([5000, 10_000, 20_000, 40_000, 900_000, 900_000]);
    expect(backoffMs(3, { baseMs: 5000, capMs: 900_000, random: () => 0 })).toBe(2500);
  });

  it('waits at least Retry-After, capped at 15 minutes (issue 13.15: Retry-After: 86400 must not stop checks for a day)', () => {
    expect(backoffMs(1, { baseMs: 5000, capMs: 900_000, retryAfterMs: 120_000, random: () => 0.5 })).toBe(120_000);
    expect(backoffMs(1, { baseMs: 5000, capMs: 900_000, retryAfterMs: 86_400_000, random: () => 0.5 })).toBe(900_000);
    expect(backoffMs(1, { baseMs: 5000, capMs: 900_000, retryAfterMs: 1e12, retryAfterCapMs: 3_600_000, random: () => 0.5 })).toBe(3_600_000);
  });

  test.prop([fc.integer({ min: 1, max: 60 }), fc.double({ min: 0, max: 1, noNaN: true })])('is always within [base/2, cap]', (n, r) => {
    const v = backoffMs(n, { baseMs: 5000, capMs: 900_000, random: () => r });
    expect(v).toBeGreaterThanOrEqual(2500);
    expect(v).toBeLessThanOrEqual(900_000);
  });
});
