/**
 * hosts.toml `ca`, `client`, `skip_verify` and `[header]` applied (docs/mirrors.md), through the built CLI against
 * real registries: Debian's docker-registry in proxy mode in front of the harness's origin (behind a counting
 * proxy), serving HTTPS with a certificate from a private CA, and a second one that requires a client certificate
 * from that CA (`http.tls.clientcas`). Headers are checked at loopback servers, which record what they receive.
 * A host given a `ca` is verified against it even on loopback (where resolver otherwise skips verification, as
 * dockerd does), so a wrong CA is a TLS failure and the next host (the origin) answers.
 */
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { closeLoopbackServers, startLoopbackServer, type LoopbackServer } from '../fakes/loopback-server.js';
import { startFaultProxy, type FaultProxy } from '../reliability/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../sandbox/registry-server.js';
import { cli } from './cli.js';

const s = inject('services');
const amd64 = s.images['super-golang']?.children.find((c) => c.platform === 'linux/amd64')?.manifest ?? '';
const index = s.images['super-golang']?.index ?? '';

let origin: FaultProxy;
let tlsMirror: RunningRegistry;
let mtlsMirror: RunningRegistry;
let tmp = '';
let pki = '';

const openssl = (args: string[]): void => void execFileSync('openssl', args, { cwd: pki, stdio: 'ignore' });
/** A key and certificate signed by `ca`, with `ext` (subjectAltName, extendedKeyUsage) lines. */
async function leaf(name: string, ca: string, ext: string): Promise<void> {
  await writeFile(join(pki, `${name}.ext`), ext);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '30', '-extfile', `${name}.ext`, '-out', `${name}.pem`]);
}

/** hosts.toml for the origin's namespace in a fresh folder, with `files` copied next to it; the env pointing resolver at it. */
async function hostsToml(text: string, files: readonly string[] = []): Promise<Record<string, string>> {
  const root = await mkdtemp(join(tmp, 'certs.d-'));
  const [host, port] = origin.host.split(':');
  const dir = join(root, `${host}_${port}_`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'hosts.toml'), text);
  for (const f of files) await copyFile(join(pki, f), join(dir, f));
  return { RESOLVER_HOSTS_DIRS: root, RESOLVER_DOCKER_DAEMON_JSON: '' };
}
const fromResolver = (since: number): string[] => origin.log().slice(since).filter((r) => r.client === 'resolver').map((r) => `${r.method} ${r.path}`);
const which = (env: Record<string, string>): ReturnType<typeof cli> => cli(['which', `${origin.host}/super-golang:latest`, '--platform', 'linux/amd64'], env);
const headOnly = ['HEAD /v2/super-golang/manifests/latest'];
const headAndIndex = ['HEAD /v2/super-golang/manifests/latest', `GET /v2/super-golang/manifests/${index}`];

beforeAll(async () => {
  tmp = await mkdtemp(join(s.tmp, 'mirror-tls-'));
  pki = join(tmp, 'pki');
  await mkdir(pki);
  for (const ca of ['ca', 'other-ca']) openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '30', '-subj', `/CN=${ca}`]);
  await leaf('server', 'ca', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await leaf('client', 'ca', 'extendedKeyUsage=clientAuth\n');
  await writeFile(join(pki, 'client-both.pem'), `${await readFile(join(pki, 'client.pem'), 'utf8')}${await readFile(join(pki, 'client.key'), 'utf8')}`);
  origin = await startFaultProxy(s.anonymous, { rate: 0 });
  const tls = { certificate: join(pki, 'server.pem'), key: join(pki, 'server.key') };
  tlsMirror = await startRegistry({ dir: join(tmp, 'tls'), auth: { kind: 'none' }, proxy: { remoteurl: `http://${origin.host}` }, tls });
  mtlsMirror = await startRegistry({ dir: join(tmp, 'mtls'), auth: { kind: 'none' }, proxy: { remoteurl: `http://${origin.host}` }, tls: { ...tls, clientcas: [join(pki, 'ca.pem')] } });
  // Each mirror fetches the index from the origin once, so that later counts at the origin are resolver's alone.
  for (const m of [tlsMirror, mtlsMirror]) {
    const env = await hostsToml(`[host."https://${m.host}"]\n  capabilities = ["pull"]\n  skip_verify = true\n  client = [["client.pem", "client.key"]]\n`, ['client.pem', 'client.key']);
    const r = await which(env);
    expect(r.code, r.stderr).toBe(0);
  }
}, 120_000);
afterAll(async () => {
  await closeLoopbackServers();
  await tlsMirror.stop();
  await mtlsMirror.stop();
  await origin.stop();
});

