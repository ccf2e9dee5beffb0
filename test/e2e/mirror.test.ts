/**
 * Mirrors in the registry client (docs/mirrors.md), through the built CLI: hosts.toml in a temp folder
 * (RESOLVER_HOSTS_DIRS), the harness's real docker-registry as the origin behind a counting proxy, a real
 * docker-registry in proxy mode as a good mirror, and loopback fakes for what a real mirror will not do on
 * demand (lie about bytes, answer 503/429/404/401/403, be down). Requests are counted at the servers.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { closeLoopbackServers, startLoopbackServer, type LoopbackServer } from '../fakes/loopback-server.js';
import { startFaultProxy, type FaultProxy } from '../reliability/fault-proxy.js';
import { freePort, startRegistry, type RunningRegistry } from '../sandbox/registry-server.js';
import { cli } from './cli.js';

const s = inject('services');
const amd64 = s.images['super-golang']?.children.find((c) => c.platform === 'linux/amd64')?.manifest ?? '';
const index = s.images['super-golang']?.index ?? '';

let origin: FaultProxy;
let mirror: RunningRegistry;
let liar: LoopbackServer;
const failing: LoopbackServer[] = [];
let dead = '';
let tmp = '';

/** Writes `hosts.toml` for the origin's namespace in a fresh folder; returns the env that points resolver at it. */
async function hostsToml(text: string): Promise<Record<string, string>> {
  const root = await mkdtemp(join(tmp, 'certs.d-'));
  const [host, port] = origin.host.split(':');
  await mkdir(join(root, `${host}_${port}_`), { recursive: true });
  await writeFile(join(root, `${host}_${port}_`, 'hosts.toml'), text);
  return { RESOLVER_HOSTS_DIRS: root, RESOLVER_DOCKER_DAEMON_JSON: '' };
}
const host = (url: string, caps = '["pull"]'): string => `[host."${url}"]\n  capabilities = ${caps}\n`;
const fromResolver = (since: number): string[] => origin.log().slice(since).filter((r) => r.client === 'resolver').map((r) => `${r.method} ${r.path}`);

beforeAll(async () => {
  tmp = await mkdtemp(join(s.tmp, 'mirror-'));
  origin = await startFaultProxy(s.anonymous, { rate: 0 });
  mirror = await startRegistry({ dir: join(tmp, 'proxy'), auth: { kind: 'none' }, proxy: { remoteurl: `http://${origin.host}` } });
  // Serves other bytes for anything by digest, with the right headers: only hashing catches it.
  liar = await startLoopbackServer((req, res) => {
    const digest = /\/(sha256:[0-9a-f]{64})/.exec(req.url ?? '')?.[1];
    if (digest === undefined) {
      res.writeHead(404).end();
      return;
    }
    const body = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}');
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json', 'docker-content-digest': digest, 'content-length': body.length }).end(req.method === 'HEAD' ? undefined : body);
  });
  for (const [status, headers] of [[503, {}], [429, { 'retry-after': '1' }], [404, {}], [401, { 'www-authenticate': 'Basic realm="mirror"' }], [403, {}]] as const) {
    failing.push(await startLoopbackServer((_req, res) => res.writeHead(status, { 'content-type': 'application/json', ...headers }).end('{"errors":[{"code":"UNKNOWN"}]}')));
  }
  dead = `127.0.0.1:${await freePort()}`;
}, 60_000);
afterAll(async () => {
  await closeLoopbackServers();
  await mirror.stop();
  await origin.stop();
});

