import { describe, expect, it } from 'vitest';
import { RegistryBudget } from './budget.js';
import { isCounted } from './layer.js';

const hdr = (limit: number, remaining: number, w = 21_600) => ({ limit, remaining, window: String(w) });

describe('RegistryBudget', () => {
  it('keeps the reserve (a share of the announced limit) and refills after the announced window', () => {
    let now = 1_000_000;
    const b = new RegistryBudget({ reservePercent: 5 }, () => now);
    b.answered('hub', 'anonymous', true, 200, hdr(200, 11), undefined);
    expect(b.admit('hub', 'anonymous', true)).toBeUndefined();
    b.answered('hub', 'anonymous', true, 200, undefined, undefined); // no headers: counted down locally to 10 = ceil(200 × 5 %)
    expect(b.admit('hub', 'anonymous', true)).toMatchObject({ reason: 'reserve', until: 1_000_000 + 21_600_000 });
    expect(b.admit('hub', 'anonymous', false)).toBeUndefined();
    expect(b.admit('hub', 'robot:ci', true)).toBeUndefined();
    now += 21_600_000;
    expect(b.admit('hub', 'anonymous', true)).toBeUndefined();
    expect(b.view().find((v) => v.identity === 'anonymous')).toMatchObject({ limit: 200, remaining: undefined, reserve: 10, counted: 2, refused: 1 });
  });

  it('a 429 without Retry-After waits 60 s, doubling in a row up to 15 min; a Retry-After of a day is cut to 15 min', () => {
    let now = 0;
    const b = new RegistryBudget({}, () => now);
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      b.answered('hub', 'anonymous', true, 429, undefined, undefined);
      const until = b.throttledUntil('hub') ?? 0;
      waits.push(until - now);
      now = until;
    }
    expect(waits).toEqual([60_000, 120_000, 240_000, 480_000, 900_000, 900_000]);
    b.answered('hub', 'anonymous', false, 200, undefined, undefined);
    b.answered('hub', 'anonymous', true, 429, undefined, 86_400_000);
    expect((b.throttledUntil('hub') ?? 0) - now).toBe(900_000);
    expect(b.admit('hub', 'anonymous', false)).toMatchObject({ reason: 'throttled' });
  });

  it('counts GETs of manifests only (Docker Hub: HEAD and blobs are free)', () => {
    expect(isCounted('GET', '/v2/library/alpine/manifests/latest')).toBe(true);
    expect(isCounted('GET', '/v2/library/alpine/manifests/sha256:abc?x=1')).toBe(true);
    expect(isCounted('HEAD', '/v2/library/alpine/manifests/latest')).toBe(false);
    expect(isCounted('GET', '/v2/library/alpine/blobs/sha256:abc')).toBe(false);
  });
});
