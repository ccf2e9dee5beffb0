/**
 * Discovery by label against a private real dockerd (Debian's 20.10) and a loopback registry, with the built
 * daemon (docs/discovery.md): a labelled container's tag is checked within a bound; one created for
 * linux/arm64 on this amd64 host (never started) is checked at linux/arm64; a removed container's entry goes;
 * after a dockerd restart the events stream reconnects and a container created then is followed.
 * Every wait has a deadline; nothing sleeps for a fixed time to pass.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient } from '../../src/http/http.js';
import { startDockerd, type RunningDockerd } from '../sandbox/dockerd.js';
import { buildImage, buildIndex, platformObject, type BuiltImage } from '../sandbox/oci-builder.js';
import { Pusher } from '../sandbox/push.js';
import { startRegistry, type RunningRegistry } from '../sandbox/registry-server.js';
import { cli } from './cli.js';
import { poller, startDaemon, type DaemonProcess } from './daemon-process.js';
import { engineApi } from './engine-api.js';

const s = inject('services');
const http = createHttpClient();
const root = process.getuid?.() === 0;
let dir = '';
let registry: RunningRegistry | undefined;

const image = (arch: string, variant: string | undefined, label: string): BuiltImage =>
  buildImage({ platform: { os: 'linux', architecture: arch, ...(variant === undefined ? {} : { variant }) }, files: [{ path: 'v', content: Buffer.from(label) }], format: 'oci', label });

type Running = DaemonProcess;
const until = poller({ timeoutMs: 60_000, everyMs: 200 });

beforeAll(async () => {
  dir = await mkdtemp(join(s.tmp, 'discovery-'));
  registry = await startRegistry({ dir: join(dir, 'registry'), auth: { kind: 'none' } });
});
afterAll(async () => {
  await registry?.stop();
  await http.close();
});

describe.runIf(root && existsSync('/usr/sbin/dockerd') && process.arch === 'x64')('resolver daemon: discovery by label (real dockerd)', () => {
  it('follows labelled containers at their image platform, drops removed ones, and reconnects after a dockerd restart', async () => {
    const reg = registry?.host ?? '';
    const amd = image('amd64', undefined, 'disc amd64');
    const arm = image('arm64', 'v8', 'disc arm64');
    const pusher = new Pusher({ http, host: reg, repository: 'disc/app' });
    await pusher.image(amd);
    await pusher.image(arm);
    await pusher.manifest(buildIndex([amd, arm].map((c) => ({ manifest: c.manifest, platform: platformObject(c.platform) })), 'oci'), 'latest');
    const other = image('amd64', undefined, 'disc other');
    const otherPusher = new Pusher({ http, host: reg, repository: 'disc/other' });
    await otherPusher.image(other);
    await otherPusher.manifest(buildIndex([{ manifest: other.manifest, platform: platformObject(other.platform) }], 'oci'), 'latest');
    const ref = `${reg}/disc/app:latest`;
    const otherRef = `${reg}/disc/other:latest`;

    const engineDir = join(dir, 'engine');
    let engine: RunningDockerd = await startDockerd({ binary: '/usr/sbin/dockerd', dir: engineDir });
    let api = engineApi(engine.dockerHost);
    const create = async (name: string, from: string, labels: Record<string, string>, platform?: string): Promise<string> => {
      const answer = await api.postJson(`/containers/create?name=${name}${platform === undefined ? '' : `&platform=${encodeURIComponent(platform)}`}`, { Image: from, Cmd: ['/v'], Labels: labels });
      expect(answer.Id, JSON.stringify(answer)).toMatch(/^[0-9a-f]{64}$/);
      return answer.Id as string;
    };
    const d: { current: Running | undefined } = { current: undefined };
    try {
      // The arm64 child first (pinned with --platform, as `docker create --platform linux/arm64` does), then the host's: the tag ends on amd64.
      expect((await api.post(`/images/create?fromImage=${encodeURIComponent(`${reg}/disc/app`)}&tag=latest&platform=linux%2Farm64`)).status).toBe(200);
      await create('pi', ref, { 'resolver.enable': 'true' }, 'linux/arm64');
      expect((await api.post(`/images/create?fromImage=${encodeURIComponent(`${reg}/disc/app`)}&tag=latest`)).status).toBe(200);
      await create('web', ref, { 'resolver.enable': 'true' });
      await create('unlabelled', ref, {});
      expect((await api.post(`/images/create?fromImage=${encodeURIComponent(`${reg}/disc/other`)}&tag=latest`)).status).toBe(200);

      const stateDir = join(dir, 'state');
      const config = join(dir, 'discovery.yaml');
      await writeFile(config, `engine:\n  host: ${engine.dockerHost}\nschedule: "0 0 1 1 *"\nsplay: 0s\nstateDir: ${stateDir}\nshutdownTimeout: 5s\ndiscovery:\n  debounce: 500ms\nimages: []\n`);
      const started = Date.now();
      d.current = startDaemon(config);
      const running = d.current;
      const checkedAt = (platform: string, image = ref): Record<string, any> | undefined =>
        running.logs().find((l) => (l['msg'] === 'checked' || l['msg'] === 'pulled a new child' || l['msg'] === 'child already present; recorded') && l['image'] === image && l['platform'] === platform);
      await until('both discovered entries checked', () => (checkedAt('linux/arm64') !== undefined && running.logs().some((l) => l['image'] === ref && String(l['platform']).startsWith('linux/amd64') && (l['msg'] === 'checked' || l['msg'] === 'pulled a new child' || l['msg'] === 'child already present; recorded')) ? true : undefined));
      const firstChecks = Date.now() - started;
      const status = await cli(['status', '--config', config, '--json']);
      const images = JSON.parse(status.stdout).images as { image: string; platform: string; source: string; state: string }[];
      expect(images.map((i) => [i.image, i.platform.replace(/\/v\d$/, ''), i.source]).sort()).toEqual([[ref, 'linux/amd64', 'label of container web'], [ref, 'linux/arm64', 'label of container pi']]);
      const table = await cli(['status', '--config', config]);
      expect(table.stdout).toMatch(/SOURCE/);
      expect(table.stdout).toMatch(/label of container pi/);

      // A new labelled container is checked within a bound.
      const added = Date.now();
      await create('late', otherRef, { 'resolver.enable': 'true' });
      await until('the new container checked', () => checkedAt('linux/amd64', otherRef) ?? running.logs().find((l) => l['image'] === otherRef && l['msg'] === 'checked'), 30_000);
      const newChecked = Date.now() - added;

      // Removing it drops the entry.
      expect(await api.del('/containers/late?force=true')).toBe(204);
      await until('the entry gone', async () => {
        const now = JSON.parse((await cli(['status', '--config', config, '--json'])).stdout).images as { image: string }[];
        return now.some((i) => i.image === otherRef) ? undefined : true;
      }, 30_000);

      // dockerd restarts: the stream is lost and comes back; a container created afterwards is followed.
      await api.close();
      await engine.stop();
      await until('the stream loss logged', () => running.logs().find((l) => l['msg'] === 'lost the engine events stream; reconnecting'), 30_000);
      engine = await startDockerd({ binary: '/usr/sbin/dockerd', dir: engineDir });
      const restarted = Date.now();
      api = engineApi(engine.dockerHost);
      await until('the stream back', () => running.logs().find((l) => l['msg'] === 'events stream reconnected'), 90_000);
      const reconnected = Date.now() - restarted;
      await create('after', otherRef, { 'resolver.enable': 'true' });
      const mark = running.logs().length;
      await until('the container created after the restart checked', () => running.logs().slice(mark).find((l) => l['image'] === otherRef && (l['msg'] === 'checked' || l['msg'] === 'pulled a new child' || l['msg'] === 'child already present; recorded')), 60_000).catch((error: unknown) => {
        throw new Error(`${String(error)}\n${running.logs().slice(mark - 5).map((l) => JSON.stringify(l)).join('\n')}`);
      });
      const attempts = running.logs().filter((l) => l['msg'] === 'events stream still lost').length;
      expect(attempts).toBeLessThan(20);
      process.stdout.write(`discovery e2e: first checks ${firstChecks} ms after start, a new container checked ${newChecked} ms after its creation, stream back within ${reconnected} ms of dockerd answering again\n`);
      expect(running.logs().filter((l) => l['level'] >= 50), JSON.stringify(running.logs().filter((l) => l['level'] >= 50))).toEqual([]);
    } finally {
      d.current?.child.kill('SIGTERM');
      await d.current?.exited;
      await api.close();
      await engine.stop();
    }
  }, 300_000);
});
