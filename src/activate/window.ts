/**
 * Maintenance windows: `HH:MM-HH:MM` in the host's local time (as cron and systemd timers read time), which may
 * wrap midnight (`23:00-01:00`). Start inclusive, end exclusive; equal ends are refused (say nothing for "any
 * time"). Pure: the clock is an argument.
 */

/** A window in minutes after local midnight. */
export interface Window {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

const windowRe = /^([01]?\d|2[0-3]):([0-5]\d)-([01]?\d|2[0-3]):([0-5]\d)$/;

/** Parses `02:00-04:00`; a string is the reason it is not a window. */
export function parseWindow(text: string): Window | string {
  const m = windowRe.exec(text.trim());
  if (m === null) return `"${text}" is not a window: write HH:MM-HH:MM in local time, e.g. 02:00-04:00 (it may wrap midnight: 23:00-01:00)`;
  const start = Number(m[1]) * 60 + Number(m[2]);
  const end = Number(m[3]) * 60 + Number(m[4]);
  if (start === end) return `"${text}" starts and ends at the same time; leave the window out to allow any time`;
  return { start, end, text: text.trim() };
}

const minuteOf = (d: Date): number => d.getHours() * 60 + d.getMinutes();

/** True when `now` (local time) is inside the window. */
export function inWindow(window: Window, now: Date): boolean {
  const m = minuteOf(now);
  return window.start < window.end ? m >= window.start && m < window.end : m >= window.start || m < window.end;
}

/**
 * Milliseconds from `now` until the window next opens (0 when it is open). Computed by local calendar time, so a
 * DST change moves it as the wall clock moves; the caller re-checks after at most its own bound anyway.
 */
export function msUntilOpen(window: Window, now: Date): number {
  if (inWindow(window, now)) return 0;
  const next = new Date(now.getTime());
  next.setHours(Math.floor(window.start / 60), window.start % 60, 0, 0);
  if (next.getTime() <= now.getTime()) next.setDate(next.getDate() + 1);
  return next.getTime() - now.getTime();
}
