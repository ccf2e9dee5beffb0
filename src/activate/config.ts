/**
 * The `activation:` fragment of the daemon's config (issue 11 §3, docs/activation.md): which containers follow
 * their tag besides those labelled `resolver.follow=true`, the default window, and the health rule's bounds.
 * Pure.
 */
import { z } from 'zod';
import { durationPattern, durationToMs } from '../duration/duration.js';
import { parseWindow } from './window.js';

const durationRe = durationPattern;

/** `500ms`, `30s`, `5m`, `1h` or a number of seconds, in milliseconds. */
export function activationDurationMs(value: string | number): number {
  return durationToMs(value) ?? Number.NaN;
}

const Duration = (max: string) =>
  z
    .union([z.number().positive(), z.string().regex(durationRe, 'a duration such as 30s, 5m or 1h')])
    .refine((v) => activationDurationMs(v) <= activationDurationMs(max), { error: `at most ${max}` })
    .transform(activationDurationMs);

const Window = z.string().superRefine((value, ctx) => {
  const w = parseWindow(value);
  if (typeof w === 'string') ctx.addIssue({ code: 'custom', message: w });
});

const nameRe = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const ContainerName = z.string().regex(nameRe, 'a container name as docker allows it ([a-zA-Z0-9][a-zA-Z0-9_.-]*)');

const Followed = z.union([
  ContainerName,
  z.strictObject({
    name: ContainerName.describe('the container name (as `docker ps` shows it)'),
    window: Window.optional().describe('HH:MM-HH:MM, local time; may wrap midnight; default: the global window'),
  }),
]);

const ActivationSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('recreate followed containers when their tag gets a new child for this platform'),
  containers: z.array(Followed).max(1000).default([]).describe('containers that follow their tag by name (besides the label resolver.follow=true)'),
  window: Window.optional().describe('HH:MM-HH:MM local time when containers may be recreated (a label resolver.window overrides it); default: at once'),
  healthTimeout: Duration('1h').default(120_000).describe('how long a new container with a HEALTHCHECK has to become healthy'),
  stableFor: Duration('1h').default(30_000).describe('without a HEALTHCHECK: how long the new container must run without restarting'),
  stopTimeout: Duration('10m').default(10_000).describe("the stop timeout of a container that sets none (docker's default: 10s)"),
});

/** The parsed `activation:` section. */
export type ActivationConfig = z.output<typeof ActivationSchema>;

/** The defaults (no `activation:` section). */
export const defaultActivation: ActivationConfig = ActivationSchema.parse({});

/** The config field: `activation:` may be absent or empty (YAML null): the defaults. */
export const activationField = ActivationSchema.nullish()
  .transform((v) => v ?? defaultActivation)
  .describe('containers that follow their tag: recreated from the new child, health-gated, rolled back when unhealthy (docs/activation.md)');
