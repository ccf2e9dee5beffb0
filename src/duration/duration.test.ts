import { describe, expect, it } from 'vitest';
import { durationPattern, durationPatternWithDays, durationToMs } from './duration.js';

describe('durationToMs', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['1.5s', 1500],
    ['5m', 300_000],
    ['1h', 3_600_000],
    [' 2m ', 120_000],
    [90, 90_000],
    [0.25, 250],
  ] as const)('%j is %d ms', (value, ms) => {
    expect(durationToMs(value)).toBe(ms);
  });

  it.each(['', 's', '10', '10 s', '-5s', '1e3s', '5x', '2d', 'NaNs', '0x10s'])('%j is not a duration by default', (value) => {
    expect(durationToMs(value)).toBeUndefined();
  });

  it('takes days only where the caller allows them', () => {
    expect(durationToMs('2d', { days: true })).toBe(172_800_000);
    expect(durationToMs('2d')).toBeUndefined();
  });

  it('takes a bare number of seconds only where the caller allows it', () => {
    expect(durationToMs('30', { bareSeconds: true })).toBe(30_000);
    expect(durationToMs('0', { bareSeconds: true })).toBe(0);
    expect(durationToMs('30')).toBeUndefined();
    expect(durationToMs('30 s', { bareSeconds: true })).toBeUndefined();
  });

  it('refuses a number that is not finite', () => {
    expect(durationToMs(Number.POSITIVE_INFINITY)).toBeUndefined();
    expect(durationToMs(Number.NaN)).toBeUndefined();
  });

  it('the patterns match exactly what durationToMs parses', () => {
    for (const text of ['500ms', '30s', '5m', '1h', '2d', '10', 'x']) {
      expect(durationPattern.test(text)).toBe(durationToMs(text) !== undefined);
      expect(durationPatternWithDays.test(text)).toBe(durationToMs(text, { days: true }) !== undefined);
    }
  });
});
