/**
 * The `rollout:` fragment of the daemon's config (issue 12 §3; docs/rollout.md): the device id, and the
 * default rollout policy of every image (cooldown, ramp, prefetch window, control document). Pure.
 * With no `rollout:` the policy is "pull at once" (one step of 100 %, no cooldown, no window): today's
 * behaviour.
 */
import { z } from 'zod';
import { durationPatternWithDays, durationToMs } from '../duration/duration.js';
import type { RolloutPolicy } from './decide.js';

const durationRe = durationPatternWithDays;

/** `30s`, `15m`, `6h`, `2d` (or seconds) in milliseconds. */
export function rolloutDurationMs(value: string | number): number {
  return durationToMs(value, { days: true }) ?? Number.NaN;
}

const maxMs = 90 * 86_400_000;
const Duration = z
  .union([z.number().nonnegative(), z.string().regex(durationRe, 'a duration such as 30s, 15m, 6h or 2d')])
  .refine((v) => rolloutDurationMs(v) <= maxMs, { error: 'at most 90d' });

const Percent = z.union([
  z.number().gt(0).max(100),
  z.string().regex(/^\d+(\.\d+)?%$/, 'a share such as 10%').refine((v) => Number.parseFloat(v) > 0 && Number.parseFloat(v) <= 100, { error: 'between 0% (excluded) and 100%' }),
]);

const windowRe = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$/;

const PolicyFields = {
  cooldown: Duration.optional().describe('a new child is not pulled before it is this old since this device first saw it (a minimum age); @default 0s'),
  steps: z.array(Percent).min(1).max(20).optional().describe('the ramp: shares of the fleet (e.g. [1%, 10%, 50%, 100%]); a device pulls once the step that includes its cohort has opened; @default [100%]'),
  stepEvery: Duration.optional().describe('time between two steps of the ramp, counted from first-seen; @default 6h'),
  prefetchWindow: z.string().regex(windowRe, 'HH:MM-HH:MM, e.g. 01:00-05:00 (local time; may wrap midnight)').optional().describe('hours of the day (local time) when pulls may happen; @default any time'),
  control: z.boolean().optional().describe('read the control document REPO:TAG.rollout (pause, block digests, force a step) at every check (one free HEAD); @default false'),
};

/** Per-image override (`images[].rollout`). */
export const rolloutImageField = z.strictObject(PolicyFields).optional().describe('this image\'s rollout policy; default: the global rollout:');

const Rollout = z.strictObject({
  deviceId: z.string().min(1).max(256).optional().describe('the id splay, jitter and cohorts derive from; default: /etc/machine-id, else the host name'),
  machineIdFile: z.string().default('/etc/machine-id').describe('where the machine id is read from'),
  seed: z.string().max(256).default('').describe('mixed into every cohort hash; change it to reshuffle the cohorts of the whole fleet'),
  ...PolicyFields,
});

/** The field as `config/schema.ts` embeds it. */
export const rolloutField = Rollout.nullish()
  .transform((v) => v ?? Rollout.parse({}))
  .describe('staged rollout without a server: device id, cooldown, ramp of cohorts, prefetch window, control document (docs/rollout.md)');

type RolloutConfig = z.infer<typeof rolloutField>;
type ImageRollout = z.infer<typeof rolloutImageField>;

/** Whether a policy changes anything (else the check path skips the rollout hook). */
export function isGated(p: RolloutPolicy & { readonly control: boolean }): boolean {
  return p.cooldownMs > 0 || p.window !== undefined || p.control || p.steps.some((s) => s < 1);
}

/** The policy of one image: its override over the global one over the defaults. */
export function rolloutPolicyOf(global: RolloutConfig, image: ImageRollout): RolloutPolicy & { readonly control: boolean } {
  const pick = <K extends keyof typeof PolicyFields>(k: K): NonNullable<ImageRollout>[K] => image?.[k] ?? global[k];
  const steps = (pick('steps') ?? ['100%']).map((s) => (typeof s === 'number' ? s : Number.parseFloat(s)) / 100).sort((a, b) => a - b);
  if (steps.at(-1) !== 1) steps.push(1);
  const w = pick('prefetchWindow');
  const m = w === undefined ? null : windowRe.exec(w);
  return {
    cooldownMs: rolloutDurationMs(pick('cooldown') ?? 0),
    steps,
    stepEveryMs: rolloutDurationMs(pick('stepEvery') ?? '6h'),
    window: m === null ? undefined : { startMinute: Number(m[1]) * 60 + Number(m[2]), endMinute: Number(m[3]) * 60 + Number(m[4]) },
    seed: global.seed,
    control: pick('control') ?? false,
  };
}
