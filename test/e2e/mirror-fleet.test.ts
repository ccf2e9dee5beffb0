/**
 * The site mirror deployment (issue 12 §1; docs/mirrors.md "A site mirror, measured"): Debian's docker-registry in
 * proxy mode (`proxy.remoteurl`) in front of an origin registry, and 20 devices behind it. What the origin pays
 * for a change of the tag is counted at the origin, by a counting proxy in front of it, by kind of request.
 *
 * - The origin: a private docker-registry with `fleet/app:stable` (an index: linux/amd64 and linux/arm64 children,
 *   two layers each, the lower one shared by v1 and v2), behind the counting proxy; the images are named by the
 *   proxy's address, so every read of the origin is counted.
 * - The mirror: docker-registry 2.8 in proxy mode, `remoteurl` = the counting proxy (packaging/mirror/config.yml).
 * - 20 devices: 20 runs of the built `resolver check`, each with its own config, device id (rollout.deviceId) and
 *   state folder, with the mirror as a pull host for the origin's namespace (resolver.yaml `mirrors.hosts`), so
 *   resolver reads content by digest from the mirror and has the engine pull the child from the mirror's name.
 * - The engine side is honest but shared: one private dockerd 20.10 (the harness's), which forgets the image after
 *   each device (the image is removed, layers too), so every device's check makes a real engine pull through the
 *   mirror. Devices run one after the other, as a fleet's splay spreads them (concurrent misses at the mirror are
 *   not what this measures).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient } from '../../src/http/http.js';
import { startFaultProxy, type FaultProxy } from '../reliability/fault-proxy.js';
import { buildIndex, buildLayeredImage, platformObject, type BuiltImage, type TarEntry } from '../sandbox/oci-builder.js';
import { Pusher } from '../sandbox/push.js';
import { startRegistry, type RunningRegistry } from '../sandbox/registry-server.js';
import { cli } from './cli.js';
import { engineApi } from './engine-api.js';

const s = inject('services');
const devices = 20;
const http = createHttpClient();

let originRegistry: RunningRegistry;
let origin: FaultProxy;
let mirror: RunningRegistry;
let tmp = '';

const base: TarEntry[] = [{ path: 'base.bin', content: randomBytes(200_000) }];
function release(version: string): { amd64: BuiltImage; arm64: BuiltImage; index: ReturnType<typeof buildIndex> } {
  const app = (arch: string): TarEntry[] => [{ path: 'app.bin', content: randomBytes(300_000) }, { path: 'version', content: Buffer.from(`${version} ${arch}\n`) }];
  const amd64 = buildLayeredImage({ platform: { os: 'linux', architecture: 'amd64' }, layers: [base, app('amd64')], label: version, format: 'oci' });
  const arm64 = buildLayeredImage({ platform: { os: 'linux', architecture: 'arm64' }, layers: [base, app('arm64')], label: version, format: 'oci' });
  const index = buildIndex([{ manifest: amd64.manifest, platform: platformObject(amd64.platform) }, { manifest: arm64.manifest, platform: platformObject(arm64.platform) }], 'oci');
  return { amd64, arm64, index };
}

async function publish(r: ReturnType<typeof release>): Promise<void> {
  const pusher = new Pusher({ http, host: originRegistry.host, repository: 'fleet/app' });
  await pusher.image(r.amd64);
  await pusher.image(r.arm64);
  await pusher.manifest(r.index, 'stable');
}

/** What an origin request is: who sent it, and which kind of read. */
type Kind = 'tag HEAD' | 'tag GET' | 'manifest HEAD by digest' | 'manifest GET by digest' | 'blob HEAD' | 'blob GET' | 'ping' | `other ${string}`;
function kindOf(method: string, path: string): Kind {
  if (path === '/v2/' || path === '/v2') return 'ping';
  const m = /^\/v2\/fleet\/app\/(manifests|blobs)\/([^/?]+)$/.exec(path);
  if (m === null) return `other ${method} ${path}`;
  const byDigest = m[2]?.startsWith('sha256:') === true;
  if (m[1] === 'blobs') return method === 'HEAD' ? 'blob HEAD' : 'blob GET';
  if (!byDigest) return method === 'HEAD' ? 'tag HEAD' : 'tag GET';
  return method === 'HEAD' ? 'manifest HEAD by digest' : 'manifest GET by digest';
}
function who(userAgent: string): 'resolver' | 'dockerd' | 'mirror' {
  if (/^resolver\b/i.test(userAgent)) return 'resolver';
  return userAgent.startsWith('docker/') ? 'dockerd' : 'mirror';
}
/** The origin's requests since `since`, counted as `who kind` → n, and the GETs per blob digest. */
function counts(since: number): { byKind: Record<string, number>; blobGets: Map<string, number>; manifestGets: Map<string, number> } {
  const byKind: Record<string, number> = {};
  const blobGets = new Map<string, number>();
  const manifestGets = new Map<string, number>();
  for (const q of origin.log().slice(since)) {
    const kind = kindOf(q.method, q.path);
    const key = `${who(q.userAgent)} ${kind}`;
    byKind[key] = (byKind[key] ?? 0) + 1;
    const digest = /\/(sha256:[0-9a-f]{64})$/.exec(q.path)?.[1] ?? '';
    if (kind === 'blob GET') blobGets.set(digest, (blobGets.get(digest) ?? 0) + 1);
    if (kind === 'manifest GET by digest') manifestGets.set(digest, (manifestGets.get(digest) ?? 0) + 1);
  }
  return { byKind, blobGets, manifestGets };
}

