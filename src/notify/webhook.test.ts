/**
 * The webhook sink and the durable outbox against a real HTTP receiver on loopback (test/fakes/loopback-server):
 * count, order, signature, retry after a 500 and after a refused connection, a bounded queue, nothing lost
 * across a restart of the notifier, secrets absent from every log line.
 */
import { createHmac } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeLoopbackServers, startLoopbackServer, type LoopbackHandler } from '../../test/fakes/loopback-server.js';
import { createHttpClient, type HttpClient } from '../http/http.js';
import { createLogger } from '../log/logger.js';
import { NotificationsSchema } from './config.js';
import type { NotifierInput } from './derive.js';
import { Notifier } from './notifier.js';
import { outboxFile } from './outbox.js';

const entry = { key: 'reg.test/app:1 linux/arm64', image: 'reg.test/app:1', platform: 'linux/arm64' };
const d = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const pulled = (n: number): NotifierInput => ({ type: 'pulled', entry, indexDigest: d(1000 + n), childDigest: d(n), previous: n > 1 ? d(n - 1) : undefined, at: new Date(Date.UTC(2026, 11, 1, 0, 0, n)).toISOString() });

let dir: string;
let http: HttpClient;
let logs: string[];
const notifiers: Notifier[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'resolver-notify-'));
  http = createHttpClient({ connectTimeoutMs: 1000 });
  logs = [];
});
afterEach(async () => {
  await Promise.all(notifiers.splice(0).map((n) => n.close(1000)));
  await http.close();
  await closeLoopbackServers();
  await rm(dir, { recursive: true, force: true });
});

async function notifier(config: Record<string, unknown>, env: Record<string, string> = {}): Promise<Notifier> {
  const logger = createLogger({ level: 'debug', human: false, write: (t) => void logs.push(t) });
  const n = new Notifier({ stateDir: dir, env, logger, http, host: 'host1', backoff: { firstMs: 20, maxMs: 100 } });
  notifiers.push(n);
  await n.start(NotificationsSchema.parse(config));
  return n;
}

