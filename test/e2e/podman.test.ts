/**
 * resolver against Podman 4.3's Docker-compatible API (Debian 12's podman, `podman system service` on a
 * private socket, vfs storage): recognised as Podman; pull (Podman's stream has no final Digest:/Status:
 * line), run with the container's exit code, and one daemon cycle that records the child and prunes the
 * one it replaces. And a differential test of resolver's model of Podman's own matcher (what
 * `platform`/`which --explain` show) against Podman's real pull of every test index and platform.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient } from '../../src/http/http.js';
import { ImageIndex } from '../../src/manifest/schema.js';
import { descriptorPlatform, selectManifest } from '../../src/manifest/select.js';
import { onlyMatcher } from '../../src/platform/match.js';
import { defaultRules } from '../../src/platform/rules.js';
import { podmanPick, type PodmanEntry } from '../../src/platform/podman.js';
import { parsePlatform, platform as makePlatform } from '../../src/platform/platform.js';
import { buildImage, buildIndex, platformObject } from '../sandbox/oci-builder.js';
import { Pusher } from '../sandbox/push.js';
import { catalogue, oraclePlatforms } from '../harness/catalogue.js';
import { cli } from './cli.js';
import { engineApi } from './engine-api.js';

const s = inject('services');
const dockerHost = s.podman;
const api = dockerHost === undefined ? undefined : engineApi(dockerHost);
const http = createHttpClient({ headersTimeoutMs: 120_000, bodyTimeoutMs: 120_000 });
let stateDir = '';
let env: Record<string, string> = {};

const child = (repo: string, platform: string): { manifest: string; config: string } => {
  const c = s.images[repo]?.children.find((x) => x.platform === platform);
  if (c === undefined) throw new Error(`no ${platform} in ${repo}`);
  return c;
};
const inspect = async (name: string): Promise<any> => (await api?.get(`/images/${name}/json`))?.json;

/** Podman's own pull of `repo:latest` (the compat API, as `docker pull` would send it): the image ID (= config digest) or its error. */
async function podmanPull(repo: string, platform: string): Promise<{ id?: string; error?: string }> {
  const url = new URL('http://localhost/v1.41/images/create');
  url.searchParams.set('fromImage', `${s.anonymous}/${repo}`);
  url.searchParams.set('tag', 'latest');
  if (platform !== '') url.searchParams.set('platform', platform);
  const h = createHttpClient({ socketPath: (dockerHost ?? '').replace('unix://', ''), headersTimeoutMs: 120_000, bodyTimeoutMs: 120_000 });
  try {
    const res = await h.send({ method: 'POST', url, deadlineMs: 120_000, maxBytes: 16 << 20 });
    const lines = res.body.toString('utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { error?: string; id?: string; status?: string });
    const error = lines.find((l) => l.error !== undefined)?.error;
    if (res.status !== 200 || error !== undefined) return { error: error ?? `HTTP ${res.status}` };
    const inspected = await h.send({ method: 'GET', url: new URL(`http://localhost/v1.41/images/${s.anonymous}/${repo}:latest/json`), deadlineMs: 30_000, maxBytes: 1 << 20 });
    return { id: (JSON.parse(inspected.body.toString('utf8')) as { Id: string }).Id };
  } finally {
    await h.close();
  }
}

/** The index of `repo:latest` as Podman's matcher sees it: raw platform strings, no normalisation. */
async function indexOf(repo: string): Promise<{ entries: PodmanEntry[]; oci: boolean; raw: ImageIndex }> {
  const res = await http.send({
    method: 'GET', url: new URL(`http://${s.anonymous}/v2/${repo}/manifests/latest`), deadlineMs: 30_000, maxBytes: 1 << 20,
    headers: { accept: 'application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json' },
  });
  const index = ImageIndex.parse(JSON.parse(res.body.toString('utf8')));
  return {
    raw: index,
    oci: (res.headers['content-type'] ?? index.mediaType ?? '').includes('oci'),
    entries: index.manifests.map((m, position) => ({ position, digest: m.digest, platform: m.platform === undefined ? undefined : descriptorPlatform(m.platform) })),
  };
}

beforeAll(async () => {
  stateDir = await mkdtemp(join(s.tmp, 'podman-state-'));
  env = { DOCKER_HOST: dockerHost ?? '', RESOLVER_STATE_DIR: stateDir };
});
afterAll(async () => {
  await api?.close();
  await http.close();
});

describe.runIf(dockerHost !== undefined || process.env['CI'] === 'true')('resolver against Podman 4.3', () => {
  it('the Podman service is running', () => {
    expect(dockerHost, 'CI must be able to start Debian 12 podman (scripts/ensure-deps.sh installs it)').toBeDefined();
  });

  it('platform says Podman, keeps Docker\'s rules, and shows what Podman itself would want', async () => {
    const text = await cli(['platform'], env);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^engine {4}Podman Engine 4\.\d+\.\d+ \(Docker API 1\.\d+\)/m);
    expect(text.stdout).toMatch(/^rules {5}Podman Engine .*resolver keeps Docker's rules \(Docker 29\.7, containerd image store\)/m);
    expect(text.stdout).toMatch(/^podman {4}Podman's own pull would want linux\/amd64; Docker's vector: .*linux\/386/m);
    const json = JSON.parse((await cli(['platform', '--json', '--platform', 'linux/arm'], env)).stdout);
    expect(json.engine.product).toBe('podman');
    expect(json.podman.wanted).toEqual(['linux/arm/v7', 'linux/arm/v6', 'linux/arm/v5', 'linux/arm']);
  });

  it('pulls the child `which` names: the stream has no final status, inspect confirms it; the tag points to the child', async () => {
    const ref = `${s.anonymous}/super-golang:latest`;
    for (const [platform, expected] of [['linux/arm64/v8', 'linux/arm64/v8'], ['', 'linux/amd64']] as const) {
      const args = platform === '' ? [] : ['--platform', platform];
      const want = child('super-golang', expected);
      expect((await cli(['which', ref, ...args], env)).stdout).toBe(`${want.manifest}\n`);
      const pull = await cli(['pull', ref, ...args], env);
      expect(pull.code, pull.stderr).toBe(0);
      expect(pull.stdout).toBe(`${want.manifest}\n`);
      const image = await inspect(ref);
      expect(image.Id).toBe(want.config);
      expect(image.RepoDigests).toContain(`${s.anonymous}/super-golang@${want.manifest}`);
    }
    const state = JSON.parse(await readFile(join(stateDir, 'state.json'), 'utf8'));
    const record = Object.values(state.images as Record<string, any>).find((r) => r.reference === ref && r.platform.startsWith('linux/amd64'));
    expect(record?.childDigest).toBe(child('super-golang', 'linux/amd64').manifest);
  });

  it('run pulls an absent image, passes the exit code and output through; --rm leaves no container', async () => {
    const ref = `${s.anonymous}/super-golang:latest`;
    await api?.del(`/images/${ref}?force=1`);
    await api?.del(`/images/${s.anonymous}/super-golang@${child('super-golang', 'linux/amd64').manifest}?force=1`);
    expect((await api?.get(`/images/${ref}/json`))?.status).toBe(404);
    const before = ((await api?.get('/containers/json?all=1'))?.json ?? []).length;
    const r = await cli(['run', '--rm', '-q', '--network', 'none', '-e', 'FOO=bar', ref, 'sh', '-c', 'echo "out $FOO"; echo err >&2; exit 3'], env);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toBe('out bar\n');
    expect(r.stderr).toBe('err\n');
    expect(((await api?.get('/containers/json?all=1'))?.json ?? []).length).toBe(before);
    const own = await cli(['run', '--rm', '-q', '--network', 'none', ref], env);
    expect(own.stdout).toBe('super-golang: the linux/amd64 child, running on x86_64\n');
  });

  it('one daemon cycle records the child it pulled; the next prunes the child it replaced', async () => {
    const repo = 'podman/fleet';
    const pusher = new Pusher({ http, host: s.anonymous, repository: repo });
    const publish = async (label: string): Promise<{ manifest: string; config: string }> => {
      const img = buildImage({ platform: { os: 'linux', architecture: 'amd64' }, files: [{ path: 'v', content: Buffer.from(label) }], format: 'oci', label });
      await pusher.image(img);
      await pusher.manifest(buildIndex([{ manifest: img.manifest, platform: platformObject(img.platform) }], 'oci'), 'stable');
      return { manifest: img.manifest.digest, config: img.config.digest };
    };
    const dir = await mkdtemp(join(s.tmp, 'podman-daemon-'));
    const config = join(dir, 'resolver.yaml');
    await writeFile(config, `engine:\n  host: ${dockerHost}\nschedule: "0 0 * * * *"\nsplay: 0s\nretain: 0\nstateDir: ${join(dir, 'state')}\nimages:\n  - image: ${s.anonymous}/${repo}:stable\n`);
    const v1 = await publish('podman-v1');
    const first = await cli(['check', '--config', config], {});
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/podman\/fleet:stable\s+linux\/amd64\S*\s+ok/);
    const state1 = JSON.parse(await readFile(join(dir, 'state', 'state.json'), 'utf8'));
    expect(Object.values(state1.images as Record<string, any>).map((r) => r.childDigest)).toEqual([v1.manifest]);
    expect((await inspect(`${s.anonymous}/${repo}:stable`)).Id).toBe(v1.config);
    const v2 = await publish('podman-v2');
    const second = await cli(['check', '--config', config], {});
    expect(second.code, second.stderr).toBe(0);
    expect((await inspect(`${s.anonymous}/${repo}:stable`)).Id).toBe(v2.config);
    const ids = ((await api?.get('/images/json'))?.json as { Id: string }[]).map((i) => i.Id);
    expect(ids).toContain(v2.config);
    expect(ids, 'retain: 0 prunes the replaced child').not.toContain(v1.config);
  });

  it('differential: resolver\'s model of Podman\'s own pull agrees with Podman on every test index and platform', async () => {
    // What Podman wants, as `resolver platform --json` shows it, once per platform.
    const shown: any[] = [];
    for (const platform of oraclePlatforms) shown.push(JSON.parse((await cli(['platform', '--json', ...(platform === '' ? [] : ['--platform', platform])], env)).stdout));
    const wantedFor = new Map(oraclePlatforms.map((p, i) => [p, (shown[i].podman.wanted as string[]).map((w) => {
      const [os = '', arch = '', variant = ''] = w.split('/');
      return makePlatform(os, arch, variant);
    })]));
    const dockerFor = new Map(oraclePlatforms.map((p, i) => [p, parsePlatform(shown[i].platform as string, { os: 'linux', architecture: 'amd64', cpuVariant: '' })]));
    const mismatches: string[] = [];
    let differ = 0;
    // Repositories in parallel, each one's platforms in turn (a tag is pulled and inspected one at a time).
    await Promise.all(catalogue.map(async (entry) => {
      const index = await indexOf(entry.repo);
      for (const platform of oraclePlatforms) {
        const predicted = podmanPick(index.entries, wantedFor.get(platform) ?? [], index.oci);
        const real = await podmanPull(entry.repo, platform);
        const predictedConfig = predicted.kind === 'entry' ? s.images[entry.repo]?.children.find((c) => c.manifest === predicted.digest)?.config : undefined;
        const ok = predictedConfig === undefined ? real.error !== undefined : real.id === predictedConfig;
        if (!ok) mismatches.push(`${entry.repo} ${JSON.stringify(platform)}: predicted ${predicted.kind === 'entry' ? `#${predicted.position}` : predicted.message}, Podman ${real.error ?? real.id}`);
        const docker = selectManifest(index.raw, onlyMatcher(dockerFor.get(platform) ?? makePlatform('', ''), defaultRules, 'linux'), defaultRules);
        const dockerChild = docker.kind === 'matched' ? docker.descriptor.digest : undefined;
        if ((predictedConfig === undefined ? undefined : predicted.kind === 'entry' ? predicted.digest : undefined) !== dockerChild) differ++;
      }
    }));
    const total = catalogue.length * oraclePlatforms.length;
    process.stderr.write(`podman differential: ${total} cases agree with Podman's real pull; in ${differ} Podman's own pull differs from Docker's choice\n`);
    expect(mismatches).toEqual([]);
    expect(differ).toBeGreaterThan(0);
  }, 300_000);
});
