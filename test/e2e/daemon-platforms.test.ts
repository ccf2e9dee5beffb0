/**
 * One tag tracked for two platforms, built CLI against a real registry (through a counting proxy) and the
 * private dockerd: the host's entry owns `name:tag`, the other platform's child is kept by digest only, and
 * neither is pulled again while the index is unchanged (the defect: `:latest` flipped between the two
 * children every cycle, each cycle a pull).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient } from '../../src/http/http.js';
import { buildImage, buildIndex, platformObject, type BuiltImage } from '../sandbox/oci-builder.js';
import { Pusher } from '../sandbox/push.js';
import type { RunningRegistry } from '../sandbox/registry-server.js';
import { startCountingRegistry, type CountingRegistry } from './counting-registry.js';
import type { SlowProxy } from '../harness/slow-proxy.js';
import { poller, startDaemon } from './daemon-process.js';
import { engineApi } from './engine-api.js';

const s = inject('services');
const dockerHost = s.engine;
const http = createHttpClient();
let dir = '';
let counting: CountingRegistry;
let registry: RunningRegistry;
let proxy: SlowProxy;

const image = (arch: string, variant: string | undefined, label: string): BuiltImage =>
  buildImage({ platform: { os: 'linux', architecture: arch, ...(variant === undefined ? {} : { variant }) }, files: [{ path: 'v', content: Buffer.from(label) }], format: 'oci', label });

const until = poller({ timeoutMs: 60_000, everyMs: 200 });

beforeAll(async () => {
  dir = await mkdtemp(join(s.tmp, 'daemon-platforms-'));
  counting = await startCountingRegistry(join(dir, 'registry'));
  ({ registry, proxy } = counting);
});
afterAll(async () => {
  await counting.stop();
  await http.close();
});

describe.runIf((dockerHost !== undefined || process.env['CI'] === 'true') && process.arch === 'x64')('resolver daemon: one tag for two platforms', () => {
  it('keeps name:tag on the host child and the arm64 child by digest; three more cycles pull nothing and re-tag nothing', async () => {
    const api = engineApi(dockerHost ?? '');
    const amd = image('amd64', undefined, 'multi amd64');
    const arm = image('arm64', 'v8', 'multi arm64');
    const pusher = new Pusher({ http, host: registry.host, repository: 'multi/app' });
    await pusher.image(amd);
    await pusher.image(arm);
    await pusher.manifest(buildIndex([amd, arm].map((c) => ({ manifest: c.manifest, platform: platformObject(c.platform) })), 'oci'), 'latest');
    const ref = `${proxy.host}/multi/app`;
    const config = join(dir, 'multi.yaml');
    await writeFile(config, `engine:
  host: ${dockerHost}
schedule: "*/2 * * * * *"
splay: 0s
stateDir: ${join(dir, 'state')}
shutdownTimeout: 5s
images:
  - image: ${ref}:latest
  - image: ${ref}:latest
    platform: linux/arm64
`);
    const d = startDaemon(config);
    try {
      const checks = (): number => d.logs().filter((l) => l['msg'] === 'checked').length;
      const pulls = (): Record<string, any>[] => d.logs().filter((l) => l['msg'] === 'pulled a new child');
      await until('both children pulled', () => (pulls().length >= 2 ? true : undefined));
      await until('a check of each after the pulls', () => (checks() >= 2 ? true : undefined));
      const mark = proxy.requests.length;
      const pullsBefore = pulls().length;
      const checksBefore = checks();
      // Three more cycles of both entries.
      await until('three more cycles', () => (checks() >= checksBefore + 6 ? true : undefined));
      expect(pulls().length, JSON.stringify(pulls())).toBe(pullsBefore);
      expect(pullsBefore).toBe(2);
      const since = proxy.requests.slice(mark);
      // No engine pull (child manifests, blobs) and no index GET: only the tag's HEADs.
      expect(since.filter((r) => !r.startsWith('HEAD ')), since.join('\n')).toEqual([]);
      const tagged = (await api.get(`/images/${ref}:latest/json`)).json;
      expect(tagged.Id).toBe(amd.config.digest);
      const armImage = (await api.get(`/images/${ref}@${arm.manifest.digest}/json`)).json;
      expect(armImage.Id).toBe(arm.config.digest);
      expect(armImage.RepoTags).toEqual([]);
      expect(d.logs().filter((l) => l['level'] >= 40), JSON.stringify(d.logs().filter((l) => l['level'] >= 40))).toEqual([]);
    } finally {
      d.child.kill('SIGTERM');
      await d.exited;
      await api.close();
    }
  });
});
