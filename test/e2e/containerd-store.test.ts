/**
 * resolver against Docker's containerd image store (the oracle dockerd 26.1.5 with
 * `"features":{"containerd-snapshotter":true}`, on the containerd it starts itself): pull (the image ID is
 * the child's manifest digest there, not its config digest), run with the container's exit code, and one
 * daemon cycle that records the child and prunes the one it replaces. The store's choices are checked
 * case by case in oracle.test.ts.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient } from '../../src/http/http.js';
import { buildImage, buildIndex, platformObject } from '../sandbox/oci-builder.js';
import { Pusher } from '../sandbox/push.js';
import { cli } from './cli.js';
import { engineApi } from './engine-api.js';

const s = inject('services');
const dockerHost = s.containerdStore;
const api = dockerHost === undefined ? undefined : engineApi(dockerHost);
const http = createHttpClient();
let env: Record<string, string> = {};

const child = (repo: string, platform: string): { manifest: string; config: string } => {
  const c = s.images[repo]?.children.find((x) => x.platform === platform);
  if (c === undefined) throw new Error(`no ${platform} in ${repo}`);
  return c;
};
const inspect = async (name: string): Promise<any> => (await api?.get(`/images/${name}/json`))?.json;

beforeAll(async () => {
  env = { DOCKER_HOST: dockerHost ?? '', RESOLVER_STATE_DIR: await mkdtemp(join(s.tmp, 'c8d-state-')) };
});
afterAll(async () => {
  await api?.close();
  await http.close();
});

describe.runIf(dockerHost !== undefined || process.env['CI'] === 'true')('resolver against the containerd image store (dockerd 26.1.5)', () => {
  it('the containerd-store engine is running and is seen as such', async () => {
    expect(dockerHost, 'CI must start the oracle dockerd with the containerd-snapshotter feature').toBeDefined();
    const p = JSON.parse((await cli(['platform', '--json'], env)).stdout);
    expect(p.engine.store).toBe('containerd');
    expect(p.rules.source).toMatch(/Docker 26\.1\.5.*containerd image store/);
    // Docker 26.1's containerd store pulls with platforms.Default(): no amd64 level.
    expect(p.platform).toBe('linux/amd64');
  });

  it('pulls the child `which` names; the image ID is that child\'s manifest digest; the tag points to it', async () => {
    const ref = `${s.anonymous}/super-golang:latest`;
    for (const [platform, expected] of [['linux/arm/v6', 'linux/arm/v6'], ['', 'linux/amd64']] as const) {
      const args = platform === '' ? [] : ['--platform', platform];
      const want = child('super-golang', expected);
      expect((await cli(['which', ref, ...args], env)).stdout).toBe(`${want.manifest}\n`);
      const pull = await cli(['pull', ref, ...args], env);
      expect(pull.code, pull.stderr).toBe(0);
      expect(pull.stdout).toBe(`${want.manifest}\n`);
      const image = await inspect(ref);
      expect(image.Id).toBe(want.manifest);
      expect(image.RepoDigests).toContain(`${s.anonymous}/super-golang@${want.manifest}`);
    }
    const again = await cli(['pull', ref], env);
    expect(again.stderr).toMatch(/already present, nothing pulled/);
  });

  it('a no-match says what this store says', async () => {
    const r = await cli(['pull', `${s.anonymous}/nomatch:latest`], env);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^resolver: no match for platform in manifest: not found\n/);
  });

  it('run passes the exit code and output through; --rm leaves no container', async () => {
    const ref = `${s.anonymous}/super-golang:latest`;
    const before = ((await api?.get('/containers/json?all=1'))?.json ?? []).length;
    const r = await cli(['run', '--rm', '-q', '--network', 'none', '-e', 'FOO=bar', ref, 'sh', '-c', 'echo "out $FOO"; echo err >&2; exit 3'], env);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toBe('out bar\n');
    expect(r.stderr).toBe('err\n');
    expect(((await api?.get('/containers/json?all=1'))?.json ?? []).length).toBe(before);
  });

  it('one daemon cycle records the child it pulled; the next prunes the child it replaced', async () => {
    const repo = 'c8d/fleet';
    const pusher = new Pusher({ http, host: s.anonymous, repository: repo });
    const publish = async (label: string): Promise<string> => {
      const img = buildImage({ platform: { os: 'linux', architecture: 'amd64' }, files: [{ path: 'v', content: Buffer.from(label) }], format: 'oci', label });
      await pusher.image(img);
      await pusher.manifest(buildIndex([{ manifest: img.manifest, platform: platformObject(img.platform) }], 'oci'), 'stable');
      return img.manifest.digest;
    };
    const dir = await mkdtemp(join(s.tmp, 'c8d-daemon-'));
    const config = join(dir, 'resolver.yaml');
    await writeFile(config, `engine:\n  host: ${dockerHost}\nschedule: "0 0 * * * *"\nsplay: 0s\nretain: 0\nstateDir: ${join(dir, 'state')}\nimages:\n  - image: ${s.anonymous}/${repo}:stable\n`);
    const v1 = await publish('c8d-v1');
    const first = await cli(['check', '--config', config], {});
    expect(first.code, first.stderr).toBe(0);
    const state = JSON.parse(await readFile(join(dir, 'state', 'state.json'), 'utf8'));
    expect(Object.values(state.images as Record<string, any>).map((r) => r.childDigest)).toEqual([v1]);
    expect((await inspect(`${s.anonymous}/${repo}:stable`)).Id).toBe(v1);
    const v2 = await publish('c8d-v2');
    const second = await cli(['check', '--config', config], {});
    expect(second.code, second.stderr).toBe(0);
    expect((await inspect(`${s.anonymous}/${repo}:stable`)).Id).toBe(v2);
    const ids = ((await api?.get('/images/json'))?.json as { Id: string }[]).map((i) => i.Id);
    expect(ids, 'retain: 0 prunes the replaced child').not.toContain(v1);
  });
});
