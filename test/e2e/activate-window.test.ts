/**
 * A container's window across a daemon restart (issue 11 §3, docs/activation.md "When"), with the built daemon
 * under libfaketime (its wall clock; monotonic time stays real), a real registry and the private dockerd: a new
 * child is pulled outside the container's `resolver.window`, the daemon is restarted before the window opens (no
 * `pulled` comes again: the child is present), the fake clock moves into the window, and the container is
 * recreated from the new child exactly once. Before, the waiting activation lived in memory and was lost.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient } from '../../src/http/http.js';
import type { BuiltImage } from '../sandbox/oci-builder.js';
import { startRegistry, type RunningRegistry } from '../sandbox/registry-server.js';
import { arm, healthcheck, publishStable, runnable as runnableImage } from './activation-images.js';
import { fakeClock, messages, poller, startDaemon, type DaemonProcess } from './daemon-process.js';
import { containersNamed, engineApi, imageIdOf, removeContainersNamed, type EngineApi } from './engine-api.js';

const s = inject('services');
const dockerHost = s.engine;
const faketime = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const http = createHttpClient();
let dir = '';
let registry: RunningRegistry;
let api: EngineApi;
const name = 'actw-web';

const runnable = (label: string): Promise<BuiltImage> => runnableImage(label, ': > /tmp/healthy; exec sleep 3600', { config: { Healthcheck: healthcheck } });
const publish = (children: BuiltImage[]): Promise<string> => publishStable(http, registry.host, 'actw/app', children);

type Running = DaemonProcess;
/** The daemon under libfaketime, its wall clock read from `clock`, in UTC (the window is in UTC). */
const daemonAt = (config: string, clock: string): Running => startDaemon(config, { TZ: 'UTC', ...fakeClock(clock, faketime) });
const until = poller({ timeoutMs: 60_000, everyMs: 150 });
const named = (n: string): ReturnType<typeof containersNamed> => containersNamed(api, n);
const imageId = (ref: string): Promise<string | undefined> => imageIdOf(api, ref);
const hhmm = (ms: number): string => new Date(ms).toISOString().slice(11, 16);

beforeAll(async () => {
  if (dockerHost === undefined) return;
  dir = await mkdtemp(join(s.tmp, 'activate-window-'));
  registry = await startRegistry({ dir: join(dir, 'registry'), auth: { kind: 'none' } });
  api = engineApi(dockerHost);
  await removeContainersNamed(api, name);
});
afterAll(async () => {
  if (dockerHost === undefined) return;
  await removeContainersNamed(api, name);
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
    const first = daemonAt(config, clock);
    let second: Running | undefined;
    try {
      // The first check records v1 (pulled, or recorded as already present); the container is created from it.
      await until('the first child recorded', () => messages(first, 'pulled a new child')[0] ?? messages(first, 'child already present; recorded')[0]);
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
      second = daemonAt(config, clock);
      const d2 = second;
      await until('the resumed activation', () => messages(d2, 'activation: resuming an activation that waits for its window (kept across the restart)')[0]);
      const checks = messages(d2, 'checked').length;
      await until('two checks', () => messages(d2, 'checked').length >= checks + 2);
      // The child is present: the restarted daemon pulls nothing and hears no `pulled`; the container stays.
      expect([...messages(d2, 'pulled a new child'), ...messages(d2, 'child already present; recorded')]).toEqual([]);
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
