/**
 * Discovery by label against Podman 4.3's compat API (Debian 12's podman): a labelled container's tag is found
 * through /containers/json, /containers/{id}/json and /images/{id}/json, and `resolver check` checks it and names
 * its source (the harness's Podman); and the built daemon follows Podman's /events stream (a private Podman of
 * this test, so that it can be restarted): a labelled container started later is picked up, one stopped is
 * dropped (`includeStopped: false`), and after the podman service restarts the stream reconnects and a
 * container started then is followed (docs/discovery.md).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient } from '../../src/http/http.js';
import { buildImage, buildIndex, platformObject } from '../sandbox/oci-builder.js';
import { startPodman, type RunningPodman } from '../sandbox/podman.js';
import { Pusher } from '../sandbox/push.js';
import { busyboxRoot } from '../sandbox/samples.js';
import { cli } from './cli.js';
import { poller, startDaemon, type DaemonProcess } from './daemon-process.js';
import { engineApi } from './engine-api.js';

const s = inject('services');
const dockerHost = s.podman;
const http = createHttpClient();
afterAll(() => http.close());

describe.runIf(dockerHost !== undefined && process.arch === 'x64')('discovery by label with Podman', () => {
  it('resolver check follows a labelled container of Podman and says where the entry came from', async () => {
    const repo = 'podman/disc';
    const pusher = new Pusher({ http, host: s.anonymous, repository: repo });
    const img = buildImage({ platform: { os: 'linux', architecture: 'amd64' }, files: [{ path: 'v', content: Buffer.from('podman disc') }], format: 'oci', label: 'podman disc' });
    await pusher.image(img);
    await pusher.manifest(buildIndex([{ manifest: img.manifest, platform: platformObject(img.platform) }], 'oci'), 'stable');
    const ref = `${s.anonymous}/${repo}:stable`;
    const api = engineApi(dockerHost ?? '');
    try {
      expect((await api.post(`/images/create?fromImage=${encodeURIComponent(`${s.anonymous}/${repo}`)}&tag=stable`)).status).toBe(200);
      const created = await api.postJson('/containers/create?name=disc-web', { Image: ref, Cmd: ['/v'], Labels: { 'resolver.enable': 'true' } });
      expect(created.Id, JSON.stringify(created)).toBeDefined();
      const dir = await mkdtemp(join(s.tmp, 'podman-discovery-'));
      const config = join(dir, 'resolver.yaml');
      await writeFile(config, `engine:\n  host: ${dockerHost}\nschedule: "0 0 1 1 *"\nsplay: 0s\nstateDir: ${join(dir, 'state')}\ndiscovery: {}\nimages: []\n`);
      const run = await cli(['check', '--config', config, '--json'], {});
      expect(run.code, run.stderr).toBe(0);
      const images = JSON.parse(run.stdout) as { image: string; platform: string; source: string; state: string }[];
      expect(images.map((i) => [i.image, i.platform.replace(/\/v\d$/, ''), i.state, i.source])).toEqual([[ref, 'linux/amd64', 'ok', 'label of container disc-web']]);
    } finally {
      await api.del('/containers/disc-web?force=true');
      await api.close();
    }
  }, 180_000);
});

type Running = DaemonProcess;
const until = poller({ timeoutMs: 60_000, everyMs: 200 });

const podmanBinary = ['/usr/bin/podman', '/usr/local/bin/podman'].find((p) => existsSync(p));

describe.runIf((podmanBinary !== undefined && process.getuid?.() === 0 && process.arch === 'x64') || process.env['CI'] === 'true')('discovery by label with Podman: the events stream (built daemon)', () => {
  it('a container started later is picked up, one stopped is dropped, and the stream reconnects after the podman service restarts', async () => {
    const dir = await mkdtemp(join(s.tmp, 'podman-events-'));
    // Podman refuses a run root longer than 50 characters: its folder is a short one of its own.
    const podmanDir = await mkdtemp('/tmp/pe-');
    const start = (): Promise<RunningPodman> => startPodman({ binary: podmanBinary ?? 'podman', dir: podmanDir, insecureRegistries: ['127.0.0.1', 'localhost'] });
    let podman = await start();
    let api = engineApi(podman.dockerHost);
    const repo = 'podman/events';
    const root = await busyboxRoot();
    const img = buildImage({ platform: { os: 'linux', architecture: 'amd64' }, files: root, cmd: ['/bin/sleep', '3600'], format: 'oci', label: 'podman events' });
    const pusher = new Pusher({ http, host: s.anonymous, repository: repo });
    await pusher.image(img);
    await pusher.manifest(buildIndex([{ manifest: img.manifest, platform: platformObject(img.platform) }], 'oci'), 'stable');
    const ref = `${s.anonymous}/${repo}:stable`;
    let daemon: Running | undefined;
    const run = async (name: string): Promise<string> => {
      const created = await api.postJson(`/containers/create?name=${name}`, { Image: ref, Labels: { 'resolver.enable': 'true' } });
      expect(created.Id, JSON.stringify(created)).toBeDefined();
      const started = await api.post(`/containers/${name}/start`);
      expect(started.status, started.text).toBe(204);
      return created.Id as string;
    };
    try {
      expect((await api.post(`/images/create?fromImage=${encodeURIComponent(`${s.anonymous}/${repo}`)}&tag=stable`)).status).toBe(200);
      const stateDir = join(dir, 'state');
      const config = join(dir, 'resolver.yaml');
      // resync 24h: nothing but the events stream (and its reconnection's re-list) can bring a change in.
      await writeFile(config, `engine:\n  host: ${podman.dockerHost}\nschedule: "0 0 1 1 *"\nsplay: 0s\nstateDir: ${stateDir}\nshutdownTimeout: 5s\ndiscovery:\n  includeStopped: false\n  debounce: 500ms\n  resync: 24h\nimages: []\n`);
      daemon = startDaemon(config);
      const d = daemon;
      const sources = async (): Promise<string[]> => {
        const r = await cli(['status', '--config', config, '--json']);
        if (r.code !== 0) return ['?'];
        return ((JSON.parse(r.stdout) as { images?: { image: string; source?: string }[] }).images ?? []).filter((i) => i.image === ref).map((i) => i.source ?? 'config');
      };
      await until('the daemon running', () => d.logs().find((l) => l['msg'] === 'daemon started'));
      expect(await sources()).toEqual([]);

      // Started after the daemon: picked up from the stream and checked.
      const t0 = Date.now();
      await run('ev-web');
      await until('ev-web followed', async () => ((await sources()).join() === 'label of container ev-web' ? true : undefined), 60_000);
      await until('ev-web checked', () => d.logs().find((l) => l['image'] === ref && (l['msg'] === 'checked' || l['msg'] === 'pulled a new child' || l['msg'] === 'child already present; recorded')), 60_000);
      const pickedUp = Date.now() - t0;

      // Stopped: dropped (only running containers count here).
      const t1 = Date.now();
      expect((await api.post('/containers/ev-web/stop?t=1')).status).toBe(204);
      await until('ev-web dropped', async () => ((await sources()).length === 0 ? true : undefined), 60_000);
      const dropped = Date.now() - t1;

      // The podman service restarts: the stream is lost, comes back, and a container started then is followed.
      await api.close();
      await podman.stop();
      await until('the stream loss logged', () => d.logs().find((l) => l['msg'] === 'lost the engine events stream; reconnecting'), 60_000);
      podman = await start();
      api = engineApi(podman.dockerHost);
      const t2 = Date.now();
      await until('the stream back', () => d.logs().find((l) => l['msg'] === 'events stream reconnected'), 90_000);
      const reconnected = Date.now() - t2;
      await run('ev-after');
      await until('ev-after followed', async () => ((await sources()).join() === 'label of container ev-after' ? true : undefined), 60_000);
      process.stdout.write(`podman events e2e: a started container followed ${pickedUp} ms after its start, a stopped one dropped after ${dropped} ms, stream back within ${reconnected} ms of podman answering again\n`);
      expect(d.logs().filter((l) => (l['level'] as number) >= 50), JSON.stringify(d.logs().filter((l) => (l['level'] as number) >= 50))).toEqual([]);
      daemon.child.kill('SIGTERM');
      expect(await daemon.exited).toBe(0);
    } catch (error) {
      const lines = (daemon?.logs() ?? []).filter((l) => l['component'] === 'discovery' || (l['level'] as number) >= 40);
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n${lines.map((l) => JSON.stringify(l)).join('\n')}`, { cause: error });
    } finally {
      daemon?.child.kill('SIGKILL');
      for (const n of ['ev-web', 'ev-after']) await api.del(`/containers/${n}?force=true`).catch(() => undefined);
      await api.close();
      await podman.stop();
      await rm(podmanDir, { recursive: true, force: true });
    }
  }, 300_000);
});
