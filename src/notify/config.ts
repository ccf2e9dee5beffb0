/**
 * The `notifications:` fragment of the daemon's config (issue 11 §1, §2): webhooks (generic JSON, or any
 * ntfy/Gotify-style service through a body template), one MQTT broker, and hooks (commands). Secrets (a URL
 * with a token in it, a header value, the HMAC key, the MQTT password) are given as `{ file: PATH }` or
 * `{ credential: NAME }` (systemd's `LoadCredential=`, read from `$CREDENTIALS_DIRECTORY`) — a literal string
 * is accepted for values that are not secret. Pure: nothing here reads a file; `secrets.ts` does.
 * The whole layout is documented in docs/notifications.md.
 */
import { z } from 'zod';
import { durationPattern, durationToMs } from '../duration/duration.js';
import { templateProblem } from './template.js';

/** The notification kinds a sink or hook can subscribe to. `test` is only sent by `resolver notify test`. */
export const notificationKinds = ['pulled', 'held', 'platform-back', 'failed', 'recovered', 'rate-limited', 'pruned', 'activated', 'rolled-back'] as const;
export type NotificationKind = (typeof notificationKinds)[number] | 'test';

/** The events a hook may run on (issue 11 §2). */
export const hookKinds = ['pulled', 'activated', 'held', 'failed', 'platform-back', 'recovered', 'rolled-back'] as const;

const durationRe = durationPattern;

/** `500ms`, `30s`, `5m`, `1h` or a number of seconds, in milliseconds (the grammar of config/schema.ts). */
export function durationMs(value: string | number): number {
  return durationToMs(value) ?? Number.NaN;
}

const Duration = (max: string) =>
  z
    .union([z.number().positive(), z.string().regex(durationRe, 'a duration such as 10s, 5m or 1h')])
    .refine((v) => durationMs(v) <= durationMs(max), { error: `at most ${max}` });

/** A value that may be secret: a literal (not secret), or read from a file or a systemd credential. */
export const SecretSource = z.union([
  z.string(),
  z.strictObject({ file: z.string().min(1).describe('read the value from this file (trailing newline removed)') }),
  z
    .strictObject({ credential: z.string().regex(/^[A-Za-z0-9_.@-]+$/, 'a credential name as in LoadCredential=NAME:PATH').describe('read $CREDENTIALS_DIRECTORY/NAME (systemd LoadCredential=)') }),
]);
export type SecretSource = z.infer<typeof SecretSource>;

/** A literal secret source may still be a URL; a file or credential source is checked once read. */
const urlSource = (protocols: readonly string[]) =>
  SecretSource.superRefine((value, ctx) => {
    if (typeof value !== 'string') return;
    const problem = urlProblem(value, protocols);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });

/** Why `value` is not a URL of one of `protocols` (without echoing its query or userinfo), or undefined. */
export function urlProblem(value: string, protocols: readonly string[]): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'not a URL';
  }
  return protocols.includes(url.protocol) ? undefined : `${url.protocol} is not one of ${protocols.join(' ')}`;
}

