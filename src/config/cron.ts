/**
 * Range checks of cron fields that node-cron lets through although the schedule cannot be what was meant:
 * a step larger than the field's largest value (`*\/61` in the minute field: node-cron matches only minute 0;
 * cronie refuses it), a range that runs backwards (`50-10`: node-cron wraps it around, cron refuses it), and
 * numbers outside the field. node-cron still validates everything else (syntax, names, impossible dates). Pure.
 */

interface Field {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const months = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const monthNames = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const days = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const dayNames = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

const second: Field = { name: 'second', min: 0, max: 59 };
const fiveFields: readonly Field[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day of week', min: 0, max: 7 },
];

function valueOf(text: string, field: Field): number | undefined {
  if (/^\d+$/.test(text)) return Number(text);
  const lower = text.toLowerCase();
  if (field.name === 'month') {
    const i = Math.max(months.indexOf(lower), monthNames.indexOf(lower));
    return i < 0 ? undefined : i + 1;
  }
  if (field.name === 'day of week') {
    const i = Math.max(days.indexOf(lower), dayNames.indexOf(lower));
    return i < 0 ? undefined : i;
  }
  return undefined;
}

const itemRe = /^(\*|([A-Za-z0-9]+)(?:-([A-Za-z0-9]+))?)(?:\/(\d+))?$/;

/** The values one field matches, or a reason it is out of range; undefined for syntax left to node-cron. */
function checkField(text: string, field: Field): { values: Set<number> } | { reason: string } | undefined {
  const values = new Set<number>();
  const range = `${field.min}-${field.max}`;
  for (const item of text.split(',')) {
    const m = itemRe.exec(item);
    if (m === null) return undefined;
    const step = m[4] === undefined ? 1 : Number(m[4]);
    let from = field.min;
    let to = field.max;
    if (m[1] !== '*') {
      const a = valueOf(m[2] ?? '', field);
      const b = m[3] === undefined ? undefined : valueOf(m[3], field);
      if (a === undefined || (m[3] !== undefined && b === undefined)) return undefined;
      for (const v of [a, b]) {
        if (v !== undefined && (v < field.min || v > field.max)) return { reason: `${v} in the ${field.name} field is out of range ${range}` };
      }
      if (b !== undefined && b < a) return { reason: `the range ${item} in the ${field.name} field runs backwards; write it as two ranges, e.g. ${m[2] ?? ''}-${field.max},${field.min}-${m[3] ?? ''}` };
      from = a;
      to = b ?? (m[4] === undefined ? a : field.max);
    }
    if (step < 1 || step > field.max) return { reason: `the step /${m[4] ?? ''} in the ${field.name} field is out of range 1-${field.max}` };
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return { values };
}

/** What the range checks found. */
export type CronFieldsCheck = { readonly ok: true; readonly perMinute: number } | { readonly ok: false; readonly reason: string };

/**
 * Checks the fields of a 5- or 6-field expression (seconds first when 6). `perMinute` is how many times a
 * minute it can fire (1 for a 5-field expression; the number of seconds matched for 6 fields).
 * Expressions it does not understand (`@hourly`, `L`, names node-cron may know) pass with `perMinute: 1`
 * unless their seconds field is readable, so node-cron's own validation decides about them.
 */
export function checkCronFields(expression: string): CronFieldsCheck {
  const parts = expression.trim().split(/\s+/);
  const fields = parts.length === 6 ? [second, ...fiveFields] : parts.length === 5 ? fiveFields : undefined;
  if (fields === undefined) return { ok: true, perMinute: 1 };
  let perMinute = 1;
  for (const [i, field] of fields.entries()) {
    const result = checkField(parts[i] ?? '', field);
    if (result === undefined) continue;
    if ('reason' in result) return { ok: false, reason: result.reason };
    if (field === second) perMinute = result.values.size;
  }
  return { ok: true, perMinute };
}