describe('registry mirrors (hosts.toml)', () => {
  it('a mirror serving other bytes is skipped, never a result: the index comes from the origin', async () => {
    const env = await hostsToml(host(liar.url));
    const since = origin.log().length;
    const r = await cli(['which', `${origin.host}/super-golang:latest`, '--platform', 'linux/amd64'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${amd64}\n`);
    expect(liar.requests.map((q) => `${q.method} ${q.url}`)).toEqual([`GET /v2/super-golang/manifests/${index}?ns=${encodeURIComponent(origin.host)}`]);
    expect(fromResolver(since)).toEqual(['HEAD /v2/super-golang/manifests/latest', `GET /v2/super-golang/manifests/${index}`]);
    expect(r.stderr).toMatch(new RegExp(`warning: mirror ${liar.host} skipped for ${origin.host}/super-golang@${index}: served \\d+ bytes hashing to sha256:[0-9a-f]{64}, not ${index}; trying the next host`));
  });

  it('falls back past a mirror that is down, and ones that answer 503, 429, 404, 401 and 403, in file order', async () => {
    const env = await hostsToml([`http://${dead}`, ...failing.map((f) => f.url)].map((u) => host(u)).join(''));
    const since = origin.log().length;
    const started = Date.now();
    const r = await cli(['which', `${origin.host}/super-golang:latest`, '--platform', 'linux/amd64'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${amd64}\n`);
    // Each failing mirror was asked once (no retry of a mirror's 429/5xx: the next host is the retry).
    expect(failing.map((f) => f.requests.length)).toEqual([1, 1, 1, 1, 1]);
    expect(fromResolver(since)).toEqual(['HEAD /v2/super-golang/manifests/latest', `GET /v2/super-golang/manifests/${index}`]);
    const skipped = r.stderr.split('\n').filter((l) => l.includes('skipped')).map((l) => /mirror (\S+) skipped/.exec(l)?.[1]);
    expect(skipped).toEqual([dead, ...failing.map((f) => f.host)]);
    expect(r.stderr).toContain('HTTP 503');
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('a pull-through mirror (docker-registry proxy mode) serves the index; the origin sees only the HEAD of the tag once it is cached', async () => {
    const env = await hostsToml(host(`http://${mirror.host}`));
    const args = ['which', `${origin.host}/super-golang:latest`, '--platform', 'linux/amd64'];
    const first = await cli(args, env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe(`${amd64}\n`);
    const since = origin.log().length;
    const second = await cli(args, env);
    expect(second.stdout).toBe(`${amd64}\n`);
    expect(second.stderr).toBe('');
    // resolver: one HEAD at the origin; the mirror answered the index from its cache (nothing reached the origin).
    expect(origin.log().slice(since).map((q) => `${q.client} ${q.method} ${q.path}`)).toEqual(['resolver HEAD /v2/super-golang/manifests/latest']);
  });

  it('a mirror with "resolve" answers the tag too: resolver sends nothing to the origin', async () => {
    const env = await hostsToml(host(`http://${mirror.host}`, '["pull", "resolve"]'));
    const since = origin.log().length;
    const r = await cli(['which', `${origin.host}/super-golang:latest`, '--platform', 'linux/amd64'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${amd64}\n`);
    expect(fromResolver(since)).toEqual([]);
  });

  it('a server that is the mirror alone: the origin is never asked, and a failing mirror is the error', async () => {
    const env = await hostsToml(`server = "${failing[0]?.url ?? ''}"\n`);
    const since = origin.log().length;
    const r = await cli(['which', `${origin.host}/super-golang:latest`, '--platform', 'linux/amd64'], env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/503/);
    expect(fromResolver(since)).toEqual([]);
  });

  it('a broken hosts.toml: one warning naming the file, and the registry is used without mirrors', async () => {
    const env = await hostsToml('[host."http://x"]\ncapabilities = ["pull", "teleport"]\n');
    const r = await cli(['which', `${origin.host}/super-golang:latest`, '--platform', 'linux/amd64'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${amd64}\n`);
    expect(r.stderr).toMatch(/^warning: \S+hosts\.toml: host\."http:\/\/x"\.capabilities: unknown capability "teleport" \(pull, resolve or push\); \S+ is used without mirrors\n$/);
  });
});
