/**
 * The daemon's configuration: a zod schema (strict: unknown keys are errors) that also validates cron
 * strings, references and platforms, so an error can name the key and the fix. The JSON Schema in
 * config/resolver.schema.json is generated from it. Pure: the cron checker is passed in.
 */
import { z } from 'zod';
import { ResolverError } from '../errors.js';
import { parsePlatform } from '../platform/platform.js';
import { parseReference } from '../reference/reference.js';

/** Checks a cron expression; returns a reason when it is invalid. */
export type CronCheck = (expression: string) => string | undefined;

const durationRe = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

/** Parses `500ms`, `30s`, `5m`, `1h` (or a number of seconds) into milliseconds. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') return value * 1000;
  const m = durationRe.exec(value.trim());
  if (m === null) throw new ResolverError('ERR_CONFIG_INVALID', `"${value}" is not a duration`);
  const n = Number.parseFloat(m[1] ?? '0');
  const unit = m[2] ?? 's';
  return n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000);
}

const Duration = z.union([z.number().nonnegative(), z.string().regex(durationRe, 'a duration such as 30s, 5m or 1h')]);

function buildSchema(checkCron: CronCheck) {
  const Cron = z.string().superRefine((value, ctx) => {
    const reason = checkCron(value);
    if (reason !== undefined) ctx.addIssue({ code: 'custom', message: `"${value}" is not a valid cron expression (${reason}); use 5 or 6 fields, e.g. "*/15 * * * *"` });
  });
  const PlatformSpec = z.string().superRefine((value, ctx) => {
    try {
      parsePlatform(value, { os: 'linux', architecture: 'amd64', cpuVariant: '' });
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
    }
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
  });

  return z.strictObject({
    engine: z.preprocess((v) => v ?? {}, z.strictObject({
      host: z.string().regex(/^(unix|tcp):\/\//, 'unix:///path or tcp://host:port').optional().describe('Docker Engine address; default: $DOCKER_HOST, else unix:///var/run/docker.sock'),
    })).describe('Docker Engine connection'),
    schedule: Cron.default('*/15 * * * *').describe('when to check every image (node-cron syntax, 5 or 6 fields)'),
    splay: Duration.default('60s').describe('random delay before each run, the same for a host and image every time, so a fleet spreads its requests'),
    concurrency: z.number().int().min(1).max(32).default(2).describe('images checked at once'),
    platform: PlatformSpec.optional().describe('target platform for all images; default: detected from the engine'),
    onMissingPlatform: MissingPolicy.default('hold'),
    retain: z.number().int().min(0).max(20).default(1).describe('previous children to keep for rollback (never one a container uses)'),
    registries: z.preprocess((v) => v ?? {}, z.strictObject({
      insecure: z.array(z.string()).default([]).describe('hosts reached over plain HTTP / unverified TLS (loopback always is)'),
      dockerConfig: z.string().optional().describe('folder holding a docker config.json with credentials; default: $CREDENTIALS_DIRECTORY or $DOCKER_CONFIG'),
    })),
    stateDir: z.string().optional().describe('state folder; default: $STATE_DIRECTORY, /var/lib/resolver for root'),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
    metrics: z.strictObject({
      listen: z.string().regex(/^(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d+$/, 'a loopback address such as 127.0.0.1:9464').describe('serve /healthz and /metrics here'),
    }).optional().describe('loopback HTTP endpoint, off by default'),
    shutdownTimeout: Duration.default('20s').describe('how long SIGTERM waits for in-flight work (keep below TimeoutStopSec)'),
    images: z.array(Image).min(1, 'name at least one image to keep pulled').describe('the tags to keep pulled'),
  });
}

/** The config schema with a cron checker. */
export function configSchema(checkCron: CronCheck) {
  return buildSchema(checkCron);
}

/** A validated config. */
export type Config = z.infer<ReturnType<typeof buildSchema>>;

/** The JSON Schema of the config file (for editors). */
export function configJsonSchema(): unknown {
  return z.toJSONSchema(buildSchema(() => undefined), { io: 'input', target: 'draft-2020-12' });
}
