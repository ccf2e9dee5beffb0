/**
 * The staged-rollout decision (issue 12 §3; docs/rollout.md), a pure function of its inputs: the same device,
 * child, first-seen time, clock, policy and control document always give the same answer, on a daemon and in
 * the fleet simulator alike. No server: every device computes its own place in the ramp.
 *
 * - `cooldown`: a new child is not pulled before it is this old since this device first saw it (a
 *   supply-chain "minimum age": a bad push withdrawn within the cooldown reaches no device).
 * - Cohorts: `u = H(seed ‖ device ‖ child digest)` in [0, 1) (SHA-256); the ramp `steps` (fractions, e.g.
 *   0.01, 0.1, 0.5, 1) opens one step every `stepEvery`, its clock starting at first-seen. A device whose
 *   `u` falls below step k's share may pull from first-seen + k·stepEvery. A new child reshuffles the cohorts
 *   (u depends on the digest), so the same 1 % are not always first.
 * - Prefetch window: pulls happen only inside the hours given (device's local time; may wrap midnight).
 * - The control document (control.ts) can pause the rollout, block digests, or force the ramp to a step.
 */
import { unitOf } from './cohort.js';

/** A resolved rollout policy (times in ms, steps as fractions in (0, 1], ascending, the last one 1). */
export interface RolloutPolicy {
  readonly cooldownMs: number;
  readonly steps: readonly number[];
  readonly stepEveryMs: number;
  /** Minutes of the day [start, end) when pulls may happen; undefined: any time. `start > end` wraps midnight. */
  readonly window: { readonly startMinute: number; readonly endMinute: number } | undefined;
  readonly seed: string;
}

/** The control document as read from the registry (control.ts). */
export interface RolloutControl {
  readonly paused: boolean;
  /** Child digests no device may pull. */
  readonly blocked: readonly string[];
  /** Index into `steps` the ramp is forced to (the ramp clock is ignored); undefined: follow the clock. */
  readonly step: number | undefined;
}

/** No control document. */
export const noControl: RolloutControl = { paused: false, blocked: [], step: undefined };

/** The decision. */
export type Decision =
  | { readonly kind: 'pull'; readonly step: number; readonly u: number }
  | { readonly kind: 'wait'; readonly until: number; readonly reason: 'cooldown' | 'cohort' | 'window'; readonly step: number; readonly u: number }
  /** The control document paused the rollout, or forced the ramp to a step before this device's cohort. */
  | { readonly kind: 'paused'; readonly step: number; readonly u: number }
  | { readonly kind: 'blocked'; readonly u: number };

/** What the decision is about. */
export interface Candidate {
  readonly device: string;
  readonly child: string;
  /** Epoch ms when this device first saw this child. */
  readonly firstSeen: number;
}

/** Local-time context: the device's offset from UTC in minutes at `now` (`-new Date(now).getTimezoneOffset()`). */
export interface Clock {
  readonly now: number;
  readonly utcOffsetMinutes: number;
}

/** The cohort position `u = H(seed ‖ device ‖ child digest)` in [0, 1). */
export function cohortOf(seed: string, device: string, child: string): number {
  return unitOf(seed, device, child);
}

/** Which step of the ramp first includes a device at `u`: the first k with u < steps[k]. */
export function cohortStep(u: number, steps: readonly number[]): number {
  const k = steps.findIndex((share) => u < share);
  return k === -1 ? steps.length - 1 : k;
}

/** The earliest time ≥ `t` inside the window (minute resolution, local time). */
export function nextInWindow(t: number, window: RolloutPolicy['window'], utcOffsetMinutes: number): number {
  if (window === undefined) return t;
  const day = 24 * 60;
  const minuteOf = (ms: number): number => (((Math.floor(ms / 60_000) + utcOffsetMinutes) % day) + day) % day;
  const inside = (m: number): boolean => (window.startMinute <= window.endMinute ? m >= window.startMinute && m < window.endMinute : m >= window.startMinute || m < window.endMinute);
  const m = minuteOf(t);
  if (inside(m)) return t;
  const ahead = (window.startMinute - m + day) % day;
  // To the start of that minute.
  return Math.floor(t / 60_000) * 60_000 + ahead * 60_000;
}

/**
 * Whether `c.device` pulls `c.child` now, or until when it waits, or not at all while the control document
 * says so. `u` and the cohort's step come with the answer so status and the simulator can show them.
 */
export function decide(c: Candidate, clock: Clock, policy: RolloutPolicy, control: RolloutControl): Decision {
  const u = cohortOf(policy.seed, c.device, c.child);
  const step = cohortStep(u, policy.steps);
  if (control.blocked.includes(c.child)) return { kind: 'blocked', u };
  if (control.paused) return { kind: 'paused', step, u };
  const cooled = c.firstSeen + policy.cooldownMs;
  // A forced step k: cohorts up to k may pull now (after their cooldown); the later ones wait for the document.
  const forced = control.step === undefined ? undefined : Math.min(Math.max(control.step, 0), policy.steps.length - 1);
  if (forced !== undefined && step > forced) return { kind: 'paused', step, u };
  const rampAt = forced !== undefined ? Number.NEGATIVE_INFINITY : c.firstSeen + step * policy.stepEveryMs;
  const earliest = Math.max(cooled, rampAt);
  const at = nextInWindow(Math.max(earliest, clock.now), policy.window, clock.utcOffsetMinutes);
  if (at <= clock.now) return { kind: 'pull', step, u };
  const reason = earliest > clock.now ? (cooled >= rampAt ? 'cooldown' : 'cohort') : 'window';
  return { kind: 'wait', until: at, reason, step, u };
}
