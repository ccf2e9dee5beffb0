import { describe, expect, it } from 'vitest';
import type { DaemonEvent, EntrySpec } from './events.js';
import { decideTrust, LastChecks, maxTrustMs } from './last-check.js';
import { schedulePeriodMs } from './scheduler.js';

const image = 'registry.example:5000/fleet/app:stable';
const platform = 'linux/amd64';
const child = `sha256:${'c'.repeat(64)}`;
const other = `sha256:${'d'.repeat(64)}`;
const index = `sha256:${'1'.repeat(64)}`;
const key = `${image} detected`;
const entry = { key, image, platform };

function configured(schedule = '*/15 * * * *', keys = [key]): DaemonEvent {
  const entries = keys.map((k): EntrySpec => ({ key: k, image, platformSpec: undefined, registry: 'registry.example:5000', schedule, onMissingPlatform: 'hold', retain: 1 }));
  return { type: 'configured', entries, reload: false, at: '2026-12-03T08:00:00.000Z', summary: { images: 1, schedule, splayMs: 0, concurrency: 1, platform: undefined, onMissingPlatform: 'hold', retain: 1, logLevel: 'info', metrics: undefined, notifications: undefined } };
}
const checked = (at: string, result: 'unchanged' | 'index-changed' | 'would-pull' = 'unchanged', childDigest = child): DaemonEvent => ({ type: 'checked', entry, result, indexDigest: index, childDigest, pulledAt: undefined, at });
const pulled = (at: string, childDigest = child): DaemonEvent => ({ type: 'pulled', entry, indexDigest: index, childDigest, previous: undefined, pruned: [], at });

function fold(events: readonly DaemonEvent[]): LastChecks {
  const checks = new LastChecks();
  for (const e of events) checks.apply(e);
  return checks;
}

const t0 = '2026-12-03T08:00:00.000Z';
const at = (ms: number): number => Date.parse(t0) + ms;

describe('LastChecks (the daemon side of last-check)', () => {
  it.each([
    ['an unchanged check', [checked(t0)]],
    ['an index that changed at the same child', [checked(t0, 'index-changed')]],
    ['a pull', [pulled(t0)]],
    ['the newest of several', [pulled('2026-12-03T07:00:00.000Z', other), checked(t0)]],
  ])('records %s: its time, child and the schedule period', (_what, events) => {
    const answer = fold([configured(), ...events]).answer(42, image, platform);
    expect(answer).toEqual({ pid: 42, image, platform, check: { at: t0, childDigest: child, indexDigest: index, periodMs: 15 * 60_000 } });
  });

  it.each<[string, DaemonEvent]>([
    ['a dry run that would pull another child', checked('2026-12-03T08:01:00.000Z', 'would-pull', other)],
    ['a hold', { type: 'held', entry, indexDigest: index, childDigest: child, pulledAt: undefined, message: 'no child', available: [], repeat: false, at: t0 }],
    ['a failure', { type: 'failed', entry, code: 'ERR_NETWORK', message: 'down', failures: 1, retryInMs: 1000, retryAfterMs: undefined, backoffUntil: t0, recorded: undefined, at: t0 }],
    ['a rollout wait (the tag moved)', { type: 'deferred', entry, reason: 'rollout', until: undefined, message: 'cooldown', childDigest: other, at: t0 }],
    ['a reload without the entry', configured('*/15 * * * *', ['another key'])],
  ])('forgets it after %s', (_what, event) => {
    expect(fold([configured(), checked(t0), event]).answer(1, image, platform).check).toBeNull();
  });

  it('keeps it over a 429 deferral (the check was only postponed), and knows nothing of another platform or image', () => {
    const checks = fold([configured(), checked(t0), { type: 'deferred', entry, reason: 'throttled', until: undefined, message: '429', childDigest: undefined, at: t0 }]);
    expect(checks.answer(1, image, platform).check?.childDigest).toBe(child);
    expect(checks.answer(1, image, 'linux/arm64/v8').check).toBeNull();
    expect(checks.answer(1, 'registry.example:5000/fleet/app:other', platform).check).toBeNull();
  });

  it.each([
    ['*/15 * * * *', 15 * 60_000],
    ['0 3 * * *', 24 * 3_600_000],
    ['*/10 * * * * *', 10_000],
    ['0 9-17 * * mon-fri', 3_600_000],
  ])('the answer\'s period of %j is %i ms (schedulePeriodMs)', (schedule, ms) => {
    expect(schedulePeriodMs(schedule)).toBe(ms);
  });
});

describe('decideTrust (the run side)', () => {
  const answer = (check: Record<string, unknown> | null, about = { image, platform }): unknown => ({ pid: 7, ...about, check });
  const fresh = { at: t0, childDigest: child, indexDigest: index, periodMs: 15 * 60_000 };
  const want = { image, platform };

  it('trusts a check younger than the schedule period', () => {
    expect(decideTrust(answer(fresh), want, at(60_000))).toEqual({ kind: 'trust', childDigest: child, ageMs: 60_000, boundMs: 15 * 60_000 });
  });

  it.each([
    ['stale: older than the period', answer(fresh), at(15 * 60_000 + 1), /900 s/],
    ['a daily schedule is trusted at most an hour', answer({ ...fresh, periodMs: 86_400_000 }), at(maxTrustMs + 1), /trusted up to 3600 s/],
    ['from the future (the clock went back)', answer(fresh), at(-1), /in the future/],
    ['another platform', answer(fresh, { image, platform: 'linux/arm64/v8' }), at(1), /answered about .* linux\/arm64\/v8/],
    ['another image', answer(fresh, { image: 'x/y:z', platform }), at(1), /answered about x\/y:z/],
    ['no check known', answer(null), at(1), /no recent check/],
    ['no regular period', answer({ ...fresh, periodMs: null }), at(1), /no regular period/],
    ['an older daemon refusing the op', { error: 'bad request' }, at(1), /no last-check answer/],
    ['a child that is not a digest', answer({ ...fresh, childDigest: 'latest' }), at(1), /no last-check answer/],
    ['a time that is not one', answer({ ...fresh, at: 'yesterday' }), at(1), /no last-check answer/],
  ])('asks the registry for %s', (_what, given, now, reason) => {
    const decision = decideTrust(given, want, now);
    expect(decision.kind).toBe('ask');
    expect(decision.kind === 'ask' ? decision.reason : '').toMatch(reason);
  });

  // The state file's record of the tag (a run --pull always or pull since the daemon's check) is newer news.
  const later = new Date(at(1000)).toISOString();
  const earlier = new Date(at(-1000)).toISOString();
  it('asks when the state file records another child, written after the daemon\'s check', () => {
    const decision = decideTrust(answer(fresh), want, at(60_000), { known: { childDigest: other, checkedAt: later } });
    expect(decision).toEqual({ kind: 'ask', reason: `${other} was pulled here after the daemon's check (state file ${later}, daemon ${t0}), which found ${child}` });
  });

  it.each([
    ['the same child, written later', { childDigest: child, checkedAt: later }],
    ['another child, written before the check (the daemon found the tag moved since)', { childDigest: other, checkedAt: earlier }],
    ['another child, written at the same time', { childDigest: other, checkedAt: t0 }],
  ])('trusts the daemon with a state record of %s', (_what, known) => {
    expect(decideTrust(answer(fresh), want, at(60_000), { known }).kind).toBe('trust');
  });
});
