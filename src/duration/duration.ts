/**
 * The one duration grammar of the config file and the command line: a decimal number and a unit, `500ms`,
 * `30s`, `5m`, `1h` (and `2d` where a fragment allows days), or a bare number of seconds. Every config
 * fragment (`config/`, `notify/`, `activate/`, `discover/`, `rollout/`) and `--timeout` parse durations here,
 * once, when the value is read; each keeps its own bounds and wording. Pure, below every other folder.
 */

/** Milliseconds per unit. */
const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `500ms`, `30s`, `5m`, `1h`. */
export const durationPattern = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

/** `500ms` … `1h`, and `2d`. */
export const durationPatternWithDays = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** Which forms a caller accepts beyond `500ms`, `30s`, `5m`, `1h`. */
export interface DurationForms {
  /** `2d` (rollout's cooldown and ramp). */
  readonly days?: boolean;
  /** `30` in a string means 30 s (docker's client timeouts); a number value always means seconds. */
  readonly bareSeconds?: boolean;
}

/** A duration in whole milliseconds, or undefined when the text is not one. A number is seconds. */
export function durationToMs(value: string | number, forms: DurationForms = {}): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.round(value * 1000) : undefined;
  const text = value.trim();
  const m = (forms.days === true ? durationPatternWithDays : durationPattern).exec(text) ?? (forms.bareSeconds === true ? /^(\d+(?:\.\d+)?)()$/.exec(text) : null);
  if (m === null) return undefined;
  const unit = (m[2] === '' || m[2] === undefined ? 's' : m[2]) as keyof typeof unitMs;
  return Math.round(Number.parseFloat(m[1] ?? '0') * unitMs[unit]);
}
