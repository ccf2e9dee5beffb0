/**
 * The daemon's configuration: a zod schema (strict: unknown keys are errors) that also validates cron
 * strings, references, platforms, addresses and durations, so an error can name the key and the fix, and that
 * rejects configs that would pass but never work (a duplicate entry, a per-second schedule against a remote
 * registry). The JSON Schema in config/resolver.schema.json is generated from its input side. Pure: the cron
 * checker is passed in.
 */
import { z } from 'zod';
import { discoveryField } from '../discover/config.js';
import { durationPattern, durationToMs } from '../duration/duration.js';
import { ResolverError } from '../errors.js';
import { apiConfigSchema } from '../api/config.js';
import { mirrorsField } from '../mirror/config.js';
import { budgetField } from '../budget/config.js';
import { activationField } from '../activate/config.js';
import { rolloutField, rolloutImageField } from '../rollout/config.js';
import { notificationsField } from '../notify/config.js';
import { preflightField } from '../preflight/config.js';
import { prefetchField } from '../prefetch/config.js';
import { formatReference, parseReference, withDefaultTag } from '../reference/reference.js';
import { checkCronFields } from './cron.js';
import { hostnameOf, isLoopbackHostname, listenProblem, platformKey, platformProblem, portProblem } from './values.js';

/** Checks a cron expression; returns a reason when it is invalid. */
export type CronCheck = (expression: string) => string | undefined;

const durationRe = durationPattern;

/** Parses `500ms`, `30s`, `5m`, `1h` (or a number of seconds) into milliseconds (src/duration/). */
export function parseDuration(value: string | number): number {
  const ms = durationToMs(value);
  if (ms === undefined) throw new ResolverError('ERR_CONFIG_INVALID', `"${String(value)}" is not a duration`);
  return ms;
}

/** The longest delay Node's timers can arm (2^31−1 ms, about 24.8 days); longer ones fire at once. */
export const maxDurationMs = 2 ** 31 - 1;

/** At most this many `images` entries (a config of 200,000 was seen to be accepted and then choke the daemon). */
export const maxImages = 10_000;

/** A duration field; `invalid`, when given, words every refusal but a too-long one (a field that accepts more than durations). */
function durationSchema(invalid?: (input: unknown) => string) {
  const error = invalid === undefined ? undefined : { error: (issue: { readonly input?: unknown }) => invalid(issue.input) };
  const tooLong = invalid === undefined ? undefined : { error: (issue: { readonly input?: unknown }) => `${String(issue.input)} s is longer than Node's timers allow (2^31-1 ms, about 24.8 days)` };
  return z
    .union([z.number().nonnegative(error).max(maxDurationMs / 1000, tooLong), z.string().regex(durationRe, error ?? 'a duration such as 30s, 5m or 1h')])
    .superRefine((value, ctx) => {
      if (typeof value === 'string' && durationRe.test(value) && parseDuration(value) > maxDurationMs) {
        ctx.addIssue({ code: 'custom', message: `"${value}" is longer than Node's timers allow (2^31-1 ms, about 24.8 days)` });
      }
    });
}

const Duration = durationSchema();

/** What `splay:` accepts, said whatever the wrong value (a duration's message alone would hide `auto`, the default). */
function splayInvalid(input: unknown): string {
  return `use auto (the default), 0 (off) or a duration such as 30s, 5m or 1h (got ${typeof input === 'string' ? JSON.stringify(input) : String(input)})`;
}

const Splay = z.union([z.literal('auto'), durationSchema(splayInvalid)], { error: (issue) => splayInvalid(issue.input) });

