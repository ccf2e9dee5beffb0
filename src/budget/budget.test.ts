import { describe, expect, it } from 'vitest';
import { RegistryBudget } from './budget.js';
import { isCounted } from './layer.js';
import { budgetFileText, parseBudgetFile } from './snapshot.js';

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

describe('RegistryBudget across a restart (snapshot, restore, the file schema)', () => {
  it('a restored 429 still defers every request; a restored reserve still refuses counted requests until the window', () => {
    let now = 5_000_000;
    const a = new RegistryBudget({}, () => now);
    const changes: boolean[] = [];
    a.onChange((urgent) => changes.push(urgent));
    a.answered('hub', 'anonymous', false, 200, hdr(100, 50, 600), undefined);
    a.answered('hub', 'anonymous', true, 429, undefined, 300_000);
    a.answered('ghcr', 'anonymous', true, 200, hdr(100, 5, 600), undefined);
    expect(changes).toEqual([false, true, true]);
    const text = budgetFileText(a.snapshot());
    const parsed = parseBudgetFile(text);
    if ('problem' in parsed) throw new Error(parsed.problem);
    now += 60_000;
    const b = new RegistryBudget({}, () => now);
    b.restore(parsed.accounts);
    expect(b.admit('hub', 'anonymous', false)).toMatchObject({ reason: 'throttled', until: 5_300_000 });
    expect(b.admit('ghcr', 'anonymous', true)).toMatchObject({ reason: 'reserve', until: 5_600_000 });
    expect(b.admit('ghcr', 'anonymous', false)).toBeUndefined();
    now = 5_600_000;
    expect(b.admit('ghcr', 'anonymous', true)).toBeUndefined();
  });

  it('distrusts the file: a wait is cut to 15 min from now, a time in the future to now, a passed window forgets the count', () => {
    const now = 10_000_000_000;
    const b = new RegistryBudget({}, () => now);
    b.restore([
      { registry: 'hub', identity: 'anonymous', limit: 100, remaining: 0, windowMs: 600_000, seenAt: now + 86_400_000, throttledUntil: now + 86_400_000, throttledInRow: 3 },
      { registry: 'old', identity: 'anonymous', limit: 100, remaining: 1, windowMs: 600_000, seenAt: now - 700_000, throttledUntil: now - 1, throttledInRow: 0 },
    ]);
    expect(b.admit('hub', 'anonymous', false)).toMatchObject({ reason: 'throttled', until: now + 900_000 });
    expect(b.view().find((v) => v.registry === 'hub')?.waitUntil).toBe(new Date(now + 900_000).toISOString());
    expect(b.admit('old', 'anonymous', true)).toBeUndefined();
    expect(b.view().find((v) => v.registry === 'old')?.remaining).toBeUndefined();
  });

  it('the file: corrupt, wrong shape or too large is a problem named, never a partial restore; at most 64 accounts', () => {
    expect(parseBudgetFile('{"version":1,"accounts":[')).toEqual({ problem: 'not JSON' });
    expect(parseBudgetFile('{"version":2,"accounts":[]}')).toMatchObject({ problem: expect.stringMatching(/^version/) });
    expect(parseBudgetFile(JSON.stringify({ version: 1, accounts: [{ registry: 'hub', identity: 'anonymous', seenAt: -1, throttledUntil: 0, throttledInRow: 0 }] }))).toMatchObject({ problem: expect.stringMatching(/^accounts\.0\.seenAt/) });
    expect(parseBudgetFile(' '.repeat(70_000))).toMatchObject({ problem: expect.stringMatching(/larger than/) });
    let now = 1;
    const b = new RegistryBudget({}, () => now);
    for (let i = 0; i < 100; i++) {
      now++;
      b.answered(`r${i}`, 'anonymous', false, 200, hdr(100, 50), undefined);
    }
    const snap = b.snapshot();
    expect(snap).toHaveLength(64);
    expect(snap[0]?.registry).toBe('r99');
    expect(parseBudgetFile(budgetFileText(snap))).toMatchObject({ accounts: expect.any(Array) });
  });
});
