/**
 * resolver's own container image, for real: `scripts/image.sh` builds the three children offline (Debian
 * packages, npm's and Debian's Node, the release tarball) and publishes them to a private docker-registry on
 * loopback with `resolver manifest push --from-spec`. Then: the index's platforms and each child's config;
 * `resolver which` of the tag picks the amd64 child the engine would pull; `docker run -d` of the tag on the
 * private dockerd (the docker CLI at its socket, the socket and a config mounted) runs the daemon, turns
 * `healthy` by the image's own HEALTHCHECK command, pre-pulls the configured image into that same engine,
 * reports the engine's platform from inside, comes back with its state after `docker restart`, and stops within its timeout on `docker stop` with exit 0; the
 * arm64 and arm/v7 children's Node runs `resolver --version` under qemu-user in a private user namespace
 * (packaging/qemu/in-userns.sh: binfmt_misc of its own, never the host's).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startRegistry, type RunningRegistry } from '../sandbox/registry-server.js';
import { ensureDeps, inRoot, removeRoot, socketPath } from './root.js';

const s = inject('services');
const exec = promisify(execFile);
const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };

interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: { readonly os: string; readonly architecture: string; readonly variant?: string };
}
interface ImageConfig {
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
  readonly config: {
    readonly Entrypoint: string[];
    readonly Cmd: string[];
    readonly Env: string[];
    readonly Labels: Record<string, string>;
    readonly Healthcheck: { readonly Test: string[]; readonly Interval: number; readonly Timeout: number; readonly Retries: number };
  };
  readonly rootfs: { readonly diff_ids: string[] };
}

describe.runIf(s.engine !== undefined)('scripts/image.sh: the multi-arch image of resolver, built offline and pushed by resolver', () => {
  let dir = '';
  let registry: RunningRegistry;
  let ref = '';
  let indexDigest = '';
  const docker = (args: readonly string[], timeout = 120_000) => exec('docker', ['-H', s.engine ?? '', ...args], { timeout, maxBuffer: 16 << 20, env: { PATH: process.env['PATH'], HOME: dir, DOCKER_CONFIG: join(dir, 'docker-cli') } });
  const get = async (path: string, accept: string): Promise<Buffer> => {
    const r = await fetch(`http://${registry.host}/v2/resolver${path}`, { headers: { accept }, signal: AbortSignal.timeout(60_000) });
    expect(r.status, path).toBe(200);
    return Buffer.from(await r.arrayBuffer());
  };
  const index = async (): Promise<Descriptor[]> => (JSON.parse((await get(`/manifests/${indexDigest}`, 'application/vnd.oci.image.index.v1+json')).toString('utf8')) as { manifests: Descriptor[] }).manifests;
  const childOf = async (platform: string): Promise<{ manifest: { config: Descriptor; layers: Descriptor[] }; config: ImageConfig }> => {
    const d = (await index()).find((m) => [m.platform?.os, m.platform?.architecture, m.platform?.variant].filter(Boolean).join('/') === platform);
    if (d === undefined) throw new Error(`no ${platform} child`);
    const manifest = JSON.parse((await get(`/manifests/${d.digest}`, d.mediaType)).toString('utf8')) as { config: Descriptor; layers: Descriptor[] };
    const config = JSON.parse((await get(`/blobs/${manifest.config.digest}`, '*/*')).toString('utf8')) as ImageConfig;
    return { manifest, config };
  };

  beforeAll(async () => {
    await ensureDeps();
    dir = await mkdtemp(join(s.tmp, 'image-'));
    registry = await startRegistry({ dir: join(dir, 'registry'), auth: { kind: 'none' } });
    ref = `${registry.host}/resolver:e2e`;
    const r = await exec(resolve('scripts/image.sh'), [ref], { timeout: 1_500_000, maxBuffer: 64 << 20, env: { ...process.env, SOURCE_DATE_EPOCH: '1764633600' } });
    indexDigest = r.stdout.trim();
    expect(indexDigest, r.stderr).toMatch(/^sha256:[0-9a-f]{64}$/);
  }, 1_800_000);

  afterAll(async () => {
    await docker(['rm', '-f', 'resolver-image-e2e']).catch(() => undefined);
    await docker(['rmi', '-f', ref]).catch(() => undefined);
    await registry.stop();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  it('the tag is an OCI index of linux/amd64, linux/arm64/v8 and linux/arm/v7, each child configured to match', async () => {
    const platforms = (await index()).map((m) => m.platform);
    expect(platforms).toEqual([
      { architecture: 'amd64', os: 'linux' },
      { architecture: 'arm64', os: 'linux', variant: 'v8' },
      { architecture: 'arm', os: 'linux', variant: 'v7' },
    ]);
    for (const [platform, arch, variant] of [['linux/amd64', 'amd64', undefined], ['linux/arm64/v8', 'arm64', 'v8'], ['linux/arm/v7', 'arm', 'v7']] as const) {
      const { manifest, config } = await childOf(platform);
      expect([config.os, config.architecture, config.variant]).toEqual(['linux', arch, variant]);
      expect(manifest.layers).toHaveLength(2);
      expect(config.rootfs.diff_ids).toHaveLength(2);
      expect(config.config.Entrypoint).toEqual(['resolver']);
      expect(config.config.Cmd).toEqual(['daemon']);
      expect(config.config.Healthcheck.Test).toEqual(['CMD', 'resolver', 'status']);
      // The daemon's malloc tuning is the unit's (systemd/resolver.service), so both measure as bench/ says.
      const unitMalloc = [...readFileSync('systemd/resolver.service', 'utf8').matchAll(/^Environment=(.*)$/gm)].flatMap((m) => (m[1] ?? '').split(' ')).filter((e) => e.startsWith('MALLOC_'));
      expect(unitMalloc.length).toBeGreaterThanOrEqual(3);
      expect(config.config.Env).toEqual(expect.arrayContaining(unitMalloc));
      expect(config.config.Labels['org.opencontainers.image.version']).toBe(pkg.version);
      expect(config.config.Labels['org.opencontainers.image.title']).toBe('resolver');
      expect(config.config.Labels['org.opencontainers.image.licenses']).toBe('Apache-2.0');
    }
    // The application layer is the same in every child; the runtime layers differ.
    const layers = await Promise.all(['linux/amd64', 'linux/arm64/v8', 'linux/arm/v7'].map(async (p) => (await childOf(p)).manifest.layers.map((l) => l.digest)));
    expect(new Set(layers.map((l) => l[1])).size).toBe(1);
    expect(new Set(layers.map((l) => l[0])).size).toBe(3);
  });

  it('resolver which of the tag picks the amd64 child, as the engine does', async () => {
    const amd64 = (await index()).find((m) => m.platform?.architecture === 'amd64')?.digest;
    const r = await exec(process.execPath, [resolve('bin/resolver.cjs'), 'which', ref], { timeout: 60_000, env: { PATH: process.env['PATH'], HOME: dir, DOCKER_HOST: s.engine ?? '' } });
    expect(r.stdout).toBe(`${amd64 ?? '?'}\n`);
  });

  it('docker run -d with the socket and a config mounted: healthy, pre-pulls into the same engine, engine platform inside, survives docker restart, stops within its timeout', async () => {
    const target = `${s.anonymous}/super-golang:latest`;
    const child = s.images['super-golang']?.children.find((c) => c.platform === 'linux/amd64')?.manifest;
    expect(child).toBeDefined();
    await docker(['rmi', '-f', target]).catch(() => undefined);
    await mkdir(join(dir, 'docker-cli'), { recursive: true });
    const config = join(dir, 'resolver.yaml');
    await writeFile(config, `schedule: "*/5 * * * * *"\nsplay: 0s\nshutdownTimeout: 5s\nimages:\n  - image: ${target}\n`);
    await docker([
      'run', '-d', '--name', 'resolver-image-e2e', '--network', 'host',
      '-v', `${socketPath(s.engine ?? '')}:/var/run/docker.sock`, '-v', `${config}:/etc/resolver/resolver.yaml:ro`,
      // The image's HEALTHCHECK command, probed every second (dockerd 20.10 has no start interval; its 30 s
      // interval would make this test wait 30 s for the first probe).
      '--health-interval', '1s', ref,
    ], 600_000);

    const end = Date.now() + 180_000;
    let health = '';
    let pulled = false;
    while (health !== 'healthy' || !pulled) {
      if (Date.now() > end) {
        const logs = await docker(['logs', '--tail', '40', 'resolver-image-e2e']).catch((e: unknown) => ({ stdout: '', stderr: String(e) }));
        throw new Error(`not healthy and pulled within 180 s (health ${health}, pulled ${String(pulled)}):\n${logs.stdout}${logs.stderr}`);
      }
      health = (await docker(['inspect', '-f', '{{if .State.Health}}{{.State.Health.Status}}{{end}} {{.State.Status}}', 'resolver-image-e2e'])).stdout.trim().split(' ')[0] ?? '';
      const img = await docker(['image', 'inspect', '-f', '{{json .RepoDigests}}', target]).catch(() => undefined);
      pulled = img?.stdout.includes(child ?? '?') === true;
      if (health !== 'healthy' || !pulled) await delay(500);
    }

    const status = JSON.parse((await docker(['exec', 'resolver-image-e2e', 'resolver', 'status', '--json'])).stdout) as { daemon: string; images: { childDigest?: string }[] };
    expect(status.daemon).toBe('running');
    expect(JSON.stringify(status.images)).toContain(child ?? '?');
    const platform = JSON.parse((await docker(['exec', 'resolver-image-e2e', 'resolver', 'platform', '--json'])).stdout) as { platform: string };
    expect(platform.platform).toMatch(/^linux\/amd64/);

    // docker restart: the daemon comes back with the state kept in the image's /var/lib/resolver volume.
    await docker(['restart', '-t', '20', 'resolver-image-e2e']);
    const back = Date.now() + 120_000;
    for (;;) {
      const r = await docker(['exec', 'resolver-image-e2e', 'resolver', 'status', '--json']).catch(() => undefined);
      const after = r === undefined ? undefined : (JSON.parse(r.stdout) as { daemon: string; images: { childDigest?: string }[] });
      if (after?.daemon === 'running' && JSON.stringify(after.images).includes(child ?? '?')) break;
      if (Date.now() > back) throw new Error(`the daemon did not come back with its state within 120 s after docker restart: ${r?.stdout ?? ''}`);
      await delay(500);
    }

    const started = Date.now();
    await docker(['stop', '-t', '20', 'resolver-image-e2e']);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect((await docker(['inspect', '-f', '{{.State.ExitCode}}', 'resolver-image-e2e'])).stdout.trim()).toBe('0');
  }, 900_000);

  it.each(['linux/arm64/v8', 'linux/arm/v7'])('the %s child runs resolver --version on its own Node under qemu-user', async (platform) => {
    const { manifest } = await childOf(platform);
    const root = await mkdtemp(join(dir, 'root-'));
    try {
      for (const l of manifest.layers) {
        const tarFile = join(dir, `${l.digest.slice(7)}.tar`);
        await writeFile(tarFile, gunzipSync(await get(`/blobs/${l.digest}`, '*/*')));
        await exec('tar', ['-xf', tarFile, '-C', root], { timeout: 120_000 });
        await rm(tarFile);
      }
      const r = await inRoot(root, ['/usr/bin/resolver', '--version'], { timeoutMs: 300_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(pkg.version);
      const arch = await inRoot(root, ['/usr/bin/node', '-p', 'process.arch'], { timeoutMs: 300_000 });
      expect(arch.stdout.trim()).toBe(platform === 'linux/arm64/v8' ? 'arm64' : 'arm');
    } finally {
      await removeRoot(root);
    }
  }, 900_000);
});