function buildSchema(checkCron: CronCheck) {
  const Cron = z.string().superRefine((value, ctx) => {
    const fields = checkCronFields(value);
    const reason = fields.ok ? checkCron(value) : fields.reason;
    if (reason !== undefined) ctx.addIssue({ code: 'custom', message: `"${value}" is not a valid cron expression (${reason}); use 5 or 6 fields, e.g. "*/15 * * * *"` });
  });
  const PlatformSpec = z.string().superRefine((value, ctx) => {
    const problem = platformProblem(value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });
  const ImageRef = z.string().superRefine((value, ctx) => {
    try {
      parseReference(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
    }
  });
  const MissingPolicy = z.enum(['hold', 'fail']).describe('when the index no longer has a child for the platform: hold keeps the current image; fail records an error');

  const Image = z.strictObject({
    image: ImageRef.describe('the tag to keep pulled, e.g. registry.example.com/app:stable'),
    schedule: Cron.optional().describe('cron for this image (node-cron syntax); default: the global schedule'),
    platform: PlatformSpec.optional().describe('platform for this image; default: the global platform'),
    onMissingPlatform: MissingPolicy.optional(),
    retain: z.number().int().min(0).max(20).optional().describe('previous children to keep for rollback; default: the global retain'),
    rollout: rolloutImageField,
  });

  const Engine = z.strictObject({
    host: z
      .string()
      .regex(/^(unix|tcp):\/\//, 'unix:///path or tcp://host:port')
      .superRefine((value, ctx) => {
        const port = /^tcp:\/\/(?:\[[^\]]*\]|[^:/]*):([^/]*)/.exec(value)?.[1];
        const problem = port === undefined ? undefined : portProblem(port);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `${problem} in "${value}"` });
      })
      .optional()
      .describe('Docker Engine address; default: $DOCKER_HOST, else unix:///var/run/docker.sock'),
  });
  const Registries = z.strictObject({
    insecure: z.array(z.string()).default([]).describe('hosts reached over plain HTTP / unverified TLS (loopback always is)'),
    dockerConfig: z.string().optional().describe('folder holding a docker config.json with credentials; default: $CREDENTIALS_DIRECTORY or $DOCKER_CONFIG'),
  });
  const Metrics = apiConfigSchema(listenProblem);

  return z
    .strictObject({
      // Optional in the file; `engine:` or `registries:` with only comments under them (YAML null) means the defaults.
      engine: Engine.nullish().transform((v) => v ?? {}).describe('Docker Engine connection'),
      schedule: Cron.default('*/15 * * * *').describe('when to check every image (node-cron syntax, 5 or 6 fields)'),
      splay: Splay
        .default('auto')
        .describe("delay before each scheduled run, up to this long, the same for a device and image every time, so a fleet spreads its requests; auto: the schedule's period (the time between two runs), at most 15 min; 0 turns it off (docs/rollout.md)"),
      concurrency: z.number().int().min(1).max(32).default(2).describe('images checked at once'),
      platform: PlatformSpec.optional().describe('target platform for all images; default: detected from the engine'),
      onMissingPlatform: MissingPolicy.default('hold'),
      retain: z.number().int().min(0).max(20).default(1).describe('previous children to keep for rollback (never one a container uses)'),
      registries: Registries.nullish().transform((v) => v ?? Registries.parse({})).describe('registry access'),
      stateDir: z.string().optional().describe('state folder; default: $STATE_DIRECTORY, /var/lib/resolver for root'),
      logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
      metrics: Metrics.nullish().transform((v) => v ?? undefined).describe('the HTTP endpoint (health, metrics, /v1 API), off by default; loopback only unless a token is set'),
      notifications: notificationsField,
      discovery: discoveryField,
      mirrors: mirrorsField,
      budget: budgetField,
      activation: activationField,
      preflight: preflightField,
      prefetch: prefetchField,
      rollout: rolloutField,
      shutdownTimeout: Duration.default('20s').describe('how long SIGTERM waits for in-flight work (keep below TimeoutStopSec)'),
      allowSubMinuteSchedule: z.boolean().default(false).describe('allow schedules that fire more than once a minute against registries that are not on loopback (it burns registry quota on a fleet)'),
      // Required, with at least one entry, unless discovery is on (checked below, where discovery is known).
      images: z.array(Image).max(maxImages, `at most ${maxImages} entries`).optional().describe('the tags to keep pulled (may be empty or absent when discovery: is on)'),
    })
    .superRefine((config, ctx) => {
      if (config.discovery === undefined && config.images === undefined) {
        ctx.addIssue({ code: 'invalid_type', expected: 'array', input: undefined, path: ['images'], message: 'images is missing' });
      } else if (config.discovery === undefined && config.images?.length === 0) {
        ctx.addIssue({ code: 'custom', path: ['images'], message: 'name at least one image to keep pulled (or turn on discovery: to follow labelled containers)' });
      }
      const seen = new Map<string, number>();
      let globalReported = false;
      for (const [i, entry] of (config.images ?? []).entries()) {
        let ref;
        let target: string | undefined;
        try {
          ref = parseReference(entry.image);
          target = platformKey(entry.platform ?? config.platform);
        } catch {
          continue; // Reported on the entry itself.
        }
        const key = `${formatReference(withDefaultTag(ref))} ${target ?? ''}`;
        const first = seen.get(key);
        if (first === undefined) seen.set(key, i);
        else {
          ctx.addIssue({
            code: 'custom',
            path: ['images', i],
            params: { duplicateOf: first },
            message: `duplicate entry: images[${first}] already keeps ${entry.image} pulled for ${target ?? "the engine's platform"}; remove one, or give them different platforms`,
          });
        }
        const schedule = entry.schedule ?? config.schedule;
        const check = checkCronFields(schedule);
        const fires = check.ok ? check.perMinute : 1;
        if (fires > 1 && !config.allowSubMinuteSchedule && !isLoopbackHostname(hostnameOf(ref.domain))) {
          if (entry.schedule === undefined && globalReported) continue;
          globalReported ||= entry.schedule === undefined;
          ctx.addIssue({
            code: 'custom',
            path: entry.schedule === undefined ? ['schedule'] : ['images', i, 'schedule'],
            message: `"${schedule}" checks ${fires} times a minute and ${entry.image} (images[${i}]) is not on a loopback registry: on a fleet that burns registry quota (Docker Hub counts every manifest request); check at most once a minute (5 fields), or set allowSubMinuteSchedule: true`,
          });
        }
      }
    })
    .transform((config) => ({ ...config, images: config.images ?? [], splayMs: config.splay === 'auto' ? undefined : Math.round(parseDuration(config.splay)), shutdownTimeoutMs: Math.round(parseDuration(config.shutdownTimeout)) }));
}

/** The config schema with a cron checker. */
export function configSchema(checkCron: CronCheck) {
  return buildSchema(checkCron);
}

/** A validated config. `splayMs` and `shutdownTimeoutMs` are the durations in milliseconds (`splayMs` undefined: `auto`). */
export type Config = z.infer<ReturnType<typeof buildSchema>>;

/** The JSON Schema of the config file (for editors): the input side, so keys with defaults are optional. */
export function configJsonSchema(): unknown {
  const schema = z.toJSONSchema(buildSchema(() => undefined), { io: 'input', target: 'draft-2020-12' });
  // What the refinement says in words: at least one image, unless discovery is on (an object without enabled: false).
  const discoveryOn = { required: ['discovery'], properties: { discovery: { type: 'object', not: { type: 'object', required: ['enabled'], properties: { enabled: { const: false } } } } } };
  return { ...schema, anyOf: [{ required: ['images'], properties: { images: { type: 'array', minItems: 1 } } }, discoveryOn] };
}