/** Waits (bounded) until `predicate` holds. */
async function until(predicate: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function freePort(): Promise<number> {
  const s = await startLoopbackServer(() => undefined);
  const { port } = s;
  await s.close();
  return port;
}

const ok: LoopbackHandler = (_req, res) => void res.writeHead(204).end();

describe('webhook', () => {
  it('delivers every change once, in order, signed with HMAC-SHA256 over the raw body', async () => {
    const receiver = await startLoopbackServer(ok);
    await writeFile(join(dir, 'hmac'), 'k3y-from-a-file\n');
    const n = await notifier({ webhooks: [{ name: 'ops', url: `${receiver.url}/hook`, secret: { file: join(dir, 'hmac') }, headers: { 'X-Team': 'infra' } }] });
    for (let i = 1; i <= 5; i++) {
      n.observe(pulled(i));
      n.observe({ type: 'checked', entry, indexDigest: d(1000 + i), childDigest: d(i), at: 'later' });
    }
    expect(await n.flush(10_000)).toEqual({ ops: 0 });
    expect(receiver.requests).toHaveLength(5);
    const bodies = receiver.requests.map((r) => JSON.parse(r.body.toString()) as { event: string; newDigest: string; id: string });
    expect(bodies.map((b) => b.newDigest)).toEqual([1, 2, 3, 4, 5].map(d));
    for (const [i, r] of receiver.requests.entries()) {
      expect(r.method).toBe('POST');
      expect(r.url).toBe('/hook');
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['x-resolver-event']).toBe('pulled');
      expect(r.headers['x-resolver-delivery']).toBe(bodies[i]?.id);
      expect(r.headers['x-team']).toBe('infra');
      expect(r.headers['x-resolver-signature']).toBe(`sha256=${createHmac('sha256', 'k3y-from-a-file').update(r.body).digest('hex')}`);
    }
  });

  it('retries after a 500, keeping the order and the delivery id', async () => {
    let failures = 2;
    const receiver = await startLoopbackServer((_req, res) => {
      if (failures-- > 0) res.writeHead(500).end('busy');
      else res.writeHead(200).end();
    });
    const n = await notifier({ webhooks: [{ url: receiver.url }] });
    n.observe(pulled(1));
    n.observe(pulled(2));
    expect(await n.flush(10_000)).toEqual({ 'webhook-1': 0 });
    const seen = receiver.requests.map((r) => (JSON.parse(r.body.toString()) as { newDigest: string }).newDigest);
    expect(seen).toEqual([d(1), d(1), d(1), d(2)]);
    expect(new Set(receiver.requests.slice(0, 3).map((r) => r.headers['x-resolver-delivery'])).size).toBe(1);
    expect(logs.some((l) => l.includes('notification delivery failed; will retry') && l.includes('answered 500: busy'))).toBe(true);
  });

  it('retries after a refused connection until the receiver is up', async () => {
    const port = await freePort();
    const n = await notifier({ webhooks: [{ url: `http://127.0.0.1:${port}/` }] });
    n.observe(pulled(1));
    await until(() => logs.filter((l) => l.includes('will retry')).length >= 2, 'two failed attempts');
    expect(logs.some((l) => l.includes('refused'))).toBe(true);
    const receiver = await startLoopbackServer(ok, { port });
    expect(await n.flush(10_000)).toEqual({ 'webhook-1': 0 });
    expect(receiver.requests).toHaveLength(1);
  });

  it('loses nothing across a restart of the notifier: the queue and the derivation state are persisted', async () => {
    const port = await freePort();
    const config = { webhooks: [{ name: 'ops', url: `http://127.0.0.1:${port}/` }] };
    const first = await notifier(config);
    first.observe(pulled(1));
    first.observe(pulled(2));
    first.observe({ type: 'held', entry, indexDigest: d(7), childDigest: d(2), message: 'gone', available: [], at: 'x' });
    await until(() => logs.some((l) => l.includes('will retry')), 'a failed attempt');
    await first.close(1000);
    const file = JSON.parse(await readFile(join(dir, outboxFile), 'utf8')) as { queues: Record<string, unknown[]> };
    expect(file.queues['ops']).toHaveLength(3);

    const receiver = await startLoopbackServer(ok, { port });
    const second = await notifier(config);
    // The new daemon's first cycle reports the hold again: not a change.
    second.observe({ type: 'held', entry, indexDigest: d(7), childDigest: d(2), message: 'gone', available: [], at: 'y' });
    expect(await second.flush(10_000)).toEqual({ ops: 0 });
    expect(receiver.requests.map((r) => (JSON.parse(r.body.toString()) as { event: string }).event)).toEqual(['pulled', 'pulled', 'held']);
  });

  it('drops a notification the receiver refuses for good (4xx) and goes on', async () => {
    let first = true;
    const receiver = await startLoopbackServer((_req, res) => {
      res.writeHead(first ? 400 : 200).end();
      first = false;
    });
    const n = await notifier({ webhooks: [{ url: receiver.url }] });
    n.observe(pulled(1));
    n.observe(pulled(2));
    expect(await n.flush(10_000)).toEqual({ 'webhook-1': 0 });
    expect(receiver.requests).toHaveLength(2);
    expect(logs.some((l) => l.includes('notification refused by the receiver; dropped'))).toBe(true);
  });

  it('keeps at most maxQueue notifications while the receiver is down (the oldest go)', async () => {
    const port = await freePort();
    const n = await notifier({ webhooks: [{ url: `http://127.0.0.1:${port}/`, maxQueue: 2 }] });
    for (let i = 1; i <= 4; i++) n.observe(pulled(i));
    expect(n.pending()).toEqual({ 'webhook-1': 2 });
    const receiver = await startLoopbackServer(ok, { port });
    await n.flush(10_000);
    expect(receiver.requests.map((r) => (JSON.parse(r.body.toString()) as { newDigest: string }).newDigest)).toEqual([d(3), d(4)]);
    expect(logs.filter((l) => l.includes('notification queue full; dropped the oldest'))).toHaveLength(2);
  });

  it('sends an ntfy-style templated body with templated headers', async () => {
    const receiver = await startLoopbackServer(ok);
    const n = await notifier({ webhooks: [{ url: `${receiver.url}/resolver-alerts`, template: '{{text}}', headers: { Title: 'resolver {{event}} {{image}}', Tags: 'package' } }] });
    n.observe(pulled(1));
    await n.flush(10_000);
    const [r] = receiver.requests;
    expect(r?.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(r?.headers['title']).toBe('resolver pulled reg.test/app:1');
    expect(r?.body.toString()).toBe(`reg.test/app:1 (linux/arm64): new child pulled, (none) → ${d(1).slice(0, 19)}`);
  });

  it('reads URL and header secrets from systemd credentials and never logs them', async () => {
    const port = await freePort();
    const creds = join(dir, 'creds');
    await import('node:fs/promises').then((fs) => fs.mkdir(creds));
    await writeFile(join(creds, 'gotify-url'), `http://user:pa55word@127.0.0.1:${port}/message?token=T0KEN-canary-1\n`);
    await writeFile(join(creds, 'bearer'), 'Bearer canary-2-bearer');
    const n = await notifier(
      { webhooks: [{ name: 'gotify', url: { credential: 'gotify-url' }, headers: { Authorization: { credential: 'bearer' } }, template: '{"title": {{json title}}, "message": {{json text}}, "priority": 5}', contentType: 'application/json' }] },
      { CREDENTIALS_DIRECTORY: creds },
    );
    n.observe(pulled(1));
    await until(() => logs.filter((l) => l.includes('will retry')).length >= 2, 'failed attempts');
    const receiver = await startLoopbackServer((_req, res) => void res.writeHead(200).end('echo T0KEN-canary-1'), { port });
    await n.flush(10_000);
    const [r] = receiver.requests;
    expect(r?.url).toBe('/message?token=T0KEN-canary-1');
    expect(r?.headers.authorization).toBe('Bearer canary-2-bearer');
    expect(JSON.parse(r?.body.toString() ?? '')).toMatchObject({ title: 'resolver: pulled reg.test/app:1', priority: 5 });
    const all = logs.join('');
    expect(all).toContain('gotify');
    for (const canary of ['T0KEN-canary-1', 'canary-2-bearer', 'pa55word']) expect(all).not.toContain(canary);
  });

  it('names the file when a secret cannot be read, and leaves that sink out', async () => {
    await notifier({ webhooks: [{ url: { file: join(dir, 'missing') } }] });
    expect(logs.join('')).toContain(`cannot read ${join(dir, 'missing')} (ENOENT)`);
  });
});