/** URL schemes of a webhook and of an MQTT broker. */
export const webhookProtocols = ['http:', 'https:'] as const;
export const mqttProtocols = ['mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'ws:', 'wss:'] as const;

const Template = z.string().superRefine((value, ctx) => {
  const problem = templateProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

const Kinds = z.array(z.enum(notificationKinds)).min(1).optional();
const nameRe = /^[A-Za-z0-9_.-]{1,64}$/;

const Webhook = z.strictObject({
  name: z.string().regex(nameRe, 'letters, digits, _ . - (at most 64)').optional().describe('names the sink in logs, metrics and `notify test`; default: webhook-N'),
  url: urlSource(webhookProtocols).describe('where to POST; a URL holding a token belongs in a file or credential'),
  method: z.enum(['POST', 'PUT']).default('POST'),
  headers: z.record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'an HTTP header name'), SecretSource).default({}).describe('extra headers (values may be {file} or {credential}); templates allowed in literal values'),
  secret: SecretSource.optional().describe('HMAC-SHA256 key: adds X-Resolver-Signature: sha256=<hex of HMAC(body)>'),
  template: Template.optional().describe('body template ({{field}}, {{json field}}); default: the JSON document of config/notification.schema.json'),
  contentType: z.string().optional().describe('Content-Type of a templated body; default application/json, or text/plain for a template'),
  events: Kinds.describe('the kinds sent; default all'),
  timeout: Duration('5m').default('10s').describe('deadline of one delivery attempt'),
  maxQueue: z.number().int().min(1).max(100_000).default(1000).describe('notifications kept while the receiver is down; the oldest is dropped beyond it'),
  maxAge: Duration('720h').default('72h').describe('a notification not delivered for this long is dropped (logged)'),
});

const Mqtt = z.strictObject({
  url: urlSource(mqttProtocols).describe('broker, e.g. mqtt://127.0.0.1:1883 or mqtts://broker:8883'),
  username: SecretSource.optional(),
  password: SecretSource.optional(),
  clientId: z.string().min(1).max(64).optional().describe('default: resolver-<hostname>'),
  topicPrefix: z.string().regex(/^[^#+]+$/, 'no MQTT wildcards (# +)').default('resolver').describe('topics are PREFIX/status, PREFIX/events, PREFIX/image/IMAGE/PLATFORM/state'),
  retain: z.boolean().default(true).describe('retain the per-image state messages (Home Assistant reads them at start)'),
  qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1),
  events: Kinds,
  timeout: Duration('5m').default('10s').describe('deadline to connect and to publish one message'),
  maxQueue: z.number().int().min(1).max(100_000).default(1000),
  maxAge: Duration('720h').default('72h'),
});

const Hook = z.strictObject({
  name: z.string().regex(nameRe).optional().describe('names the hook in logs; default: hook-N'),
  command: z.array(z.string().min(1)).min(1).describe('program and arguments, run without a shell (use ["/bin/sh", "-c", "..."] for one)'),
  events: z.array(z.enum(hookKinds)).min(1).default(['pulled']).describe('events that run it'),
  image: z.string().optional().describe('only for this image (as in images:); default: every image'),
  timeout: Duration('1h').default('60s').describe('then its process group is killed (SIGTERM, SIGKILL 5 s later)'),
});

/** The `notifications:` section. */
export const NotificationsSchema = z
  .strictObject({
    failedAfter: z.number().int().min(1).max(1000).default(3).describe('consecutive failures of an image before `failed` is sent (then `recovered` on its first success)'),
    webhooks: z.array(Webhook).max(32).default([]),
    mqtt: Mqtt.optional(),
    hooks: z.array(Hook).max(64).default([]),
  })
  .superRefine((n, ctx) => {
    const seen = new Set<string>();
    n.webhooks.forEach((w, i) => {
      const name = w.name ?? `webhook-${i + 1}`;
      if (seen.has(name)) ctx.addIssue({ code: 'custom', path: ['webhooks', i, 'name'], message: `another webhook is already named ${name}` });
      seen.add(name);
    });
  });

/** A validated `notifications:` section. */
export type NotificationsConfig = z.infer<typeof NotificationsSchema>;
export type WebhookConfig = NotificationsConfig['webhooks'][number];
export type MqttConfig = NonNullable<NotificationsConfig['mqtt']>;
export type HookConfig = NotificationsConfig['hooks'][number];

/** The fragment as config/schema.ts embeds it: optional, and an empty `notifications:` (YAML null) is no sinks. */
export const notificationsField = NotificationsSchema.nullish()
  .transform((v) => v ?? undefined)
  .describe('webhooks, MQTT and hooks run on pulled/held/failed…; off by default (docs/notifications.md)');
