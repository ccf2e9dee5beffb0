/**
 * A container's window across a daemon restart (issue 11 §3, docs/activation.md "When"), with the built daemon
 * under libfaketime (its wall clock; monotonic time stays real), a real registry and the private dockerd: a new
 * child is pulled outside the container's `resolver.window`, the daemon is restarted before the window opens (no
 * `pulled` comes again: the child is present), the fake clock moves into the window, and the container is
 * recreated from the new child exactly once. Before, the waiting activation lived in memory and was lost.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient } from '../../src/http/http.js';
import { buildImage, buildIndex, platformObject, type BuiltImage } from '../sandbox/oci-builder.js';
import { Pusher } from '../sandbox/push.js';
import { startRegistry, type RunningRegistry } from '../sandbox/registry-server.js';
import { busyboxRoot } from '../sandbox/samples.js';
import { cliPath } from './cli.js';
import { engineApi, type EngineApi } from './engine-api.js';

const s = inject('services');
const dockerHost = s.engine;
const faketime = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const http = createHttpClient();
let dir = '';
let registry: RunningRegistry;
let api: EngineApi;
const name = 'actw-web';

const ns = (ms: number): number => ms * 1_000_000;
const healthcheck = { Test: ['CMD-SHELL', 'test -f /tmp/healthy'], Interval: ns(300), Timeout: ns(2000), Retries: 2 };

async function runnable(label: string): Promise<BuiltImage> {
  const root = await busyboxRoot();
  return buildImage({
    platform: { os: 'linux', architecture: 'amd64' },
    files: [...root, { path: 'tmp', dir: true, mode: 0o1777 }, { path: 'label', content: Buffer.from(label) }],
    cmd: ['/bin/sh', '-c', ': > /tmp/healthy; exec sleep 3600'], env: ['PATH=/bin'], label, config: { Healthcheck: healthcheck }, format: 'oci',
  });
}
const arm = (label: string): BuiltImage => buildImage({ platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, files: [{ path: 'v', content: Buffer.from(label) }], format: 'oci', label });

async function publish(children: BuiltImage[]): Promise<void> {
  const pusher = new Pusher({ http, host: registry.host, repository: 'actw/app' });
  for (const c of children) await pusher.image(c);
  await pusher.manifest(buildIndex(children.map((c) => ({ manifest: c.manifest, platform: platformObject(c.platform) })), 'oci'), 'stable');
}

interface Running {
  child: ChildProcess;
  logs: () => Record<string, any>[];
  exited: Promise<number | null>;
}
function startDaemon(config: string, clock: string): Running {
  const env = { PATH: process.env['PATH'], HOME: process.env['HOME'], TZ: 'UTC', LD_PRELOAD: faketime, FAKETIME_TIMESTAMP_FILE: clock, FAKETIME_NO_CACHE: '1', DONT_FAKE_MONOTONIC: '1' };
  const child = spawn(process.execPath, [cliPath, 'daemon', '--config', config], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', r));
  return { child, exited, logs: () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>) };
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await delay(150);
  }
}

async function named(n: string): Promise<{ Id: string; Names: string[]; ImageID: string; State: string }[]> {
  const r = await api.get(`/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ name: [n] }))}`);
  return (r.json as { Id: string; Names: string[]; ImageID: string; State: string }[]).filter((c) => c.Names.some((x) => x === `/${n}` || x === `/${n}-resolver-old`));
}

async function imageId(ref: string): Promise<string | undefined> {
  const r = await api.get(`/images/${ref}/json`);
  return r.status === 200 ? (r.json.Id as string) : undefined;
}

const messages = (d: Running, msg: string): Record<string, any>[] => d.logs().filter((l) => l['msg'] === msg);
const hhmm = (ms: number): string => new Date(ms).toISOString().slice(11, 16);

beforeAll(async () => {
  if (dockerHost === undefined) return;
  dir = await mkdtemp(join(s.tmp, 'activate-window-'));
  registry = await startRegistry({ dir: join(dir, 'registry'), auth: { kind: 'none' } });
  api = engineApi(dockerHost);
  for (const c of await named(name)) await api.del(`/containers/${c.Id}?force=1`);
});
afterAll(async () => {
  if (dockerHost === undefined) return;
  for (const c of await named(name)) await api.del(`/containers/${c.Id}?force=1`);
  await api.close();
  await registry.stop();
  await http.close();
});

describe.runIf((dockerHost !== undefined && existsSync(faketime)) || process.env['CI'] === 'true')('a container\'s window across a daemon restart (real dockerd, libfaketime)', () => {
  it('pulled outside the window, daemon restarted, the fake clock reaches the window: recreated from the new child exactly once', { timeout: 240_000 }, async () => {
    const stateDir = join(dir, 'state');
    const config = join(dir, 'resolver.yaml');
    const clock = join(dir, 'faketime');
    await writeFile(clock, '+0');
    // The window opens about two hours from now (UTC: the daemon runs with TZ=UTC) and lasts one hour.
    const start = Math.ceil((Date.now() + 2 * 3_600_000) / 60_000) * 60_000;
    const window = `${hhmm(start)}-${hhmm(start + 3_600_000)}`;
    await writeFile(config, `engine:
  host: ${dockerHost ?? ''}
schedule: "*/2 * * * * *"
splay: 0s
stateDir: ${stateDir}
shutdownTimeout: 5s
activation:
  healthTimeout: 20s
  stableFor: 3s
  stopTimeout: 2s
