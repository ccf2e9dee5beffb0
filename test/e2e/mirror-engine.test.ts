/**
 * The engine pulls through the mirror too (docs/mirrors.md), with real engines and real registries on loopback:
 * the origin (the harness's docker-registry) and a pull-through mirror (docker-registry in proxy mode), each
 * behind a counting proxy that tells dockerd's requests (User-Agent docker/…) from the others.
 * - Classic store (Debian's dockerd 20.10): it knows no hosts.toml, so resolver pulls the child from the
 *   mirror's name by digest and tags it under the origin's name.
 * - containerd store (dockerd 26.1.5 with containerd-snapshotter): newer moby reads /etc/docker/certs.d/HOST/hosts.toml
 *   (containerd's ConfigureHosts; registry.CertsDir(), not configurable), so this dockerd runs in a private mount
 *   namespace (`unshare --mount`) with a temp folder bind-mounted over /etc/docker holding the mirror's hosts.toml
 *   (both `host_port_` and `host:port` folders); the real /etc is not touched. Measured: 26.1.5 ignores it and pulls
 *   from the origin, so resolver names the mirror on this store too, and the origin still sees nothing.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from '../reliability/fault-proxy.js';
import { startDockerd, type RunningDockerd } from '../sandbox/dockerd.js';
import { startRegistry, type RunningRegistry } from '../sandbox/registry-server.js';
import { cli } from './cli.js';
import { engineApi } from './engine-api.js';

const s = inject('services');
const oracleBinary = [process.env['RESOLVER_ORACLE_DOCKERD'], resolve('.tmp/oracle/usr/sbin/dockerd')].find((p) => p !== undefined && p !== '' && existsSync(p));
const amd64 = s.images['super-golang']?.children.find((c) => c.platform === 'linux/amd64')?.manifest ?? '';

let origin: FaultProxy;
let mirrorRegistry: RunningRegistry;
let mirror: FaultProxy;
let tmp = '';
let etcDocker = '';
let c8d: RunningDockerd | undefined;

const fromDockerd = (p: FaultProxy, since = 0): string[] => p.log().slice(since).filter((r) => r.userAgent.startsWith("docker/")).map((r) => `${r.method} ${r.path}`);

beforeAll(async () => {
  tmp = await mkdtemp(join(s.tmp, 'mirror-engine-'));
  origin = await startFaultProxy(s.anonymous, { rate: 0 });
  mirrorRegistry = await startRegistry({ dir: join(tmp, 'proxy'), auth: { kind: 'none' }, proxy: { remoteurl: `http://${origin.host}` } });
  mirror = await startFaultProxy(mirrorRegistry.host, { rate: 0 });
  etcDocker = join(tmp, 'etc-docker');
  const [host, port] = origin.host.split(':');
  const nsDir = join(etcDocker, 'certs.d', `${host}_${port}_`);
  await mkdir(nsDir, { recursive: true });
  await writeFile(join(nsDir, 'hosts.toml'), `[host."http://${mirror.host}"]\n  capabilities = ["pull"]\n`);
  await mkdir(join(etcDocker, 'certs.d', origin.host), { recursive: true });
  await writeFile(join(etcDocker, 'certs.d', origin.host, 'hosts.toml'), `[host."http://${mirror.host}"]\n  capabilities = ["pull"]\n`);
}, 60_000);
afterAll(async () => {
  await c8d?.stop();
  await mirror.stop();
  await mirrorRegistry.stop();
  await origin.stop();
}, 60_000);

const env = (dockerHost: string, stateName: string): Record<string, string> => ({
  DOCKER_HOST: dockerHost, RESOLVER_HOSTS_DIRS: join(etcDocker, 'certs.d'), RESOLVER_DOCKER_DAEMON_JSON: '', RESOLVER_STATE_DIR: join(tmp, stateName),
});

describe.runIf(s.engine !== undefined)('classic store (dockerd 20.10): pulls from the mirror\'s name, tags under the origin\'s', () => {
  it('the child comes from the mirror; dockerd sends nothing to the origin; a second pull pulls nothing', async () => {
    const api = engineApi(s.engine ?? '');
    try {
      const ref = `${origin.host}/super-golang:latest`;
      const originBefore = origin.log().length;
      const r = await cli(['pull', ref, '--platform', 'linux/amd64'], env(s.engine ?? '', 'state-classic'));
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`${amd64}\n`);
      expect(fromDockerd(origin, originBefore)).toEqual([]);
      expect(fromDockerd(mirror)).toContain(`GET /v2/super-golang/manifests/${amd64}`);
      const image = (await api.get(`/images/${ref}/json`)).json;
      expect(image.RepoTags).toContain(ref);
      expect(image.RepoDigests).toContain(`${mirror.host}/super-golang@${amd64}`);
      const again = await cli(['pull', ref, '--platform', 'linux/amd64'], env(s.engine ?? '', 'state-classic'));
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toMatch(/already present, nothing pulled/);
    } finally {
      await api.close();
    }
  });
});

describe.runIf(oracleBinary !== undefined && process.getuid?.() === 0)('containerd store (dockerd 26.1.5, hosts.toml in its /etc/docker/certs.d): the child comes from the mirror', () => {
  beforeAll(async () => {
    // A private mount namespace: /etc/docker is the temp folder for this dockerd (and its containerd) only.
    const wrapper = join(tmp, 'dockerd-in-namespace.sh');
    await writeFile(wrapper, `#!/bin/sh\nexec unshare --mount --propagation private sh -c 'mount --bind "$1" /etc/docker && shift && exec "$@"' sh ${JSON.stringify(etcDocker)} ${JSON.stringify(resolve(oracleBinary ?? ''))} "$@"\n`);
    await chmod(wrapper, 0o755);
    const dir = join(tmp, 'c8d');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'daemon.json'), JSON.stringify({ features: { 'containerd-snapshotter': true } }));
    c8d = await startDockerd({ binary: wrapper, dir, extraArgs: ['--config-file', join(dir, 'daemon.json'), '--storage-driver', 'native'] });
  }, 90_000);

  it('the engine fetches the child and its blobs from the mirror, none from the origin; the image carries the origin\'s name and digest', async () => {
    const dockerHost = c8d?.dockerHost ?? '';
    const api = engineApi(dockerHost);
    try {
      const ref = `${origin.host}/super-golang:latest`;
      const originBefore = origin.log().length;
      const mirrorBefore = mirror.log().length;
      const r = await cli(['pull', ref, '--platform', 'linux/amd64'], env(dockerHost, 'state-c8d'));
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`${amd64}\n`);
      expect(fromDockerd(origin, originBefore)).toEqual([]);
      const viaMirror = fromDockerd(mirror, mirrorBefore);
      expect(viaMirror.some((l) => l.endsWith(`/manifests/${amd64}`))).toBe(true);
      expect(viaMirror.some((l) => l.startsWith('GET /v2/super-golang/blobs/'))).toBe(true);
      const image = (await api.get(`/images/${ref}/json`)).json;
      expect(image.Id).toBe(amd64);
      expect(image.RepoDigests).toContain(`${origin.host}/super-golang@${amd64}`);
    } finally {
      await api.close();
    }
  });
});
