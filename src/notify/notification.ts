/**
 * What a sink receives: one notification per change (derive.ts decides when), and the JSON document a
 * webhook POSTs (its JSON Schema is config/notification.schema.json, generated from `NotificationBody` and
 * checked by notification.test.ts). Pure.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { notificationKinds, type NotificationKind } from './config.js';
import type { TemplateField } from './template.js';

/** One notification. Digests are `sha256:…`; absent fields do not apply to the kind. */
export interface Notification {
  readonly kind: NotificationKind;
  /** Stable across retries and restarts: receivers may de-duplicate on it (header X-Resolver-Delivery). */
  readonly id: string;
  readonly at: string;
  readonly image: string;
  readonly platform: string;
  /** The child this platform had before (`pulled`), or the one kept (`held`). */
  readonly oldDigest?: string | undefined;
  /** The child now pulled (`pulled`, `platform-back`, `activated`). */
  readonly newDigest?: string | undefined;
  readonly indexDigest?: string | undefined;
  /** Bytes of the new child, when the daemon knows them. */
  readonly size?: number | undefined;
  readonly message?: string | undefined;
  readonly code?: string | undefined;
  readonly failures?: number | undefined;
  readonly registry?: string | undefined;
  readonly retryAfterSeconds?: number | undefined;
  /** Removed children (`pruned`). */
  readonly digests?: readonly string[] | undefined;
  /** Platforms the index still lists (`held`). */
  readonly available?: readonly string[] | undefined;
  /** The entry's state after this notification (MQTT's retained state message). */
  readonly state: EntryState;
}

/**
 * A state-only update: the entry's state changed (or was not yet published in this daemon's life) without a
 * notification, e.g. the first check of an image already present. Only sinks with a retained state (MQTT) take it.
 */
export interface StateUpdate {
  readonly kind: 'state';
  readonly at: string;
  readonly image: string;
  readonly platform: string;
  readonly state: EntryState;
}

/** An entry's state as notifications see it. */
export interface EntryState {
  readonly status: 'ok' | 'held' | 'failing';
  readonly childDigest?: string | undefined;
  readonly indexDigest?: string | undefined;
  readonly rateLimited: boolean;
}

/** A short digest for text (`sha256:0123456789ab`). */
function short(digest: string | undefined): string {
  return digest === undefined ? '(none)' : digest.slice(0, 19);
}

/** A one-line human summary (the body of ntfy/Gotify messages, `text` in templates). */
export function summary(n: Notification): string {
  const what = `${n.image} (${n.platform})`;
  switch (n.kind) {
    case 'pulled':
      return `${what}: new child pulled, ${short(n.oldDigest)} → ${short(n.newDigest)}`;
    case 'held':
      return `${what}: the index has no child for this platform any more; keeping ${short(n.oldDigest)}`;
    case 'platform-back':
      return `${what}: the platform is back in the index (${short(n.newDigest)})`;
    case 'failed':
      return `${what}: ${n.failures ?? '?'} checks in a row failed: ${n.message ?? n.code ?? 'unknown error'}`;
    case 'recovered':
      return `${what}: checks succeed again after ${n.failures ?? '?'} failures`;
    case 'rate-limited':
      return `${what}: ${n.registry ?? 'the registry'} rate-limits us${n.retryAfterSeconds === undefined ? '' : `; retrying in ${n.retryAfterSeconds} s`}`;
    case 'pruned':
      return `${what}: removed ${(n.digests ?? []).length} older child${(n.digests ?? []).length === 1 ? '' : 'ren'}`;
    case 'activated':
      return `${what}: containers now run ${short(n.newDigest)}`;
    case 'rolled-back':
      return `${what}: rolled back to ${short(n.oldDigest)}: ${n.message ?? 'unhealthy'}`;
    case 'test':
      return 'resolver test notification';
  }
}

/** A stable id: the same change always gets the same id. */
export function notificationId(kind: NotificationKind, key: string, discriminator: string): string {
  return createHash('sha256').update(`${kind}\n${key}\n${discriminator}`).digest('hex').slice(0, 32);
}

const Digest = z.string().regex(/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/);

/** The webhook's JSON body, version 1. */
export const NotificationBody = z
  .strictObject({
    version: z.literal(1),
    id: z.string().describe('stable across retries and restarts; de-duplicate on it'),
    event: z.enum([...notificationKinds, 'test']),
    at: z.string().describe('when the daemon saw the change (ISO 8601, UTC)'),
    host: z.string().describe('the daemon host'),
    image: z.string().describe('canonical reference of the tag followed'),
    platform: z.string().describe('the platform followed, e.g. linux/arm/v7'),
    title: z.string(),
    text: z.string().describe('one-line human summary'),
    oldDigest: Digest.optional().describe('child before (pulled), or the child kept (held)'),
    newDigest: Digest.optional().describe('child now (pulled, platform-back, activated)'),
    indexDigest: Digest.optional(),
    size: z.number().int().nonnegative().optional().describe('compressed bytes of the new child (config + layers, as the registry serves them), when the daemon read its manifest: a single-platform tag, or an index\'s child read by the disk preflight; absent when the preflight is off or skipped'),
    message: z.string().optional(),
    code: z.string().optional().describe('the error code (failed), e.g. ERR_NETWORK'),
    failures: z.number().int().nonnegative().optional(),
    registry: z.string().optional(),
    retryAfterSeconds: z.number().nonnegative().optional(),
    digests: z.array(Digest).optional().describe('children removed (pruned)'),
    available: z.array(z.string()).optional().describe('platforms the index lists (held)'),
    state: z.strictObject({
      status: z.enum(['ok', 'held', 'failing']),
      childDigest: Digest.optional(),
      indexDigest: Digest.optional(),
      rateLimited: z.boolean(),
    }),
  })
  .describe('resolver notification (docs/notifications.md)');
export type NotificationBody = z.infer<typeof NotificationBody>;

/** The JSON document a webhook receives. */
export function notificationBody(n: Notification, host: string): NotificationBody {
  const drop = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  return drop({
    version: 1 as const, id: n.id, event: n.kind, at: n.at, host, image: n.image, platform: n.platform, title: `resolver: ${n.kind} ${n.image}`, text: summary(n),
    oldDigest: n.oldDigest, newDigest: n.newDigest, indexDigest: n.indexDigest, size: n.size, message: n.message, code: n.code, failures: n.failures,
    registry: n.registry, retryAfterSeconds: n.retryAfterSeconds, digests: n.digests === undefined ? undefined : [...n.digests],
    available: n.available === undefined ? undefined : [...n.available], state: drop({ ...n.state }),
  });
}

/** The values a template can use. */
export function templateValues(body: NotificationBody): Partial<Record<TemplateField, string | number | readonly string[]>> {
  const { version: _v, state: _s, available: _a, ...fields } = body;
  return fields;
}

/** The JSON Schema of the body (config/notification.schema.json). */
export function notificationJsonSchema(): unknown {
  return z.toJSONSchema(NotificationBody, { target: 'draft-2020-12' });
}
