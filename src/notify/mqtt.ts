/**
 * The MQTT sink (the `mqtt` package, loaded on first use). Topic layout (docs/notifications.md), PREFIX
 * being `topicPrefix` (default `resolver`):
 * - `PREFIX/status`: `online`, retained; the broker publishes the retained last will `offline` when the
 *   daemon goes away, and the daemon publishes `offline` itself on a clean stop (Home Assistant's availability);
 * - `PREFIX/events`: every notification, the webhook's JSON document, not retained;
 * - `PREFIX/image/IMAGE/PLATFORM/state`: the entry's state (status ok, held or failing, child and index digests,
 *   last event), retained, so a subscriber starting later reads it at once; published with each notification,
 *   and without one (`event: "checked"`, nothing on `events`) after the entry's first check outcome in the
 *   daemon's life and whenever the state changes without a notification.
 *   IMAGE and PLATFORM are the reference and platform with every character but `A-Za-z0-9._-` made `_`
 *   (`registry.example.com_app_stable`, `linux_arm_v7`): `/`, `+` and `#` are MQTT syntax.
 * A publish waits for the broker's acknowledgement (QoS 1 by default); while the broker is unreachable the
 * outbox keeps the notification and retries.
 */
import type { IClientOptions, MqttClient } from 'mqtt';
import { ResolverError, redactUrl } from '../errors.js';
import { withDeadline } from '../limit/deadline.js';
import type { MqttConfig } from './config.js';
import { durationMs, mqttProtocols, urlProblem } from './config.js';
import { notificationBody, type EntryState, type Notification, type StateUpdate } from './notification.js';
import type { Sink } from './outbox.js';
import { resolveSecret, type Redactor } from './secrets.js';

/** A topic level made of a reference or platform. */
export function topicLevel(value: string): string {
  return value.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** The topics of a prefix. */
export function mqttTopics(prefix: string): { status: string; events: string; state: (image: string, platform: string) => string } {
  const p = prefix.replace(/\/+$/, '');
  return { status: `${p}/status`, events: `${p}/events`, state: (image, platform) => `${p}/image/${topicLevel(image)}/${topicLevel(platform)}/state` };
}

/** An entry state without its absent fields (as in the webhook body). */
function notificationState(s: EntryState): Record<string, unknown> {
  return Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined));
}

/** What the MQTT sink needs. */
export interface MqttDeps {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly redactor: Redactor;
  readonly host: string;
}

/** `promise`, or a rejection once `ms` passed (`WHAT took longer than S s`) or `signal` aborted (`WHAT cancelled`). */
function within<T>(promise: Promise<T>, ms: number, what: string, signal?: AbortSignal): Promise<T> {
  return withDeadline(promise, ms, {
    what, code: 'ERR_NETWORK', message: `${what} took longer than ${ms / 1000} s`, signal,
    onAbort: () => new ResolverError('ERR_ABORTED', `${what} cancelled`),
  });
}

