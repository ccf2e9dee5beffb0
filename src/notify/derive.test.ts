import { describe, expect, it } from 'vitest';
import { derive, type DeriveState, type NotifierInput } from './derive.js';

const entry = { key: 'reg.test/app:1 linux/arm64', image: 'reg.test/app:1', platform: 'linux/arm64' };
const d = (n: number): string => `sha256:${String(n).repeat(64).slice(0, 64)}`;
let clock = 0;
const at = (): string => new Date(Date.UTC(2026, 11, 1, 0, 0, clock++)).toISOString();

const checked = (child: string, index = d(9)): NotifierInput => ({ type: 'checked', entry, indexDigest: index, childDigest: child, at: at() });
const pulled = (child: string, previous: string | undefined, index = d(9)): NotifierInput => ({ type: 'pulled', entry, indexDigest: index, childDigest: child, previous, size: 1234, at: at() });
const held = (child: string | undefined): NotifierInput => ({ type: 'held', entry, indexDigest: d(8), childDigest: child, message: 'no linux/arm64', available: ['linux/amd64'], at: at() });
const failed = (failures: number, code = 'ERR_NETWORK'): NotifierInput => ({ type: 'failed', entry, code, message: 'connection refused', failures, retryAfterMs: undefined, at: at() });
const rateLimited = (): NotifierInput => ({ type: 'rate-limited', entry, registry: 'reg.test', retryAfterMs: 120_000, at: at() });

/** Runs a sequence of events and returns the kinds notified, in order. */
function kinds(events: readonly NotifierInput[], start: DeriveState = {}, failedAfter = 3): { kinds: string[]; state: DeriveState } {
  let state = start;
  const out: string[] = [];
  for (const e of events) {
    const r = derive(state, e, { failedAfter });
    state = r.state;
    out.push(...r.notifications.map((n) => n.kind));
  }
  return { kinds: out, state };
}

