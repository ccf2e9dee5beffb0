/**
 * The seed article's publishing workflow with `resolver manifest push --from-spec`: two per-arch images
 * in other repositories become `super-golang:latest`, through cross-repository mounts, on the anonymous and
 * the token-auth registry; `which` then picks each child and the real dockerd pulls the same one.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient } from '../../src/http/http.js';
import { buildImage, type BuiltImage } from '../sandbox/oci-builder.js';
import { Pusher } from '../sandbox/push.js';
import { publishIndex, type PublishedIndex } from '../sandbox/samples.js';
import { startSlowProxy } from '../harness/slow-proxy.js';
import { readerUser, tokenUser } from '../sandbox/token-server.js';
import { cli, cliPath } from './cli.js';
import { engineApi } from './engine-api.js';

const s = inject('services');
const http = createHttpClient();
afterAll(() => http.close());

async function perArch(host: string, creds: { username?: string; password?: string }): Promise<{ amd: BuiltImage; arm: BuiltImage }> {
  const make = async (repo: string, arch: string, variant?: string): Promise<BuiltImage> => {
    const img = buildImage({ platform: { os: 'linux', architecture: arch, ...(variant === undefined ? {} : { variant }) }, files: [{ path: 'go', content: Buffer.from(`${repo} ${host}`) }], format: 'docker', label: repo });
    const p = new Pusher({ http, host, repository: repo, ...creds });
    await p.image(img);
    await p.manifest(img.manifest, 'latest');
    return img;
  };
  return { amd: await make('amd64/golang', 'amd64'), arm: await make('arm64v8/golang', 'arm64', 'v8') };
}

async function specFile(name: string, body: string): Promise<string> {
  const dir = join(s.tmp, 'specs');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, name), body);
  return join(dir, name);
}

describe('resolver manifest push --from-spec', () => {
  it.each([['anonymous', () => s.anonymous, {}], ['token auth', () => s.token, tokenUser]] as const)('publishes the article’s super-golang (%s); which picks each child', async (_name, hostOf, creds) => {
    const host = hostOf();
    const { amd, arm } = await perArch(host, creds);
    const file = await specFile(`spec-${host.replace(/\W/g, '')}.yml`, `image: ${host}/article/super-golang:latest\ntags: ["1.0"]\nmanifests:\n  - image: ${host}/amd64/golang:latest\n  - image: ${host}/arm64v8/golang:latest\n    platform:\n      architecture: arm64\n      os: linux\n      variant: v8\n`);
    const env: Record<string, string> = {};
    if ('username' in creds) {
      const cfg = join(s.tmp, 'push-cfg');
      await mkdir(cfg, { recursive: true });
      await writeFile(join(cfg, 'config.json'), JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') } } }));
      env['DOCKER_CONFIG'] = cfg;
    }
    const pushed = await cli(['manifest', 'push', '--from-spec', file], env);
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.stderr).toMatch(/4 blobs mounted, 0 copied/);
    expect(pushed.stderr.match(/^mounted {9}sha256:[0-9a-f]{64} \d/gm), pushed.stderr).toHaveLength(4);
    const digest = pushed.stdout.trim();
    const raw = await cli(['manifest', 'inspect', '--table', `${host}/article/super-golang:1.0`], env);
    expect(raw.stdout).toContain(`digest     ${digest}`);
    expect((await cli(['which', `${host}/article/super-golang:latest`, '--platform', 'linux/arm64'], env)).stdout).toBe(`${arm.manifest.digest}\n`);
    expect((await cli(['which', `${host}/article/super-golang:latest`, '--platform', 'linux/amd64'], env)).stdout).toBe(`${amd.manifest.digest}\n`);
    if (s.engine !== undefined && !('username' in creds)) {
      const api = engineApi(s.engine);
      try {
        await api.post(`/images/create?fromImage=${encodeURIComponent(`${host}/article/super-golang`)}&tag=latest&platform=linux/arm64`);
        expect((await api.get(`/images/${host}/article/super-golang:latest/json`)).json.Id).toBe(arm.config.digest);
      } finally {
        await api.close();
      }
    }
  });

  it.each([
    ['a missing image', (h: string) => `image: ${h}/x:latest\nmanifests:\n  - image: ${h}/does/not-exist:latest\n`, 4, /not found/],
    ['two entries with the same platform', (h: string) => `image: ${h}/x:latest\nmanifests:\n  - image: ${h}/amd64/golang:latest\n  - image: ${h}/amd64/golang:latest\n`, 2, /are both linux\/amd64/],
    ['a platform that contradicts the config', (h: string) => `image: ${h}/x:latest\nmanifests:\n  - image: ${h}/amd64/golang:latest\n    platform: {architecture: arm64, os: linux}\n`, 2, /the spec says linux\/arm64 but the image's config says linux\/amd64/],
    ['a multi-platform source without platform:', (h: string) => `image: ${h}/x:latest\nmanifests:\n  - image: ${h}/multi/oci:latest\n`, 2, /is a multi-platform index \(linux\/amd64, /],
    ['a source index without the platform asked for', (h: string) => `image: ${h}/x:latest\nmanifests:\n  - image: ${h}/multi/oci:latest\n    platform: {os: linux, architecture: s390x}\n`, 2, /is a multi-platform index without linux\/s390x/],
    ['a bad spec', () => `image: x\nmanifest: []\n`, 2, /invalid spec/],
  ])('refuses %s with a clear error', async (_name, body, code, message) => {
    await perArch(s.anonymous, {});
    const r = await cli(['manifest', 'push', '--from-spec', await specFile(`bad-${code}-${Math.random()}.yml`, body(s.anonymous))]);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
  });

  it('create / --amend / annotate / push LIST: the docker CLI workflow with a local draft', async () => {
    const { arm } = await perArch(s.anonymous, {});
    const env = { RESOLVER_STATE_DIR: join(s.tmp, 'drafts') };
    const list = `${s.anonymous}/article/drafted:latest`;
    expect((await cli(['manifest', 'create', list, `${s.anonymous}/amd64/golang:latest`], env)).code).toBe(0);
    const again = await cli(['manifest', 'create', list, `${s.anonymous}/arm64v8/golang:latest`], env);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists/);
    expect((await cli(['manifest', 'create', '--amend', list, `${s.anonymous}/arm64v8/golang:latest`], env)).stdout).toMatch(/with 2 images/);
    const unknown = await cli(['manifest', 'annotate', list, `${s.anonymous}/nope:latest`, '--os', 'linux', '--arch', 'arm64'], env);
    expect(unknown.stderr).toMatch(/is not in the draft/);
    const slashed = await cli(['manifest', 'annotate', list, `${s.anonymous}/arm64v8/golang:latest`, '--os', 'linux', '--arch', 'arm64/v8'], env);
    expect(slashed.code).toBe(2);
    expect(slashed.stderr).toMatch(/--arch: one word, e\.g\. .*\(not linux\/arm\/v7\)/);
    expect((await cli(['manifest', 'annotate', list, `${s.anonymous}/arm64v8/golang:latest`, '--os', 'linux', '--arch', 'arm64', '--variant', 'v8'], env)).code).toBe(0);
    const pushed = await cli(['manifest', 'push', '--purge', list], env);
    expect(pushed.code, pushed.stderr).toBe(0);
    expect((await cli(['which', list, '--platform', 'linux/arm64/v8'])).stdout).toBe(`${arm.manifest.digest}\n`);
    const gone = await cli(['manifest', 'push', list], env);
    expect(gone.stderr).toMatch(/no draft of/);
  });

  it('a registry without push rights is a clear auth error; anonymous cannot even read', async () => {
    await perArch(s.token, tokenUser);
    const file = await specFile('no-push.yml', `image: ${s.token}/article/super-golang:nopush\nmanifests:\n  - image: ${s.token}/amd64/golang:latest\n`);
    const cfg = join(s.tmp, 'push-cfg-reader');
    await mkdir(cfg, { recursive: true });
    await writeFile(join(cfg, 'config.json'), JSON.stringify({ auths: { [s.token]: { auth: Buffer.from(`${readerUser.username}:${readerUser.password}`).toString('base64') } } }));
    // The reader may pull the source but not push: the error names the target and the missing right.
    const reader = await cli(['manifest', 'push', '--from-spec', file], { DOCKER_CONFIG: cfg });
    expect(reader.code).toBe(5);
    expect(reader.stderr).toContain(`resolver: push access to ${s.token}/article/super-golang denied`);
    expect(reader.stderr).toMatch(/lack push rights to article\/super-golang; log in as a user who may push there/);
    expect(reader.stderr).not.toContain(readerUser.password);
    const anonymous = await cli(['manifest', 'push', '--from-spec', file]);
    expect(anonymous.code).toBe(5);
    expect(anonymous.stderr).toMatch(/pull access denied for .*amd64\/golang/);
    expect((await cli(['manifest', 'inspect', `${s.token}/article/super-golang:nopush`], await tokenConfig())).code).toBe(4);
  });
});

/** A DOCKER_CONFIG folder holding the token registry's credentials. */
async function tokenConfig(): Promise<Record<string, string>> {
  const cfg = join(s.tmp, 'push-cfg-token');
  await mkdir(cfg, { recursive: true });
  await writeFile(join(cfg, 'config.json'), JSON.stringify({ auths: { [s.token]: { auth: Buffer.from(`${tokenUser.username}:${tokenUser.password}`).toString('base64') } } }));
  return { DOCKER_CONFIG: cfg };
}