/** The MQTT sink. @throws ResolverError ERR_CONFIG_INVALID when a secret cannot be read. */
export async function createMqttSink(config: MqttConfig, deps: MqttDeps): Promise<Sink & { readonly where: string }> {
  const url = await resolveSecret(config.url, 'notifications mqtt url', deps.env, deps.redactor);
  const problem = urlProblem(url.value.reveal(), mqttProtocols);
  if (problem !== undefined) throw new ResolverError('ERR_CONFIG_INVALID', `notifications mqtt url: ${problem}`);
  const target = new URL(url.value.reveal());
  if (target.password !== '') deps.redactor.add(decodeURIComponent(target.password));
  const where = redactUrl(target);
  const username = config.username === undefined ? undefined : (await resolveSecret(config.username, 'notifications mqtt username', deps.env, deps.redactor)).value.reveal();
  const password = config.password === undefined ? undefined : (await resolveSecret(config.password, 'notifications mqtt password', deps.env, deps.redactor)).value;
  if (password !== undefined) deps.redactor.add(password.reveal());
  const topics = mqttTopics(config.topicPrefix);
  const timeoutMs = durationMs(config.timeout);
  const kinds = config.events === undefined ? undefined : new Set<string>(config.events);
  let client: MqttClient | undefined;
  let connecting: Promise<MqttClient> | undefined;
  let closed = false;

  const connect = async (signal: AbortSignal): Promise<MqttClient> => {
    if (client?.connected === true) return client;
    if (client !== undefined) throw new Error(`${where}: not connected to the broker (reconnecting)`);
    connecting ??= (async () => {
      const { connectAsync } = await import('mqtt');
      const options: IClientOptions = {
        clientId: config.clientId ?? `resolver-${topicLevel(deps.host)}`,
        connectTimeout: timeoutMs,
        reconnectPeriod: 5000,
        clean: true,
        will: { topic: topics.status, payload: Buffer.from('offline'), qos: 1, retain: true },
        ...(username === undefined ? {} : { username }),
        ...(password === undefined ? {} : { password: password.reveal() }),
      };
      const c = await within(connectAsync(target.toString(), options, false), timeoutMs + 1000, `connecting to ${where}`, signal);
      c.on('error', () => undefined); // Errors surface as failed publishes; the outbox logs them.
      c.on('connect', () => void c.publishAsync(topics.status, 'online', { qos: 1, retain: true }).catch(() => undefined));
      await c.publishAsync(topics.status, 'online', { qos: 1, retain: true });
      if (closed) {
        await c.endAsync(true);
        throw new Error('the notifier is stopping');
      }
      client = c;
      return c;
    })();
    try {
      return await connecting;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      // eslint-disable-next-line preserve-caught-error -- the cause may hold the secret URL; the redacted message says it all
      throw new Error(deps.redactor.redact(`${where}: ${message}`));
    } finally {
      connecting = undefined;
    }
  };

  return {
    name: 'mqtt',
    kind: 'mqtt',
    where,
    accepts: (kind) => kind === 'test' || kinds === undefined || kinds.has(kind),
    async deliver(n: Notification, signal: AbortSignal) {
      const c = await connect(signal);
      const body = notificationBody(n, deps.host);
      try {
        await within(c.publishAsync(topics.events, JSON.stringify(body), { qos: config.qos, retain: false }), timeoutMs, `publishing to ${where}`, signal);
        if (n.kind !== 'test') {
          const state = { image: n.image, platform: n.platform, ...body.state, event: n.kind, eventId: n.id, at: n.at, host: deps.host };
          await within(c.publishAsync(topics.state(n.image, n.platform), JSON.stringify(state), { qos: config.qos, retain: config.retain }), timeoutMs, `publishing to ${where}`, signal);
        }
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        // eslint-disable-next-line preserve-caught-error -- the cause may hold the secret URL; the redacted message says it all
        throw new Error(deps.redactor.redact(message.startsWith(where) ? message : `${where}: ${message}`));
      }
    },
    async publishState(u: StateUpdate, signal: AbortSignal) {
      const c = await connect(signal);
      const state = { image: u.image, platform: u.platform, ...notificationState(u.state), event: 'checked', at: u.at, host: deps.host };
      try {
        await within(c.publishAsync(topics.state(u.image, u.platform), JSON.stringify(state), { qos: config.qos, retain: config.retain }), timeoutMs, `publishing to ${where}`, signal);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        // eslint-disable-next-line preserve-caught-error -- the cause may hold the secret URL; the redacted message says it all
        throw new Error(deps.redactor.redact(message.startsWith(where) ? message : `${where}: ${message}`));
      }
    },
    async close() {
      closed = true;
      const c = client;
      client = undefined;
      if (c === undefined) return;
      if (c.connected) await within(c.publishAsync(topics.status, 'offline', { qos: 1, retain: true }), 2000, 'offline').catch(() => undefined);
      await within(c.endAsync(), 2000, 'closing').catch(() => c.end(true));
    },
  };
}
