import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { NotificationsSchema } from './config.js';
import { createMqttSink } from './mqtt.js';
import type { Notification } from './notification.js';
import { Redactor } from './secrets.js';

const state = { status: 'ok', childDigest: 'sha256:c', rateLimited: false } as const;
const pulled: Notification = { kind: 'pulled', id: 'n1', at: '2026-12-01T11:00:00.000Z', image: 'reg/app:1', platform: 'linux/arm64', oldDigest: 'sha256:a', newDigest: 'sha256:c', state };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** A broker that accepts the TCP connection and never answers CONNECT (a hung broker). */
async function silentBroker(): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => sockets.add(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return `mqtt://127.0.0.1:${address.port}`;
}

describe('the MQTT sink', () => {
  it('a delivery whose signal has already aborted is cancelled at once, not left to the connect deadline', async () => {
    const url = await silentBroker();
    const config = NotificationsSchema.parse({ mqtt: { url, timeout: '1s' } }).mqtt;
    if (config === undefined) throw new Error('no mqtt config');
    const sink = await createMqttSink(config, { env: {}, redactor: new Redactor(), host: 'host1' });
    cleanups.push(() => sink.close());
    const stopped = new AbortController();
    stopped.abort();
    // Before, the listener added to an already-aborted signal never fired: the attempt waited for the
    // broker until mqtt's own connect timeout ("URL: connack timeout").
    await expect(sink.deliver(pulled, stopped.signal)).rejects.toThrow(`${url}: connecting to ${url} cancelled`);
  });
});
