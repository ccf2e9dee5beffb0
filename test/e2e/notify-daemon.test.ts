/**
 * Notifications from the built daemon against a real registry and the private dockerd: a webhook receiver
 * that is down when the first child is pulled and comes back only after a daemon restart still gets that
 * `pulled`, once; an index rebuilt for other platforms notifies nothing; a new child for this platform sends
 * exactly one `pulled` (old → new), signed; the pulled hook sees the digests in its environment. With Debian's
 * mosquitto: a daemon whose image the engine already has publishes its retained MQTT state, and no event.
 */
import { createHmac } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient } from '../../src/http/http.js';
import { closeLoopbackServers, startLoopbackServer } from '../fakes/loopback-server.js';
import { buildImage, buildIndex, platformObject, type BuiltImage } from '../sandbox/oci-builder.js';
import { Pusher } from '../sandbox/push.js';
import { freePort, startRegistry, type RunningRegistry } from '../sandbox/registry-server.js';
import { poller, startDaemon } from './daemon-process.js';

const s = inject('services');
const dockerHost = s.engine;
const http = createHttpClient();
let dir = '';
let registry: RunningRegistry;

const image = (arch: string, variant: string | undefined, label: string): BuiltImage =>
  buildImage({ platform: { os: 'linux', architecture: arch, ...(variant === undefined ? {} : { variant }) }, files: [{ path: 'v', content: Buffer.from(label) }], format: 'oci', label });

/** Compressed bytes of a child as the registry serves them: its config and layer blobs (the `pulled` event's `size`). */
const bytesOf = (c: BuiltImage): number => c.layers.reduce((n, l) => n + l.bytes.length, c.config.bytes.length);

async function publish(children: BuiltImage[]): Promise<string> {
  const pusher = new Pusher({ http, host: registry.host, repository: 'notify/app' });
  for (const c of children) await pusher.image(c);
  const index = buildIndex(children.map((c) => ({ manifest: c.manifest, platform: platformObject(c.platform) })), 'oci');
  await pusher.manifest(index, 'stable');
  return index.digest;
}

const until = poller({ timeoutMs: 30_000, everyMs: 100 });

beforeAll(async () => {
  dir = await mkdtemp(join(s.tmp, 'notify-daemon-'));
  registry = await startRegistry({ dir: join(dir, 'registry'), auth: { kind: 'none' } });
});
afterAll(async () => {
  await closeLoopbackServers();
  await registry.stop();
  await http.close();
});