/** What `docker buildx build --push --platform P` writes by default: an index of the image and its provenance attestation. */
async function buildxOutput(host: string, repository: string, p: { architecture: string; variant?: string }, creds: { username?: string; password?: string } = {}): Promise<PublishedIndex> {
  return publishIndex(new Pusher({ http, host, repository, ...creds }), {
    tag: 'latest', format: 'oci', attestations: true, label: `${repository} ${host}`,
    children: [{ platform: { os: 'linux', ...p }, files: [{ path: 'app', content: Buffer.from(`${repository} ${p.architecture} ${Math.random()}`) }] }],
  });
}

interface IndexDoc { mediaType: string; manifests: { digest: string; mediaType: string; platform?: { architecture: string; os: string; variant?: string }; annotations?: Record<string, string> }[] }

async function rawIndex(reference: string, env: Record<string, string> = {}): Promise<IndexDoc> {
  // --raw: the document as served (docker's default print drops the entries' annotations).
  const r = await cli(['manifest', 'inspect', '--raw', reference], env);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as IndexDoc;
}

describe('manifest push --from-spec: index sources, other registries, refused mounts', () => {
  it('buildx outputs (image + attestation) become one index whose attestations point at the right children', async () => {
    const amd = await buildxOutput(s.anonymous, 'buildx/app-amd64', { architecture: 'amd64' });
    const arm = await buildxOutput(s.anonymous, 'buildx/app-arm64', { architecture: 'arm64', variant: 'v8' });
    const sources = `manifests:\n  - image: ${s.anonymous}/buildx/app-amd64:latest\n  - image: ${s.anonymous}/buildx/app-arm64:latest\n`;
    // A Docker list leaves the attestations out, and does not copy them either.
    const asDocker = await cli(['manifest', 'push', '--format', 'docker', '--from-spec', await specFile('buildx-docker.yml', `image: ${s.anonymous}/buildx/app-docker:latest\n${sources}`)]);
    expect(asDocker.code, asDocker.stderr).toBe(0);
    expect((await cli(['manifest', 'inspect', `${s.anonymous}/buildx/app-docker@${amd.attestations[0] ?? ''}`])).code).toBe(4);
    expect((await cli(['manifest', 'inspect', `${s.anonymous}/buildx/app-docker@${amd.children[0]?.manifest.digest ?? ''}`])).code).toBe(0);
    // Two entries for one platform fail before anything is written to the target.
    const dup = await cli(['manifest', 'push', '--from-spec', await specFile('buildx-dup.yml', `image: ${s.anonymous}/buildx/app-dup:latest\nmanifests:\n  - image: ${s.anonymous}/buildx/app-amd64:latest\n  - image: ${s.anonymous}/buildx/app-amd64:latest\n`)]);
    expect(dup.code).toBe(2);
    expect(dup.stderr).not.toMatch(/^(mounted|copied)/m);
    expect((await cli(['manifest', 'inspect', `${s.anonymous}/buildx/app-dup@${amd.children[0]?.manifest.digest ?? ''}`])).code).toBe(4);
    const file = await specFile('buildx.yml', `image: ${s.anonymous}/buildx/app:latest\n${sources}`);
    const r = await cli(['manifest', 'push', '--from-spec', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/; 2 attestations\)/);
    const doc = await rawIndex(`${s.anonymous}/buildx/app:latest`);
    expect(doc.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    const images = [amd.children[0]?.manifest.digest, arm.children[0]?.manifest.digest];
    expect(doc.manifests.map((m) => m.digest)).toEqual([...images, amd.attestations[0], arm.attestations[0]]);
    expect(doc.manifests.slice(2).map((m) => m.annotations?.['vnd.docker.reference.digest'])).toEqual(images);
    expect(doc.manifests.slice(2).every((m) => m.platform?.os === 'unknown' && m.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest')).toBe(true);
    // The attestation manifests were brought into the target repository (the registry accepted the index).
    const att = await cli(['manifest', 'inspect', '--table', `${s.anonymous}/buildx/app@${amd.attestations[0] ?? ''}`]);
    expect(att.code, att.stderr).toBe(0);
    expect((await cli(['which', `${s.anonymous}/buildx/app:latest`, '--platform', 'linux/arm64'])).stdout).toBe(`${images[1] ?? ''}\n`);
    const noAtt = await cli(['manifest', 'push', '--no-attestations', '--from-spec', file]);
    expect(noAtt.stderr).not.toMatch(/attestation/);
    expect((await rawIndex(`${s.anonymous}/buildx/app:latest`)).manifests.map((m) => m.digest)).toEqual(images);
    const docker = await cli(['manifest', 'push', '--format', 'docker', '--from-spec', file]);
    expect(docker.code, docker.stderr).toBe(0);
    expect(docker.stderr).toMatch(/warning: left out 2 attestation manifests: a Docker manifest list cannot carry them/);
    expect((await rawIndex(`${s.anonymous}/buildx/app:latest`)).manifests).toHaveLength(2);
  });

  it('platform: picks one image of a multi-platform source', async () => {
    const multi = s.images['multi/oci'];
    const want = multi?.children.find((c) => c.platform === 'linux/arm64/v8') ?? multi?.children.find((c) => c.platform.startsWith('linux/arm64'));
    const file = await specFile('pick.yml', `image: ${s.anonymous}/picked/app:latest\nmanifests:\n  - image: ${s.anonymous}/multi/oci:latest\n    platform: {os: linux, architecture: arm64}\n`);
    const r = await cli(['manifest', 'push', '--from-spec', file]);
    expect(r.code, r.stderr).toBe(0);
    const doc = await rawIndex(`${s.anonymous}/picked/app:latest`);
    expect(doc.manifests.map((m) => m.digest)).toEqual([want?.manifest, ...doc.manifests.slice(1).map((m) => m.digest)]);
    // Only the picked image's own attestation comes along.
    expect(doc.manifests.slice(1).map((m) => m.annotations?.['vnd.docker.reference.digest'])).toEqual(multi?.attestations.length === 0 ? [] : [want?.manifest]);
  });

  it('copies from another registry (token auth → anonymous), streamed and verified; the real dockerd pulls the child', async () => {
    const env = await tokenConfig();
    const amd = await buildxOutput(s.token, 'cross/app-amd64', { architecture: 'amd64' }, tokenUser);
    const arm = await buildxOutput(s.token, 'cross/app-arm64', { architecture: 'arm64', variant: 'v8' }, tokenUser);
    const file = await specFile('cross.yml', `image: ${s.anonymous}/cross/app:latest\nmanifests:\n  - image: ${s.token}/cross/app-amd64:latest\n  - image: ${s.token}/cross/app-arm64:latest\n`);
    const r = await cli(['manifest', 'push', '--from-spec', file], env);
    expect(r.code, r.stderr).toBe(0);
    // Two images and two attestations, each a config and a layer, none on the target yet.
    expect(r.stderr).toMatch(/0 blobs mounted, 8 copied; 2 attestations/);
    // One line per blob as it settles, piped straight through (no fallback to a file was needed).
    expect(r.stderr.match(/^copied {10}sha256:[0-9a-f]{64} \d/gm)).toHaveLength(8);
    expect((await cli(['which', `${s.anonymous}/cross/app:latest`, '--platform', 'linux/arm64'])).stdout).toBe(`${arm.children[0]?.manifest.digest ?? ''}\n`);
    if (s.engine !== undefined) {
      const api = engineApi(s.engine);
      try {
        const pulled = await api.post(`/images/create?fromImage=${encodeURIComponent(`${s.anonymous}/cross/app`)}&tag=latest&platform=linux/amd64`);
        expect(pulled.status, pulled.text).toBe(200);
        expect((await api.get(`/images/${s.anonymous}/cross/app:latest/json`)).json.Id).toBe(amd.children[0]?.config.digest);
      } finally {
        await api.close();
      }
    }
  });

  it('copies when the registry refuses the mount (an ordinary upload starts instead)', async () => {
    const proxy = await startSlowProxy(s.anonymous, Number.POSITIVE_INFINITY, { refuseMounts: true });
    try {
      await buildxOutput(s.anonymous, 'refused/app-amd64', { architecture: 'amd64' });
      const file = await specFile('refused.yml', `image: ${proxy.host}/refused/app:latest\nmanifests:\n  - image: ${proxy.host}/refused/app-amd64:latest\n`);
      const r = await cli(['manifest', 'push', '--from-spec', file]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/0 blobs mounted, 4 copied/);
      expect(proxy.requests.filter((l) => l.startsWith('POST') && l.includes('mount=')).length).toBe(4);
      // Each refused mount's upload session is cancelled, then the blob is uploaded.
      expect(proxy.requests.filter((l) => l.startsWith('DELETE /v2/refused/app/blobs/uploads/')).length).toBe(4);
      expect(proxy.requests.filter((l) => l.startsWith('PUT /v2/refused/app/blobs/uploads/')).length).toBe(4);
      expect((await rawIndex(`${s.anonymous}/refused/app:latest`)).manifests).toHaveLength(2);
    } finally {
      await proxy.stop();
    }
  });

  it('a source blob that does not match its digest fails the copy, names it, and writes no tag', async () => {
    const env = await tokenConfig();
    const src = await buildxOutput(s.anonymous, 'copysrc/corrupt', { architecture: 'amd64' });
    const layer = src.children[0]?.layers[0]?.digest ?? '';
    const hex = layer.slice('sha256:'.length);
    const data = join(s.anonymousStorage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    const bytes = await readFile(data);
    bytes[bytes.length - 3] = (bytes[bytes.length - 3] ?? 0) ^ 0xff;
    await writeFile(data, bytes);
    const file = await specFile('corrupt.yml', `image: ${s.token}/copydst/app:latest\nmanifests:\n  - image: ${s.anonymous}/copysrc/corrupt:latest\n`);
    const r = await cli(['manifest', 'push', '--from-spec', file], env);
    expect(r.code).toBe(8);
    expect(r.stderr).toContain(`${s.anonymous}/copysrc/corrupt@${layer}: the registry served ${bytes.length} bytes hashing to sha256:`);
    expect((await cli(['manifest', 'inspect', `${s.token}/copydst/app:latest`], env)).code).toBe(4);
  });

  it('Ctrl-C during a long copy stops it at once: exit 130, nothing tagged, no temporary files left', async () => {
    const proxy = await startSlowProxy(s.anonymous, 300_000);
    try {
      const img = buildImage({ platform: { os: 'linux', architecture: 'amd64' }, files: [{ path: 'big', content: randomBytes(3_000_000) }], format: 'docker', label: 'interrupt' });
      const p = new Pusher({ http, host: s.anonymous, repository: 'interrupt/src' });
      await p.image(img);
      await p.manifest(img.manifest, 'latest');
      const env = await tokenConfig();
      const tmp = await mkdtemp(join(s.tmp, 'interrupt-tmp-'));
      const file = await specFile('interrupt.yml', `image: ${s.token}/interrupt/dst:latest\nmanifests:\n  - image: ${proxy.host}/interrupt/src:latest\n`);
      const child = spawn(process.execPath, [cliPath, 'manifest', 'push', '--from-spec', file], { env: { PATH: process.env['PATH'], HOME: process.env['HOME'], TMPDIR: tmp, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      // Wait until the big layer is flowing through the (slow) proxy.
      for (let i = 0; i < 100 && proxy.blobRequests() === 0; i++) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 500));
      const sent = Date.now();
      child.kill('SIGINT');
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(code, err).toBe(130);
      expect(Date.now() - sent).toBeLessThan(3000);
      expect((await readdir(tmp)).filter((n) => n.startsWith('resolver-copy-'))).toEqual([]);
      expect((await cli(['manifest', 'inspect', `${s.token}/interrupt/dst:latest`], env)).code).toBe(4);
    } finally {
      await proxy.stop();
    }
  });
});
