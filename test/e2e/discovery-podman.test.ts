/**
 * Discovery by label against Podman 4.3's compat API (Debian 12's podman, started by the harness): a labelled
 * container's tag is found through /containers/json, /containers/{id}/json and /images/{id}/json, and
 * `resolver check` checks it and names its source (docs/discovery.md).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient } from '../../src/http/http.js';
import { buildImage, buildIndex, platformObject } from '../sandbox/oci-builder.js';
import { Pusher } from '../sandbox/push.js';
import { cli } from './cli.js';
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