images:
  - image: ${registry.host}/actw/app:stable
`);
    const ref = `${registry.host}/actw/app:stable`;
    const v1 = await runnable('w1');
    await publish([v1, arm('arm w1')]);
    const first = startDaemon(config, clock);
    let second: Running | undefined;
    try {
      await until('the first pull', () => messages(first, 'pulled a new child')[0]);
      const created = await api.postJson(`/containers/create?name=${name}`, {
        Image: ref, Labels: { 'resolver.follow': 'true', 'resolver.window': window }, HostConfig: { NetworkMode: 'none' },
      });
      expect(await api.post(`/containers/${created.Id}/start`)).toMatchObject({ status: 204 });
      const v1Id = await imageId(`${registry.host}/actw/app@${v1.manifest.digest}`);

      // A new child, pulled outside the window: the activation waits, and is kept in activation.json.
      const v2 = await runnable('w2');
      await publish([v2, arm('arm w1')]);
      await until('the waiting activation', () => messages(first, 'activation: waiting for the container\'s window')[0]);
      const pending = async (): Promise<Record<string, any>> => (JSON.parse(await readFile(join(stateDir, 'activation.json'), 'utf8')) as { pending: Record<string, any> }).pending;
      expect((await pending())[name]).toMatchObject({ newDigest: v2.manifest.digest, previous: v1.manifest.digest, window, image: ref });

      // Restarted before the window.
      first.child.kill('SIGTERM');
      expect(await first.exited).toBe(0);
      expect(messages(first, 'activation: recreating the container from the new child')).toEqual([]);
      second = startDaemon(config, clock);
      const d2 = second;
      await until('the resumed activation', () => messages(d2, 'activation: resuming an activation that waits for its window (kept across the restart)')[0]);
      const checks = messages(d2, 'checked').length;
      await until('two checks', () => messages(d2, 'checked').length >= checks + 2);
      // The child is present: the restarted daemon pulls nothing and hears no `pulled`; the container stays.
      expect(messages(d2, 'pulled a new child')).toEqual([]);
      expect((await named(name)).map((c) => [c.Id, c.ImageID, c.State])).toEqual([[created.Id, v1Id, 'running']]);

      // The fake clock moves into the window: recreated from v2, once.
      await writeFile(clock, `+${Math.ceil((start - Date.now()) / 60_000) + 2}m`);
      await until('the activation in the window', () => messages(d2, 'activation: the new container is healthy; the old one is removed')[0], 120_000);
      const v2Id = await imageId(`${registry.host}/actw/app@${v2.manifest.digest}`);
      const after = await named(name);
      expect(after.map((c) => [c.Names[0], c.ImageID, c.State])).toEqual([[`/${name}`, v2Id, 'running']]);
      const more = messages(d2, 'checked').length;
      await until('three more checks', () => messages(d2, 'checked').length >= more + 3);
      expect(messages(d2, 'activation: recreating the container from the new child')).toHaveLength(1);
      expect((await named(name)).map((c) => c.Id)).toEqual(after.map((c) => c.Id));
      const file = JSON.parse(await readFile(join(stateDir, 'activation.json'), 'utf8'));
      expect(file).toMatchObject({ pending: {}, journal: {} });
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    } catch (error) {
      const lines = [...first.logs(), ...(second?.logs() ?? [])].filter((l) => l['component'] === 'activate' || (l['level'] as number) >= 40);
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n${lines.map((l) => JSON.stringify(l)).join('\n')}`, { cause: error });
    } finally {
      first.child.kill('SIGKILL');
      second?.child.kill('SIGKILL');
    }
  });
});