async function deviceConfig(n: number): Promise<string> {
  const file = join(tmp, `device-${n}.yaml`);
  await writeFile(file, [
    'engine:', `  host: ${s.engine ?? ''}`,
    'schedule: "0 0 1 1 *"', 'splay: 0s', `stateDir: ${join(tmp, `state-${n}`)}`,
    'rollout:', `  deviceId: device-${n}`,
    'mirrors:', '  hostsDirs: []', '  daemonConfig: false', '  hosts:', `    "${origin.host}":`, '      host:', `        "http://${mirror.host}":`, '          capabilities: ["pull"]',
    'images:', `  - image: ${origin.host}/fleet/app:stable`, '    platform: linux/amd64', '',
  ].join('\n'));
  return file;
}

/** Runs every device's check once; after each, the engine forgets the image so that the next device pulls. */
async function roundOfChecks(child: string): Promise<{ results: string[]; pulledFrom: Set<string>; servedBy: unknown[] }> {
  const api = engineApi(s.engine ?? '');
  const results: string[] = [];
  const servedBy: unknown[] = [];
  const pulledFrom = new Set<string>();
  try {
    for (let n = 1; n <= devices; n++) {
      const r = await cli(['check', '--config', await deviceConfig(n), '--json']);
      expect(r.code, r.stderr).toBe(0);
      const [status] = JSON.parse(r.stdout) as { lastResult: string; childDigest: string; servedBy?: unknown }[];
      expect(status?.childDigest).toBe(child);
      results.push(status?.lastResult ?? '');
      servedBy.push(status?.servedBy);
      const image = (await api.get(`/images/${origin.host}/fleet/app:stable/json`)).json as { Id: string; RepoDigests: string[] };
      for (const d of image.RepoDigests) pulledFrom.add(d.split('@')[0] ?? '');
      expect(await api.del(`/images/${image.Id}?force=1`)).toBe(200);
    }
  } finally {
    await api.close();
  }
  return { results, pulledFrom, servedBy };
}

beforeAll(async () => {
  tmp = await mkdtemp(join(s.tmp, 'mirror-fleet-'));
  originRegistry = await startRegistry({ dir: join(tmp, 'origin'), auth: { kind: 'none' } });
  origin = await startFaultProxy(originRegistry.host, { rate: 0 });
  // packaging/mirror/config.yml's proxy section, pointed at the counting proxy.
  mirror = await startRegistry({ dir: join(tmp, 'mirror'), auth: { kind: 'none' }, proxy: { remoteurl: `http://${origin.host}`, ttl: '168h' } });
}, 60_000);
afterAll(async () => {
  await mirror.stop();
  await origin.stop();
  await originRegistry.stop();
  await http.close();
});

