import { fc, test } from '@fast-check/vitest';
import cron from 'node-cron';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { nextRun, parseCron } from './next-run.js';

/** node-cron's answer for the next slot after `at` (it computes from `new Date()`). */
function nodeCronNext(expression: string, at: Date): number {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(at);
  const task = cron.createTask(expression, () => undefined);
  try {
    return task.getNextRuns(1)[0]?.getTime() ?? Number.NaN;
  } finally {
    void task.destroy();
    vi.useRealTimers();
  }
}

afterEach(() => vi.useRealTimers());

const monthNames = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const dayNames = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** One field of the plain grammar between min and max, with names where the field has them. */
function field(min: number, max: number, names?: readonly string[]): fc.Arbitrary<string> {
  const value = names === undefined ? fc.integer({ min, max }).map(String) : fc.oneof(fc.integer({ min, max }).map(String), fc.integer({ min: 0, max: names.length - 1 }).map((i) => names[i] ?? ''));
  const num = (v: string): number => (/^\d+$/.test(v) ? Number(v) : (names?.indexOf(v) ?? 0) + (min === 1 ? 1 : 0));
  const range = fc.tuple(value, value).filter(([a, b]) => num(a) <= num(b)).map(([a, b]) => `${a}-${b}`);
  const item = fc.oneof(
    fc.constant('*'),
    fc.integer({ min: 1, max: max }).map((n) => `*/${n}`),
    value,
    range,
    fc.tuple(range, fc.integer({ min: 1, max })).map(([r, n]) => `${r}/${n}`),
  );
  return fc.array(item, { minLength: 1, maxLength: 3 }).map((items) => items.join(','));
}

const expression = fc.tuple(
  fc.option(field(0, 59), { nil: undefined }), field(0, 59), field(0, 23), fc.oneof(fc.constant('*'), field(1, 28)), fc.oneof(fc.constant('*'), field(1, 12, monthNames)), fc.oneof(fc.constant('*'), field(0, 7, dayNames)),
).map(([s, ...rest]) => (s === undefined ? rest : [s, ...rest]).join(' '));

describe('nextRun', () => {
  test.prop([expression, fc.date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2035-12-31T00:00:00Z'), noInvalidDate: true })], { numRuns: 300 })(
    'gives node-cron\'s next slot for the plain grammar',
    (expr, at) => {
      const fields = parseCron(expr);
      expect(fields, expr).toBeDefined();
      expect(nextRun(fields!, at)?.getTime(), `${expr} after ${at.toISOString()}`).toBe(nodeCronNext(expr, at));
    },
  );

  it('is strictly after the given time, also on a slot itself', () => {
    const at = new Date(2026, 0, 1, 10, 0, 0);
    expect(nextRun(parseCron('0 * * * *')!, at)).toEqual(new Date(2026, 0, 1, 11, 0, 0));
    expect(nextRun(parseCron('*/10 * * * * *')!, new Date(2026, 0, 1, 10, 0, 0, 1))).toEqual(new Date(2026, 0, 1, 10, 0, 10));
  });

  it('day of month and day of week must both match, 7 is Sunday (as node-cron)', () => {
    // 2026-02-01 is a Sunday; the next 1st of a month on a Sunday after it is 2026-03-01.
    const at = new Date(2026, 1, 1, 0, 0, 1);
    expect(nextRun(parseCron('0 0 1 * 7')!, at)).toEqual(new Date(2026, 2, 1, 0, 0, 0));
    expect(nextRun(parseCron('0 0 1 * 7')!, at)?.getTime()).toBe(nodeCronNext('0 0 1 * 7', at));
  });

  it('leaves what is not the plain grammar to node-cron', () => {
    for (const expr of ['0 0 L * *', '0 0 * * 1#2', '0 0 15W * *', '5/15 * * * *', '0 0 * * monday', '* * * *', '1 2 3 4 5 6 7', '70 * * * *', '30-10 * * * *', '*/0 * * * *']) {
      expect(parseCron(expr), expr).toBeUndefined();
    }
  });

  it('finds nothing for a date that never comes', () => {
    expect(nextRun(parseCron('0 0 30 2 *')!, new Date(2026, 0, 1))).toBeUndefined();
  });
});
