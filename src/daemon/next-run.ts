/**
 * The next slot of a cron schedule in local time, for the plain grammar (five or six fields of `*`, numbers,
 * three-letter names, ranges, steps and lists), with node-cron's semantics: every field must match (day of
 * month AND day of week), 7 is Sunday, a missing seconds field is second 0, the slot is strictly after `after`,
 * and a local time the clock skips (daylight saving) counts only if the time it becomes still matches.
 *
 * Why not node-cron's getNextRuns: it formats every candidate with `Intl.DateTimeFormat`, which pages in ICU's
 * data and adds ~8.7 MB to the daemon's resident memory (bench/README.md, issue 10 §4). Anything outside the
 * plain grammar (`L`, `W`, `#`, `?`, `a/n`, full names) gives undefined here and stays node-cron's. Pure.
 */

interface Field {
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const second: Field = { min: 0, max: 59 };
const minute: Field = { min: 0, max: 59 };
const hour: Field = { min: 0, max: 23 };
const dayOfMonth: Field = { min: 1, max: 31 };
const month: Field = { min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] };
const dayOfWeek: Field = { min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] };

const itemRe = /^(?:(\*)|([0-9]+|[A-Za-z]{3})(?:-([0-9]+|[A-Za-z]{3}))?)(?:\/([0-9]+))?$/;

function valueOf(text: string, field: Field): number | undefined {
  if (/^[0-9]+$/.test(text)) return Number(text);
  const i = field.names?.indexOf(text.toLowerCase()) ?? -1;
  return i < 0 ? undefined : i + field.min;
}

/** The sorted values of one field, or undefined when it is not the plain grammar or out of range. */
function parseField(text: string, field: Field): number[] | undefined {
  const values = new Set<number>();
  for (const item of text.split(',')) {
    const m = itemRe.exec(item);
    if (m === null) return undefined;
    const step = m[4] === undefined ? 1 : Number(m[4]);
    if (step < 1) return undefined;
    let from = field.min;
    let to = field.max;
    if (m[1] === undefined) {
      const a = valueOf(m[2] ?? '', field);
      const b = m[3] === undefined ? a : valueOf(m[3], field);
      // `a/n` (no range) means different things to different crons: left to node-cron.
      if (a === undefined || b === undefined || (m[3] === undefined && m[4] !== undefined) || a > b) return undefined;
      from = a;
      to = b;
    }
    if (from < field.min || to > field.max) return undefined;
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return [...values].sort((x, y) => x - y);
}

/** A parsed schedule: the values each field matches. */
export interface CronFields {
  readonly seconds: readonly number[];
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly days: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  readonly weekdays: ReadonlySet<number>;
}

/** Parses the plain grammar; undefined for anything else (node-cron then computes the slots). */
export function parseCron(expression: string): CronFields | undefined {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) return undefined;
  const withSeconds = parts.length === 6 ? parts : ['0', ...parts];
  const fields = [second, minute, hour, dayOfMonth, month, dayOfWeek].map((f, i) => parseField(withSeconds[i] ?? '', f));
  const [s, mi, h, d, mo, w] = fields;
  if (s === undefined || mi === undefined || h === undefined || d === undefined || mo === undefined || w === undefined) return undefined;
  return { seconds: s, minutes: mi, hours: h, days: new Set(d), months: new Set(mo), weekdays: new Set(w.map((v) => (v === 7 ? 0 : v))) };
}

function matches(f: CronFields, t: Date): boolean {
  return f.months.has(t.getMonth() + 1) && f.days.has(t.getDate()) && f.weekdays.has(t.getDay())
    && f.hours.includes(t.getHours()) && f.minutes.includes(t.getMinutes()) && f.seconds.includes(t.getSeconds());
}

/** Days searched before giving up (node-cron's bound; an impossible date such as 30 February never matches). */
const maxDays = 366 * 100;

/** The first slot strictly after `after`, or undefined when none comes within a hundred years (node-cron's bound). */
export function nextRun(f: CronFields, after: Date): Date | undefined {
  const base = after.getTime();
  const y0 = after.getFullYear();
  const mo0 = after.getMonth();
  const d0 = after.getDate();
  for (let i = 0; i < maxDays; i++) {
    // Noon of the day: the calendar walk never lands on a skipped or repeated hour.
    const day = new Date(y0, mo0, d0 + i, 12);
    if (!f.months.has(day.getMonth() + 1) || !f.days.has(day.getDate()) || !f.weekdays.has(day.getDay())) continue;
    const first = i === 0;
    for (const h of f.hours) {
      if (first && h < after.getHours()) continue;
      for (const mi of f.minutes) {
        if (first && h === after.getHours() && mi < after.getMinutes()) continue;
        for (const s of f.seconds) {
          const t = new Date(day.getFullYear(), day.getMonth(), day.getDate(), h, mi, s);
          if (t.getTime() > base && matches(f, t)) return t;
        }
      }
    }
  }
  return undefined;
}