describe.runIf(s.engine !== undefined)('a site mirror (docker-registry proxy mode) in front of the origin, 20 devices behind it', () => {
  it('a change of the tag costs the origin one index GET and one child pull; resolver sends only HEADs of the tag', async () => {
    const v1 = release('v1');
    await publish(v1);
    const first = await roundOfChecks(v1.amd64.manifest.digest);
    expect(first.results).toEqual(Array.from({ length: devices }, () => 'pulled'));
    // The engine pulled from the mirror's name, never the origin's.
    expect([...first.pulledFrom]).toEqual([`${mirror.host}/fleet/app`]);

    const v2 = release('v2');
    await publish(v2);
    const since = origin.log().length;
    const second = await roundOfChecks(v2.amd64.manifest.digest);
    expect(second.results).toEqual(Array.from({ length: devices }, () => 'pulled'));
    // Which host answered, as `check --json`, the state file and `status` show it: the tag at the origin, the
    // content (the engine's pull) from the mirror.
    const served = { resolve: origin.host, content: mirror.host };
    expect(second.servedBy).toEqual(Array.from({ length: devices }, () => served));
    const state = JSON.parse(await readFile(join(tmp, 'state-1', 'state.json'), 'utf8')) as { images: Record<string, { servedBy?: unknown }> };
    expect(Object.values(state.images).map((r) => r.servedBy)).toEqual([served]);
    const table = await cli(['status', '--config', join(tmp, 'device-1.yaml')]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/SERVED BY/);
    expect(table.stdout).toContain(`${origin.host}, content ${mirror.host}`);
    const json = JSON.parse((await cli(['status', '--config', join(tmp, 'device-1.yaml'), '--json'])).stdout) as { images: { servedBy?: unknown }[] };
    expect(json.images.map((i) => i.servedBy)).toEqual([served]);
    const c = counts(since);
    const report = { byKind: c.byKind, blobGets: Object.fromEntries(c.blobGets), manifestGets: Object.fromEntries(c.manifestGets) };
    process.stdout.write(`origin requests for one change, ${devices} devices behind the mirror:\n${JSON.stringify(report, null, 2)}\n`);
    await writeFile(join(tmp, 'counts.json'), JSON.stringify(report, null, 2));

    // resolver: one HEAD of the tag per device and check (free on Hub), nothing else at the origin.
    expect(c.byKind['resolver tag HEAD']).toBe(devices);
    expect(Object.keys(c.byKind).filter((k) => k.startsWith('resolver ') && k !== 'resolver tag HEAD')).toEqual([]);
    // dockerd never reached the origin.
    expect(Object.keys(c.byKind).filter((k) => k.startsWith('dockerd '))).toEqual([]);
    // The mirror: the new index once and the new amd64 child once (by digest), no tag requests; nothing for arm64.
    expect(c.manifestGets).toEqual(new Map([[v2.index.digest, 1], [v2.amd64.manifest.digest, 1]]));
    expect(c.byKind['mirror tag HEAD'] ?? 0).toBe(0);
    expect(c.byKind['mirror tag GET'] ?? 0).toBe(0);
    // Blobs: only the child's new ones (its config and upper layer), each once or twice (distribution 2.8's
    // proxy fetches a missed blob twice); never the shared base layer, which the mirror holds since v1.
    const wanted = [v2.amd64.config.digest, v2.amd64.layers[1]?.digest ?? ''];
    expect([...c.blobGets.keys()].sort()).toEqual([...wanted].sort());
    for (const d of wanted) expect(c.blobGets.get(d)).toBeGreaterThanOrEqual(1);
    for (const d of wanted) expect(c.blobGets.get(d)).toBeLessThanOrEqual(2);
    expect(JSON.parse(await readFile(join(tmp, 'counts.json'), 'utf8'))).toEqual(report);
  }, 600_000);
});