describe.runIf(dockerHost !== undefined || process.env['CI'] === 'true')('notifications from the daemon', () => {
  it('a pulled survives a receiver down and a daemon restart; other platforms notify nothing; a new child notifies once', async () => {
    const port = await freePort();
    const stateDir = join(dir, 'state');
    await writeFile(join(dir, 'hmac'), 'daemon-hmac-canary\n');
    const hookOut = join(dir, 'hook.env');
    const config = join(dir, 'resolver.yaml');
    await writeFile(config, `engine:
  host: ${dockerHost ?? ''}
schedule: "*/2 * * * * *"
splay: 0s
stateDir: ${stateDir}
shutdownTimeout: 5s
notifications:
  webhooks:
    - name: ops
      url: http://127.0.0.1:${port}/hook
      secret: { file: ${join(dir, 'hmac')} }
  hooks:
    - command: ["/bin/sh", "-c", "env | grep ^RESOLVER_ | sort >> ${hookOut}"]
      events: [pulled]
images:
  - image: ${registry.host}/notify/app:stable
`);
    const v1amd = image('amd64', undefined, 'amd64 v1');
    const v1arm = image('arm64', 'v8', 'arm64 v1');
    await publish([v1amd, v1arm]);

    // 1. Receiver down: the daemon pulls, the notification waits in the outbox; the daemon stops.
    const first = startDaemon(config, {});
    await until('the first pull', () => first.logs().find((l) => l['msg'] === 'pulled a new child'));
    await until('a failed delivery', () => first.logs().find((l) => l['msg'] === 'notification delivery failed; will retry'));
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const outbox = JSON.parse(await readFile(join(stateDir, 'notify-outbox.json'), 'utf8'));
    expect(outbox.queues.ops).toHaveLength(1);
    expect((await readFile(hookOut, 'utf8')).split('\n')).toEqual(expect.arrayContaining([`RESOLVER_NEW_DIGEST=${v1amd.manifest.digest}`, `RESOLVER_SIZE=${bytesOf(v1amd)}`]));

    // 2. Receiver up, daemon restarted: the queued pulled arrives once (the restart itself pulls nothing new).
    const receiver = await startLoopbackServer((_req, res) => void res.writeHead(204).end(), { port });
    const second = startDaemon(config, {});
    try {
      await until('the queued notification', () => (receiver.requests.length >= 1 ? true : undefined));
      const bodies = (): Record<string, any>[] => receiver.requests.map((r) => JSON.parse(r.body.toString()) as Record<string, any>);
      // The tag is an index: `size` is the child's (config + layers), from the manifest the disk preflight read.
      expect(bodies()).toEqual([expect.objectContaining({ event: 'pulled', newDigest: v1amd.manifest.digest, size: bytesOf(v1amd), platform: expect.stringMatching(/^linux\/amd64/) })]);
      const [r] = receiver.requests;
      expect(r?.headers['x-resolver-signature']).toBe(`sha256=${createHmac('sha256', 'daemon-hmac-canary').update(r?.body ?? '').digest('hex')}`);

      // 3. Only the arm64 child changes: the index moves, this platform's child does not: nothing is sent.
      await publish([v1amd, image('arm64', 'v8', 'arm64 v2')]);
      await until('the index change', () => second.logs().find((l) => l['result'] === 'index-changed'));
      const checks = second.logs().filter((l) => l['result'] === 'unchanged' || l['result'] === 'index-changed').length;
      await until('two more checks', () => (second.logs().filter((l) => l['result'] === 'unchanged').length + 1 >= checks + 2 ? true : undefined));
      expect(receiver.requests).toHaveLength(1);

      // 4. This platform's child changes: exactly one pulled, old → new.
      const v2amd = image('amd64', undefined, 'amd64 v2');
      await publish([v2amd, image('arm64', 'v8', 'arm64 v2')]);
      await until('the second notification', () => (receiver.requests.length >= 2 ? true : undefined));
      const unchangedNow = second.logs().filter((l) => l['result'] === 'unchanged').length;
      await until('two checks after it', () => (second.logs().filter((l) => l['result'] === 'unchanged').length >= unchangedNow + 2 ? true : undefined));
      expect(bodies().map((b) => [b['event'], b['oldDigest'], b['newDigest'], b['size']])).toEqual([
        ['pulled', undefined, v1amd.manifest.digest, bytesOf(v1amd)],
        ['pulled', v1amd.manifest.digest, v2amd.manifest.digest, bytesOf(v2amd)],
      ]);
      const logText = second.logs().map((l) => JSON.stringify(l)).join('\n');
      expect(logText).not.toContain('daemon-hmac-canary');
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });

  it('a daemon whose image is already present publishes its retained MQTT state at once, and nothing on events', async () => {
    const mqttPort = await freePort();
    await writeFile(join(dir, 'mosquitto.conf'), [`listener ${mqttPort} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'user root', ''].join('\n'));
    const broker = spawn('/usr/sbin/mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    const brokerExited = new Promise<void>((r) => broker.once('exit', () => r()));
    const pub = (): boolean => spawnSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mqttPort), '-t', 'probe', '-m', 'x'], { timeout: 2000 }).status === 0;
    await until('the broker', () => (pub() ? true : undefined), 10_000);
    const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(mqttPort), '-t', 'resolver/events', '-t', 'probe', '-v', '-W', '150']);
    let events = '';
    sub.stdout.on('data', (c: Buffer) => (events += c.toString()));
    const yaml = (stateDir: string, mqtt: boolean): string => `engine:
  host: ${dockerHost ?? ''}
schedule: "*/2 * * * * *"
splay: 0s
stateDir: ${stateDir}
shutdownTimeout: 5s
${mqtt ? `notifications:\n  mqtt:\n    url: mqtt://127.0.0.1:${mqttPort}\n    timeout: 3s\n` : ''}images:
  - image: ${registry.host}/notify/present:stable
`;
    try {
      // The subscription is live once a probe published after it arrives.
      await until('the subscription', () => (pub() && events.includes('probe x') ? true : undefined));
      const pusher = new Pusher({ http, host: registry.host, repository: 'notify/present' });
      const children = [image('amd64', undefined, 'present amd64'), image('arm64', 'v8', 'present arm64')];
      for (const c of children) await pusher.image(c);
      await pusher.manifest(buildIndex(children.map((c) => ({ manifest: c.manifest, platform: platformObject(c.platform) })), 'oci'), 'stable');

      // 1. A daemon without notifications puts the image in the engine.
      await writeFile(join(dir, 'present-a.yaml'), yaml(join(dir, 'present-a'), false));
      const a = startDaemon(join(dir, 'present-a.yaml'), {});
      await until('the pull', () => a.logs().find((l) => l['msg'] === 'pulled a new child'));
      a.child.kill('SIGTERM');
      expect(await a.exited).toBe(0);

      // 2. A new daemon (own state folder) with MQTT: the image is present at its child, so no `pulled`; its state is retained.
      await writeFile(join(dir, 'present-b.yaml'), yaml(join(dir, 'present-b'), true));
      const b = startDaemon(join(dir, 'present-b.yaml'), {});
      try {
        const state = await until('the retained state', () => {
          const r = spawnSync('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(mqttPort), '-t', 'resolver/image/#', '-v', '-C', '1', '-W', '2', '--retained-only'], { timeout: 5000 });
          return r.stdout.toString().split('\n').find((l) => l.startsWith('resolver/image/'));
        });
        const [topic, ...rest] = state.split(' ');
        expect(topic).toMatch(/^resolver\/image\/.*notify_present_stable\/linux_amd64[^/]*\/state$/);
        expect(JSON.parse(rest.join(' '))).toMatchObject({ image: `${registry.host}/notify/present:stable`, status: 'ok', childDigest: children[0]?.manifest.digest, event: 'checked' });
        // A few more checks: still nothing on events.
        const checked = (): number => b.logs().filter((l) => l['result'] === 'unchanged').length;
        const now = checked();
        await until('two more checks', () => (checked() >= now + 2 ? true : undefined));
      } finally {
        b.child.kill('SIGTERM');
        await b.exited;
      }
      expect(events.split('\n').filter((l) => l.startsWith('resolver/events '))).toEqual([]);
    } finally {
      sub.kill('SIGTERM');
      broker.kill('SIGTERM');
      await Promise.race([brokerExited, delay(5000)]);
    }
  }, 180_000);
});
