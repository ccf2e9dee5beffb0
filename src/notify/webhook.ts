/**
 * The webhook sink: POSTs the JSON document of config/notification.schema.json (or a template's text, for
 * ntfy, Gotify and the like) through the project's one HTTP stack (src/http, undici). With a `secret`, the
 * header `X-Resolver-Signature: sha256=<hex>` carries HMAC-SHA256(secret, raw body), as GitHub's
 * `X-Hub-Signature-256`. Every request also carries `X-Resolver-Event` and `X-Resolver-Delivery` (the
 * notification id, stable across retries). 2xx is delivered; 408, 425, 429, 5xx and network errors are
 * retried by the outbox; any other status is refused for good. Logs and errors name the sink and its URL
 * without userinfo, query or (for a URL read from a file or credential) path.
 */
import { createHmac } from 'node:crypto';
import { ResolverError, redactUrl } from '../errors.js';
import type { HttpClient } from '../http/http.js';
import { sanitizeRemoteText } from '../http/remote-text.js';
import type { Secret } from '../secret/secret.js';
import type { WebhookConfig } from './config.js';
import { durationMs, urlProblem, webhookProtocols } from './config.js';
import { notificationBody, templateValues, type Notification } from './notification.js';
import { PermanentDeliveryError, type Sink } from './outbox.js';
import { resolveSecret, type Redactor } from './secrets.js';
import { headerSafe, renderTemplate } from './template.js';

/** The signature header. */
export const signatureHeader = 'x-resolver-signature';

/** `sha256=<hex>` of HMAC-SHA256(key, body): what a receiver recomputes to verify. */
export function sign(key: string, body: string | Uint8Array): string {
  return `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;
}

/** The statuses worth retrying. */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/** What a webhook sink needs. */
export interface WebhookDeps {
  readonly http: HttpClient;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly redactor: Redactor;
  readonly host: string;
  readonly userAgent?: string;
}

/** A webhook with its secrets read. @throws ResolverError ERR_CONFIG_INVALID when a secret cannot be read. */
export async function createWebhookSink(config: WebhookConfig, name: string, deps: WebhookDeps): Promise<Sink & { readonly where: string }> {
  const url = await resolveSecret(config.url, `notifications webhook ${name} url`, deps.env, deps.redactor);
  const problem = urlProblem(url.value.reveal(), webhookProtocols);
  if (problem !== undefined) throw new ResolverError('ERR_CONFIG_INVALID', `notifications webhook ${name} url: ${problem}`);
  const target = new URL(url.value.reveal());
  // A URL from a file or credential may hold its token in the path (ntfy topics, Telegram bots): show the origin only.
  const where = url.secret ? `${target.origin}/…` : redactUrl(target);
  if (target.username !== '') deps.redactor.add(decodeURIComponent(target.username));
  if (target.password !== '') deps.redactor.add(decodeURIComponent(target.password));
  for (const value of target.searchParams.values()) deps.redactor.add(value);
  const headers: [string, Secret, boolean][] = [];
  for (const [header, source] of Object.entries(config.headers)) {
    const v = await resolveSecret(source, `notifications webhook ${name} header ${header}`, deps.env, deps.redactor);
    headers.push([header.toLowerCase(), v.value, v.secret]);
  }
  const key = config.secret === undefined ? undefined : (await resolveSecret(config.secret, `notifications webhook ${name} secret`, deps.env, deps.redactor)).value;
  if (key !== undefined) deps.redactor.add(key.reveal());
  const kinds = config.events === undefined ? undefined : new Set<string>(config.events);
  const timeoutMs = durationMs(config.timeout);
  const contentType = config.contentType ?? (config.template === undefined ? 'application/json' : 'text/plain; charset=utf-8');

  return {
    name,
    kind: 'webhook',
    where,
    accepts: (kind) => kind === 'test' || kinds === undefined || kinds.has(kind),
    async deliver(n: Notification, signal: AbortSignal) {
      const doc = notificationBody(n, deps.host);
      const values = templateValues(doc);
      const body = config.template === undefined ? JSON.stringify(doc) : renderTemplate(config.template, values);
      const sent: Record<string, string> = { 'content-type': contentType, 'x-resolver-event': n.kind, 'x-resolver-delivery': n.id };
      for (const [h, v, secret] of headers) sent[h] = secret ? v.reveal() : headerSafe(renderTemplate(v.reveal(), values));
      if (key !== undefined) sent[signatureHeader] = sign(key.reveal(), body);
      let res;
      try {
        res = await deps.http.send({ method: config.method, url: target, headers: sent, body, signal, deadlineMs: timeoutMs, maxBytes: 64 * 1024, followRedirects: false });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        // eslint-disable-next-line preserve-caught-error -- the cause may hold the secret URL; the redacted message says it all
      throw new Error(deps.redactor.redact(`${where}: ${message}`));
      }
      if (res.status >= 200 && res.status < 300) return;
      const text = deps.redactor.redact(sanitizeRemoteText(res.body.toString('utf8', 0, Math.min(res.body.length, 1000)), 200));
      const message = `${where} answered ${res.status}${text === '' ? '' : `: ${text}`}`;
      if (retryableStatus(res.status)) throw new Error(message);
      throw new PermanentDeliveryError(message);
    },
    close: () => Promise.resolve(),
  };
}