describe('derive: one notification per change, never per cycle', () => {
  it.each([
    ['a first pull', [pulled(d(1), undefined)], ['pulled']],
    ['checks that change nothing', [pulled(d(1), undefined), checked(d(1)), checked(d(1)), checked(d(1))], ['pulled']],
    ['an index rebuilt for other platforms (index moves, child stays)', [pulled(d(1), undefined), checked(d(1), d(7)), checked(d(1), d(6))], ['pulled']],
    ['a re-pull of the same child', [pulled(d(1), undefined), pulled(d(1), d(1))], ['pulled']],
    ['a first check of a tag the engine already had at that child (a discovered container)', [{ ...pulled(d(1), undefined), wasPresent: true } as NotifierInput, checked(d(1))], []],
    ['the engine had it at first, then a new child (old → new)', [{ ...pulled(d(1), undefined), wasPresent: true } as NotifierInput, pulled(d(2), d(1))], ['pulled']],
    ['a new child, then another', [pulled(d(1), undefined), pulled(d(2), d(1)), pulled(d(3), d(2))], ['pulled', 'pulled', 'pulled']],
    ['held on every check', [pulled(d(1), undefined), held(d(1)), held(d(1)), held(d(1))], ['pulled', 'held']],
    ['held, platform back, held again', [held(d(1)), held(d(1)), { type: 'platform-back', entry, childDigest: d(1), at: at() }, checked(d(1)), held(d(1))], ['held', 'platform-back', 'held']],
    ['failures below the threshold', [failed(1), failed(2), checked(d(1))], []],
    ['failures reaching the threshold, and beyond', [failed(1), failed(2), failed(3), failed(4), failed(5)], ['failed']],
    ['failed then the first success', [failed(1), failed(2), failed(3), failed(4), { type: 'recovered', entry, failures: 4, at: at() }, checked(d(1)), checked(d(1))], ['failed', 'recovered']],
    ['recovered without a failed sent: nothing', [failed(1), { type: 'recovered', entry, failures: 1, at: at() }], []],
    ['a pull ends a failure streak', [failed(1), failed(2), failed(3), pulled(d(2), d(1))], ['failed', 'recovered', 'pulled']],
    ['rate-limited on every failure of a streak', [failed(1, 'ERR_RATE_LIMITED'), rateLimited(), failed(2, 'ERR_RATE_LIMITED'), rateLimited()], ['rate-limited']],
    ['rate-limited again after a success', [rateLimited(), checked(d(1)), rateLimited()], ['rate-limited', 'rate-limited']],
    ['pruned is a change each time', [{ type: 'pruned', entry, digests: [d(1)], at: at() }, { type: 'pruned', entry, digests: [d(2)], at: at() }], ['pruned', 'pruned']],
    ['pruned with nothing removed', [{ type: 'pruned', entry, digests: [], at: at() }], []],
  ] as [string, NotifierInput[], string[]][])('%s', (_name, events, expected) => {
    expect(kinds(events).kinds).toEqual(expected);
  });

  it('remembers across a restart (the state is what is persisted): no second held, recovered still owed', () => {
    const before = kinds([pulled(d(1), undefined), held(d(1)), failed(1), failed(2), failed(3)]);
    expect(before.kinds).toEqual(['pulled', 'held', 'failed']);
    // A new daemon emits held again on its first cycle (its in-memory set is empty); then a success.
    const persisted = JSON.parse(JSON.stringify(before.state)) as DeriveState;
    const after = kinds([held(d(1)), checked(d(1))], persisted);
    expect(after.kinds).toEqual(['recovered', 'platform-back']);
  });

  it('a success after a restart ends a hold the new daemon does not know about', () => {
    const { state } = kinds([held(d(1))]);
    expect(kinds([checked(d(1))], state).kinds).toEqual(['platform-back']);
  });

  it('fills pulled with old → new child, index and size; held with the kept child', () => {
    let state: DeriveState = {};
    state = derive(state, pulled(d(1), undefined), { failedAfter: 3 }).state;
    const p = derive(state, pulled(d(2), d(1), d(5)), { failedAfter: 3 });
    expect(p.notifications).toEqual([
      expect.objectContaining({ kind: 'pulled', image: entry.image, platform: 'linux/arm64', oldDigest: d(1), newDigest: d(2), indexDigest: d(5), size: 1234, state: { status: 'ok', childDigest: d(2), indexDigest: d(5), rateLimited: false } }),
    ]);
    const h = derive(p.state, held(undefined), { failedAfter: 3 });
    expect(h.notifications[0]).toMatchObject({ kind: 'held', oldDigest: d(2), available: ['linux/amd64'], message: 'no linux/arm64', state: { status: 'held' } });
  });

  it('gives the same change the same id (receivers de-duplicate on it) and different changes different ids', () => {
    const a = derive({}, { type: 'pulled', entry, indexDigest: d(9), childDigest: d(2), previous: d(1), at: 'x' }, { failedAfter: 3 }).notifications[0];
    const b = derive({}, { type: 'pulled', entry, indexDigest: d(9), childDigest: d(2), previous: d(1), at: 'y' }, { failedAfter: 3 }).notifications[0];
    const c = derive({}, { type: 'pulled', entry, indexDigest: d(9), childDigest: d(3), previous: d(1), at: 'x' }, { failedAfter: 3 }).notifications[0];
    expect(a?.id).toBe(b?.id);
    expect(a?.id).not.toBe(c?.id);
  });

  it('failedAfter 1 notifies the first failure', () => {
    expect(kinds([failed(1)], {}, 1).kinds).toEqual(['failed']);
  });

  it('keeps entries apart, and forgets entries no longer configured', () => {
    const other = { ...entry, key: 'reg.test/app:1 linux/amd64', platform: 'linux/amd64' };
    let { state } = kinds([held(d(1))]);
    const r = derive(state, { type: 'held', entry: other, indexDigest: d(8), childDigest: d(2), message: 'm', available: [], at: at() }, { failedAfter: 3 });
    expect(r.notifications.map((n) => n.platform)).toEqual(['linux/amd64']);
    state = derive(r.state, { type: 'configured', entries: [{ key: other.key }] }, { failedAfter: 3 }).state;
    expect(Object.keys(state)).toEqual([other.key]);
  });

  it('leaves the state object alone when nothing changed', () => {
    const { state } = kinds([pulled(d(1), undefined), held(d(1))]);
    expect(derive(state, held(d(1)), { failedAfter: 3 }).state).toBe(state);
  });
});