describe('hosts.toml ca, client and skip_verify (docker-registry behind TLS with a private CA)', () => {
  it('ca (relative to the hosts file): the mirror is verified with it and serves the index; the origin sees only the HEAD', async () => {
    const env = await hostsToml(`[host."https://${tlsMirror.host}"]\n  capabilities = ["pull"]\n  ca = "ca.pem"\n`, ['ca.pem']);
    const since = origin.log().length;
    const r = await which(env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${amd64}\n`);
    expect(r.stderr).toBe('');
    expect(fromResolver(since)).toEqual(headOnly);
  });

  it('ca as a list; a CA that did not sign the mirror\'s certificate is a TLS failure: skipped, the origin serves', async () => {
    const env = await hostsToml(`[host."https://${tlsMirror.host}"]\n  capabilities = ["pull"]\n  ca = ["other-ca.pem"]\n`, ['other-ca.pem']);
    const since = origin.log().length;
    const r = await which(env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${amd64}\n`);
    expect(r.stderr).toMatch(new RegExp(`warning: mirror ${tlsMirror.host} skipped for \\S+: TLS connection to ${tlsMirror.host} failed`));
    expect(fromResolver(since)).toEqual(headAndIndex);
  });

  it('skip_verify = true wins over a wrong ca: the mirror serves', async () => {
    const env = await hostsToml(`[host."https://${tlsMirror.host}"]\n  capabilities = ["pull"]\n  ca = "other-ca.pem"\n  skip_verify = true\n`, ['other-ca.pem']);
    const since = origin.log().length;
    const r = await which(env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(fromResolver(since)).toEqual(headOnly);
  });

  it('a mirror that requires a client certificate: without one it is skipped; [cert, key] and a combined PEM both work', async () => {
    const none = await hostsToml(`[host."https://${mtlsMirror.host}"]\n  capabilities = ["pull"]\n  ca = "ca.pem"\n`, ['ca.pem']);
    let since = origin.log().length;
    const refused = await which(none);
    expect(refused.code, refused.stderr).toBe(0);
    expect(refused.stderr).toMatch(new RegExp(`warning: mirror ${mtlsMirror.host} skipped`));
    expect(fromResolver(since)).toEqual(headAndIndex);

    for (const client of ['[["client.pem", "client.key"]]', '"client-both.pem"']) {
      const env = await hostsToml(`[host."https://${mtlsMirror.host}"]\n  capabilities = ["pull"]\n  ca = "ca.pem"\n  client = ${client}\n`, ['ca.pem', 'client.pem', 'client.key', 'client-both.pem']);
      since = origin.log().length;
      const r = await which(env);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`${amd64}\n`);
      expect(r.stderr, client).toBe('');
      expect(fromResolver(since)).toEqual(headOnly);
    }
  });

  it('a missing or unusable file: one warning naming it, and the registry is used without mirrors', async () => {
    const missing = await hostsToml(`[host."https://${tlsMirror.host}"]\n  ca = "absent.pem"\n`);
    const r = await which(missing);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^warning: \S+hosts\.toml: host 127\.0\.0\.1:\d+: ca: cannot read \S+absent\.pem \(ENOENT\); \S+ is used without mirrors\n$/);
    const mismatched = await hostsToml(`[host."https://${mtlsMirror.host}"]\n  client = [["client.pem", "server.key"]]\n`, ['client.pem', 'server.key']);
    const m = await which(mismatched);
    expect(m.code, m.stderr).toBe(0);
    expect(m.stderr).toMatch(/client\.pem, \S+server\.key: not a usable CA, certificate and key \(.*\); \S+ is used without mirrors\n$/);
    expect(m.stderr).not.toContain('PRIVATE KEY');
  });
});

describe('hosts.toml headers (loopback servers record them)', () => {
  let mirror: LoopbackServer;
  let server: LoopbackServer;
  beforeAll(async () => {
    mirror = await startLoopbackServer((_req, res) => res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}'));
    server = await startLoopbackServer((_req, res) => res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}'));
  });

  it('[host."URL".header] goes to that host, the root [header] to the server; values are never printed', async () => {
    const env = await hostsToml([
      `server = "${server.url}"`,
      '[header]', '  X-Root-Token = "root-secret-1"',
      `[host."${mirror.url}"]`, '  capabilities = ["pull", "resolve"]',
      `  [host."${mirror.url}".header]`, '    x-mirror-key = ["mirror-secret-a", "mirror-secret-b"]',
    ].join('\n'));
    const r = await cli(['which', `${origin.host}/super-golang:latest`, '--platform', 'linux/amd64'], env);
    expect(r.code).not.toBe(0);
    expect(mirror.requests.length).toBeGreaterThan(0);
    expect(server.requests.length).toBeGreaterThan(0);
    for (const q of mirror.requests) {
      expect(q.headers['x-mirror-key']).toBe('mirror-secret-a, mirror-secret-b');
      expect(q.headers['x-root-token']).toBeUndefined();
    }
    for (const q of server.requests) {
      expect(q.headers['x-root-token']).toBe('root-secret-1');
      expect(q.headers['x-mirror-key']).toBeUndefined();
    }
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/secret/);
  });
});
