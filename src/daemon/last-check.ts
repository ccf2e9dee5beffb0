/**
 * "When did you last check IMAGE for PLATFORM, and which child did it resolve to": the daemon's answer over
 * its control socket (`{"op":"last-check","image":…,"platform":…}`, src/daemon/lock.ts), and the rule by
 * which `resolver run` trusts it instead of asking the registry again (issue 10 §4; docs/run.md).
 *
 * The state file cannot answer: its `checkedAt` is the last *change* (an unchanged check writes nothing, to
 * spare SD cards), so the fresh facts live only in the running daemon's memory. `LastChecks` is a fold over
 * the daemon's events, like status: a check that found the tag at a child the engine holds (`unchanged`,
 * `index-changed`, `pulled`) records it; anything that says the registry's child may be another one (a dry
 * run that would pull, a hold, a failure, a rollout wait) forgets it, so `run` asks the registry as before.
 */
import { z } from 'zod';
import { isSha256Digest } from '../reference/digest.js';
import { schedulePeriodMs } from './scheduler.js';
import type { DaemonEvent } from './events.js';

/** The longest a daemon check is trusted, whatever the schedule (a daily schedule does not make a day-old check fresh). */
export const maxTrustMs = 60 * 60_000;

/** The daemon's answer to `last-check`: `check` null when it has no trusted check of that image and platform. */
export const LastCheckAnswer = z.object({
  pid: z.number().int(),
  image: z.string(),
  platform: z.string(),
  check: z.object({
    /** When the check finished (ISO time). */
    at: z.string().refine((t) => !Number.isNaN(Date.parse(t)), 'an ISO time'),
    childDigest: z.string().refine(isSha256Digest, 'a sha256 digest'),
    indexDigest: z.string().optional(),
    /** The entry's schedule period (ms), null when the schedule has no regular period. */
    periodMs: z.number().positive().nullable(),
  }).nullable(),
});
export type LastCheckAnswer = z.infer<typeof LastCheckAnswer>;

/** What `run` does with an answer. */
export type TrustDecision =
  | { readonly kind: 'trust'; readonly childDigest: string; readonly ageMs: number; readonly boundMs: number }
  | { readonly kind: 'ask'; readonly reason: string };

/** The child the state file records for the tag and platform, and when that record was written (its `checkedAt`). */
export interface KnownRecord {
  readonly childDigest: string;
  readonly checkedAt: string;
}

/**
 * Whether `answer` lets `run` start its child without asking the registry: it is a well-formed answer about
 * this image and platform, and its check is younger than the schedule's period, at most `maxTrustMs` (a
 * check from the future, after the clock went back, is not trusted), and no newer news of the tag is at hand:
 * when the state file (`known`) records another child, written after the daemon's check (a `run --pull
 * always` or `pull` found the tag moved since), the daemon's answer is older news and the registry is asked,
 * as docker starts the image its last pull got. Pure; the caller still verifies that the engine holds the
 * child by digest.
 */
export function decideTrust(answer: unknown, want: { readonly image: string; readonly platform: string }, now: number, options: { readonly maxAgeMs?: number; readonly known?: KnownRecord } = {}): TrustDecision {
  const parsed = LastCheckAnswer.safeParse(answer);
  if (!parsed.success) return { kind: 'ask', reason: 'the daemon gave no last-check answer (an older daemon?)' };
  const { image, platform, check } = parsed.data;
  if (image !== want.image || platform !== want.platform) return { kind: 'ask', reason: `the daemon answered about ${image} ${platform}` };
  if (check === null) return { kind: 'ask', reason: `the daemon has no recent check of ${image} for ${platform}` };
  if (check.periodMs === null) return { kind: 'ask', reason: 'the schedule has no regular period' };
  const boundMs = Math.min(check.periodMs, options.maxAgeMs ?? maxTrustMs);
  const ageMs = now - Date.parse(check.at);
  if (ageMs < 0) return { kind: 'ask', reason: `the daemon's check (${check.at}) is in the future` };
  if (ageMs > boundMs) return { kind: 'ask', reason: `the daemon's check is ${Math.round(ageMs / 1000)} s old (trusted up to ${Math.round(boundMs / 1000)} s)` };
  const { known } = options;
  if (known !== undefined && known.childDigest !== check.childDigest && !(Date.parse(known.checkedAt) <= Date.parse(check.at))) {
    return { kind: 'ask', reason: `${known.childDigest} was pulled here after the daemon's check (state file ${known.checkedAt}, daemon ${check.at}), which found ${check.childDigest}` };
  }
  return { kind: 'trust', childDigest: check.childDigest, ageMs, boundMs };
}

interface Checked {
  readonly key: string;
  readonly at: string;
  readonly childDigest: string;
  readonly indexDigest: string;
}

const slot = (image: string, platform: string): string => `${image}\0${platform}`;

/** The daemon's last trusted check per image and resolved platform: a subscriber of its events. */
export class LastChecks {
  readonly #records = new Map<string, Checked>();
  readonly #schedules = new Map<string, string>();

  /** Folds one event in (subscribe with `events.on(lastChecks.apply)`). */
  readonly apply = (event: DaemonEvent): void => {
    switch (event.type) {
      case 'configured': {
        this.#schedules.clear();
        for (const e of event.entries) this.#schedules.set(e.key, e.schedule);
        for (const [k, r] of this.#records) if (!this.#schedules.has(r.key)) this.#records.delete(k);
        return;
      }
      case 'checked':
        if (event.result === 'would-pull') this.#records.delete(slot(event.entry.image, event.entry.platform));
        else this.#records.set(slot(event.entry.image, event.entry.platform), { key: event.entry.key, at: event.at, childDigest: event.childDigest, indexDigest: event.indexDigest });
        return;
      case 'pulled':
        this.#records.set(slot(event.entry.image, event.entry.platform), { key: event.entry.key, at: event.at, childDigest: event.childDigest, indexDigest: event.indexDigest });
        return;
      case 'held':
      case 'failed':
        this.#records.delete(slot(event.entry.image, event.entry.platform));
        return;
      case 'deferred':
        // A 429 or the budget's reserve only postpones a check; a rollout wait means the tag moved.
        if (event.reason === 'rollout') this.#records.delete(slot(event.entry.image, event.entry.platform));
        return;
      case 'config-rejected':
      case 'started':
      case 'stopped':
      case 'scheduled':
      case 'clock-jumped':
      case 'skipped':
      case 'check-started':
      case 'pruned':
      case 'platform-back':
      case 'recovered':
      case 'rate-limited':
      case 'quota':
      case 'activated':
      case 'rolled-back':
        return;
    }
  };

  /** The `last-check` answer for `image` (canonical reference) at `platform` (resolved, formatPlatformAll). */
  answer(pid: number, image: string, platform: string): LastCheckAnswer {
    const r = this.#records.get(slot(image, platform));
    const schedule = r === undefined ? undefined : this.#schedules.get(r.key);
    if (r === undefined || schedule === undefined) return { pid, image, platform, check: null };
    return { pid, image, platform, check: { at: r.at, childDigest: r.childDigest, indexDigest: r.indexDigest, periodMs: schedulePeriodMs(schedule) ?? null } };
  }
}
