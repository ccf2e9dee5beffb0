/**
 * The MQTT sink against Debian's mosquitto, started here on a free loopback port with its own config (no
 * system service), with a password file: retained per-image state and availability messages as Home Assistant
 * reads them, the password from a systemd credential, delivery after the broker comes back, and
 * `resolver notify test` (the built CLI) publishing to it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient } from '../../src/http/http.js';
import { createLogger } from '../../src/log/logger.js';
import { NotificationsSchema } from '../../src/notify/config.js';
import type { NotifierInput } from '../../src/notify/derive.js';
import { Notifier } from '../../src/notify/notifier.js';
import { cli } from './cli.js';

const entry = { key: 'reg.test/app:1 linux/arm64', image: 'reg.test/app:1', platform: 'linux/arm64' };
const d = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const stateTopic = 'home/resolver/image/reg.test_app_1/linux_arm64/state';

let dir: string;
let port: number;
let broker: ChildProcess | undefined;
const logs: string[] = [];

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const address = s.address();
  await new Promise((r) => s.close(r));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Starts mosquitto and waits (bounded) until it accepts a client. */
async function startBroker(): Promise<void> {
  broker = spawn('/usr/sbin/mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  const end = Date.now() + 10_000;
  for (;;) {
    const r = spawnSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-u', 'ha', '-P', 'ha-pass', '-t', 'probe', '-m', 'x'], { timeout: 2000 });
    if (r.status === 0) return;
    if (Date.now() > end) throw new Error(`mosquitto did not start: ${r.stderr.toString()}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

async function stopBroker(): Promise<void> {
  const b = broker;
  broker = undefined;
  if (b?.exitCode !== null) return;
  await new Promise<void>((r) => {
    b.once('exit', () => r());
    b.kill('SIGTERM');
  });
}

/** Retained messages under `topic` (mosquitto_sub gets them at once on subscribing; -W bounds the wait). */
function retained(topic: string, count: number): Map<string, string> {
  const r = spawnSync('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-u', 'ha', '-P', 'ha-pass', '-t', topic, '-v', '-C', String(count), '-W', '5', '--retained-only'], { timeout: 10_000 });
  const out = new Map<string, string>();
  for (const line of r.stdout.toString().split('\n').filter(Boolean)) {
    const space = line.indexOf(' ');
    out.set(line.slice(0, space), line.slice(space + 1));
  }
  return out;
}

async function until(predicate: () => boolean, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'resolver-mqtt-'));
  port = await freePort();
  spawnSync('mosquitto_passwd', ['-b', '-c', join(dir, 'passwd'), 'ha', 'ha-pass']);
  await writeFile(join(dir, 'mosquitto.conf'), [`listener ${port} 127.0.0.1`, 'allow_anonymous false', `password_file ${join(dir, 'passwd')}`, 'persistence false', 'user root', ''].join('\n'));
  await mkdir(join(dir, 'creds'));
  await writeFile(join(dir, 'creds', 'mqtt-password'), 'ha-pass\n');
  await mkdir(join(dir, 'state'));
  await startBroker();
});
afterAll(async () => {
  await stopBroker();
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => void (logs.length = 0));

async function notifier(): Promise<Notifier> {
  const n = new Notifier({
    stateDir: join(dir, 'state'), env: { CREDENTIALS_DIRECTORY: join(dir, 'creds') }, logger: createLogger({ level: 'debug', human: false, write: (t) => void logs.push(t) }),
    http: createHttpClient(), host: 'pi4', backoff: { firstMs: 50, maxMs: 200 },
  });
  await n.start(NotificationsSchema.parse({ mqtt: { url: `mqtt://127.0.0.1:${port}`, username: 'ha', password: { credential: 'mqtt-password' }, topicPrefix: 'home/resolver', timeout: '3s' } }));
  return n;
}

describe('MQTT sink (mosquitto)', () => {
  it('publishes retained per-image state and availability; a subscriber starting later reads them', async () => {
    const n = await notifier();
    n.observe({ type: 'pulled', entry, indexDigest: d(100), childDigest: d(1), previous: undefined, at: '2026-12-01T00:00:00.000Z' } satisfies NotifierInput);
    n.observe({ type: 'pulled', entry, indexDigest: d(101), childDigest: d(2), previous: d(1), at: '2026-12-01T00:01:00.000Z' } satisfies NotifierInput);
    expect(await n.flush(15_000)).toEqual({ mqtt: 0 });
    const seen = retained('home/resolver/#', 2);
    expect(seen.get('home/resolver/status')).toBe('online');
    expect(JSON.parse(seen.get(stateTopic) ?? '{}')).toMatchObject({ image: 'reg.test/app:1', platform: 'linux/arm64', status: 'ok', childDigest: d(2), indexDigest: d(101), event: 'pulled', host: 'pi4' });

    n.observe({ type: 'held', entry, indexDigest: d(102), childDigest: d(2), message: 'gone', available: ['linux/amd64'], at: '2026-12-01T00:02:00.000Z' } satisfies NotifierInput);
    await n.flush(15_000);
    expect(JSON.parse(retained(stateTopic, 1).get(stateTopic) ?? '{}')).toMatchObject({ status: 'held', childDigest: d(2), event: 'held' });
    await n.close(2000);
    // A clean stop says offline (the broker's last will says it after a crash).
    expect(retained('home/resolver/status', 1).get('home/resolver/status')).toBe('offline');
    expect(logs.join('')).not.toContain('ha-pass');
  });

  it('an image already present gets its retained state after the first check, with no events message; unchanged checks publish nothing', async () => {
    const present = { key: 'reg.test/present:1 linux/arm64', image: 'reg.test/present:1', platform: 'linux/arm64' };
    const topic = 'home/resolver/image/reg.test_present_1/linux_arm64/state';
    // Everything on events from here on (mosquitto_sub prints the retained status first, so we know it is subscribed).
    const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-u', 'ha', '-P', 'ha-pass', '-t', 'home/resolver/status', '-t', 'home/resolver/events', '-v', '-W', '30']);
    let received = '';
    sub.stdout.on('data', (c: Buffer) => (received += c.toString()));
    try {
      await until(() => received.startsWith('home/resolver/status '), 'the subscription');
      const n = await notifier();
      // What the daemon emits for a tag the engine already has at its current child (no `pulled` notification).
      n.observe({ type: 'pulled', entry: present, indexDigest: d(200), childDigest: d(20), previous: undefined, wasPresent: true, at: '2026-12-01T01:00:00.000Z' } satisfies NotifierInput);
      n.observe({ type: 'checked', entry: present, indexDigest: d(200), childDigest: d(20), at: '2026-12-01T01:00:01.000Z' } satisfies NotifierInput);
      expect(await n.flush(15_000)).toEqual({ mqtt: 0 });
      // A subscriber connecting afterwards gets it at once.
      expect(JSON.parse(retained(topic, 1).get(topic) ?? '{}')).toEqual({ image: 'reg.test/present:1', platform: 'linux/arm64', status: 'ok', childDigest: d(20), indexDigest: d(200), rateLimited: false, event: 'checked', at: '2026-12-01T01:00:00.000Z', host: 'pi4' });
      // Unchanged checks queue nothing (no per-cycle republishing); an index change without a notification republishes.
      n.observe({ type: 'checked', entry: present, indexDigest: d(200), childDigest: d(20), at: '2026-12-01T01:01:00.000Z' } satisfies NotifierInput);
      expect(n.pending()).toEqual({ mqtt: 0 });
      n.observe({ type: 'checked', entry: present, indexDigest: d(201), childDigest: d(20), at: '2026-12-01T01:02:00.000Z' } satisfies NotifierInput);
      expect(n.pending()).toEqual({ mqtt: 1 });
      expect(await n.flush(15_000)).toEqual({ mqtt: 0 });
      expect(JSON.parse(retained(topic, 1).get(topic) ?? '{}')).toMatchObject({ status: 'ok', indexDigest: d(201), event: 'checked', at: '2026-12-01T01:02:00.000Z' });
      await n.close(2000);
      // The state was the only thing published: nothing on events.
      expect(received.split('\n').filter((l) => l.startsWith('home/resolver/events '))).toEqual([]);
    } finally {
      sub.kill('SIGTERM');
    }
  });

  it('keeps what the broker could not take and delivers it when the broker is back', async () => {
    const n = await notifier();
    await stopBroker();
    n.observe({ type: 'platform-back', entry, childDigest: d(2), at: '2026-12-01T00:03:00.000Z' } satisfies NotifierInput);
    await until(() => logs.some((l) => l.includes('will retry')), 'a failed publish');
    expect(n.pending()).toEqual({ mqtt: 1 });
    await startBroker();
    expect(await n.flush(20_000)).toEqual({ mqtt: 0 });
    // persistence false: the retained state comes from this delivery, not from before the restart.
    expect(JSON.parse(retained(stateTopic, 1).get(stateTopic) ?? '{}')).toMatchObject({ status: 'ok', event: 'platform-back' });
    await n.close(2000);
  });

  it('resolver notify test publishes a test event and reports ok; a wrong password is reported, exit 1', async () => {
    // Subscribed once the retained status arrives; then the CLI's own "online" and the test event.
    const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-u', 'ha', '-P', 'ha-pass', '-t', 'home/resolver/status', '-t', 'home/resolver/events', '-v', '-C', '3', '-W', '20']);
    let received = '';
    sub.stdout.on('data', (c: Buffer) => (received += c.toString()));
    await until(() => received.startsWith('home/resolver/status '), 'the subscription');
    const config = join(dir, 'resolver.yaml');
    const yaml = (password: string): string =>
      [`images: [{ image: 127.0.0.1:1/app:1 }]`, `stateDir: ${join(dir, 'cli-state')}`, 'notifications:', '  mqtt:', `    url: mqtt://127.0.0.1:${port}`, '    username: ha', `    password: { file: ${join(dir, password)} }`, '    topicPrefix: home/resolver', '    timeout: 3s', ''].join('\n');
    await writeFile(join(dir, 'good'), 'ha-pass');
    await writeFile(join(dir, 'bad'), 'wrong-pass-canary');
    await writeFile(config, yaml('good'));
    const ok = await cli(['notify', 'test', '--config', config, '--json']);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual([expect.objectContaining({ sink: 'mqtt', kind: 'mqtt', ok: true })]);
    await new Promise<void>((r) => (sub.exitCode === null ? sub.once('exit', () => r()) : r()));
    const event = received.split('\n').find((l) => l.startsWith('home/resolver/events ')) ?? '';
    expect(JSON.parse(event.slice('home/resolver/events '.length))).toMatchObject({ event: 'test', version: 1 });

    await writeFile(config, yaml('bad'));
    const bad = await cli(['notify', 'test', '--config', config]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/mqtt +mqtt +mqtt:\/\/127\.0\.0\.1:\d+ +failed: .*(Not authorized|Bad username or password)/i);
    expect(bad.stdout + bad.stderr).not.toContain('wrong-pass-canary');
  });
});
