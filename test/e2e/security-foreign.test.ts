/**
 * Issue 13.2 and 13.3: a challenge is bound to the origin that sent it. A registry R (a loopback fake with
 * Basic auth and a canary password) redirects a manifest request, or hands an upload, to a foreign host F
 * (`localhost`, another origin on loopback) that answers 401 with its own Bearer realm. R's credentials
 * must never reach F (0 canary hits in any header or URL F sees), the command fails naming F, and it
 * sends F a bounded number of requests (the old client looped 13,076 PUTs in 30 s).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient } from '../../src/http/http.js';
import { buildImage } from '../sandbox/oci-builder.js';
import { Pusher } from '../sandbox/push.js';
import { cliPath } from './cli.js';

const s = inject('services');
const http = createHttpClient();
const user = 'canary-user';
const canary = `canary-${randomBytes(12).toString('hex')}`;
const basic = `Basic ${Buffer.from(`${user}:${canary}`).toString('base64')}`;
const servers: Server[] = [];
let dir = '';
let dockerConfig = '';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: string;
}

async function serve(handler: (req: IncomingMessage, res: ServerResponse, port: number) => void): Promise<{ port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  let port = 0;
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: JSON.stringify(req.rawHeaders) });
    req.resume();
    req.on('end', () => handler(req, res, port));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return { port, seen };
}

/** F: wants its own login for everything, and offers a token realm on itself. */
const foreignHandler = (_req: IncomingMessage, res: ServerResponse, port: number): void => {
  res.writeHead(401, { 'www-authenticate': `Bearer realm="http://localhost:${port}/token",service="foreign"`, 'content-type': 'application/json' });
  res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'foreign login required' }] }));
};

/** Any trace of R's credentials in what F received. */
function credentialHits(seen: readonly Seen[]): string[] {
  const b64 = Buffer.from(`${user}:${canary}`).toString('base64');
  return seen.filter((x) => /authorization/i.test(x.headers) || `${x.url}${x.headers}`.includes(canary) || `${x.url}${x.headers}`.includes(b64) || x.url.includes(user)).map((x) => `${x.method} ${x.url}`);
}

function run(args: readonly string[], timeoutMs = 30_000): Promise<{ code: number | null; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [cliPath, ...args], { env: { PATH: process.env['PATH'], HOME: process.env['HOME'], DOCKER_CONFIG: dockerConfig }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.stdout.resume();
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, ms: Date.now() - started });
    });
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(s.tmp, 'security-foreign-'));
  dockerConfig = join(dir, 'docker');
  await mkdir(dockerConfig);
});
afterAll(async () => {
  await Promise.all(servers.map((x) => new Promise((r) => x.close(r))));
  await http.close();
});

describe('credentials for a registry never reach a foreign host', () => {
  it('which: a manifest redirected to another host that wants its own login fails naming it; 0 credentials there', async () => {
    const foreign = await serve(foreignHandler);
    const registry = await serve((req, res) => {
      if (req.headers.authorization !== basic) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="registry"' });
        res.end();
        return;
      }
      res.writeHead(307, { location: `http://localhost:${foreign.port}${req.url ?? '/'}` });
      res.end();
    });
    const host = `127.0.0.1:${registry.port}`;
    await writeFile(join(dockerConfig, 'config.json'), JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user}:${canary}`).toString('base64') } } }));
    const r = await run(['which', `${host}/team/app:latest`, '--platform', 'linux/amd64']);
    expect(r.code, r.stderr).toBe(5);
    expect(r.stderr).toContain(`localhost:${foreign.port}`);
    expect(credentialHits(foreign.seen)).toEqual([]);
    expect(foreign.seen.filter((x) => x.url.startsWith('/token'))).toEqual([]);
    expect(foreign.seen.length).toBeLessThanOrEqual(2);
    // R was asked with its own credentials, and never for a token of F's realm.
    expect(registry.seen.some((x) => x.headers.includes(basic))).toBe(true);
  });

  it('manifest push: an upload Location on another host that answers 401 fails at once naming it; 0 credentials there, bounded PUTs', async () => {
    const layer = buildImage({ platform: { os: 'linux', architecture: 'amd64' }, files: [{ path: 'f', content: Buffer.from(`foreign ${canary.slice(-6)}`) }], format: 'oci', label: 'foreign' });
    const source = new Pusher({ http, host: s.anonymous, repository: 'foreign/src' });
    await source.image(layer);
    await source.manifest(layer.manifest, 'latest');
    const foreign = await serve(foreignHandler);
    const registry = await serve((req, res) => {
      if (req.headers.authorization !== basic) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="registry"' });
        res.end();
        return;
      }
      if (req.method === 'POST' && ((req.url ?? '').split('?')[0] ?? '').endsWith("/blobs/uploads/")) {
        res.writeHead(202, { location: `http://localhost:${foreign.port}/upload/${randomBytes(4).toString('hex')}`, 'content-length': '0' });
        res.end();
        return;
      }
      if (req.method === 'PUT' && (req.url ?? '').includes('/manifests/')) {
        res.writeHead(201);
        res.end();
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown' }] }));
    });
    const host = `127.0.0.1:${registry.port}`;
    await writeFile(join(dockerConfig, 'config.json'), JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user}:${canary}`).toString('base64') } } }));
    const spec = join(dir, 'spec.yml');
    await writeFile(spec, `image: ${host}/team/app:latest\nmanifests:\n  - image: ${s.anonymous}/foreign/src:latest\n`);
    const r = await run(['manifest', 'push', '--from-spec', spec], 30_000);
    expect(r.code, r.stderr).toBe(5);
    expect(r.stderr).toContain(`localhost:${foreign.port}`);
    expect(r.ms).toBeLessThan(20_000);
    expect(credentialHits(foreign.seen)).toEqual([]);
    expect(foreign.seen.filter((x) => x.url.startsWith('/token'))).toEqual([]);
    // One PUT per blob in flight (config + layer), each tried once: nothing loops.
    expect(foreign.seen.filter((x) => x.method === 'PUT').length).toBeLessThanOrEqual(4);
    expect(registry.seen.filter((x) => x.method === 'PUT' && x.url.includes('/manifests/'))).toEqual([]);
  });

  it('manifest push to an anonymous registry whose upload host always answers 401: a bounded number of PUTs, then a clear error (13.3)', async () => {
    const layer = buildImage({ platform: { os: 'linux', architecture: 'amd64' }, files: [{ path: 'g', content: Buffer.from(`loop ${canary.slice(-6)}`) }], format: 'oci', label: 'loop' });
    const source = new Pusher({ http, host: s.anonymous, repository: 'foreign/loop' });
    await source.image(layer);
    await source.manifest(layer.manifest, 'latest');
    // F wants Basic: the old client kept no count of challenges from a host it sends no credentials to.
    const foreign = await serve((_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="foreign"' });
      res.end();
    });
    const registry = await serve((req, res) => {
      // The config is already there: one blob moves, so nothing else interrupts a loop on its upload.
      if (req.method === 'HEAD' && (req.url ?? '').endsWith(layer.config.digest)) {
        res.writeHead(200, { 'content-length': String(layer.config.bytes.byteLength) });
        res.end();
        return;
      }
      if (req.method === 'POST') {
        res.writeHead(202, { location: `http://localhost:${foreign.port}/upload/${randomBytes(4).toString('hex')}`, 'content-length': '0' });
        res.end();
        return;
      }
      res.writeHead(404);
      res.end();
    });
    await writeFile(join(dockerConfig, 'config.json'), JSON.stringify({ auths: { [`127.0.0.1:${registry.port}`]: { auth: Buffer.from(`${user}:${canary}`).toString('base64') } } }));
    const spec = join(dir, 'loop.yml');
    await writeFile(spec, `image: 127.0.0.1:${registry.port}/team/app:latest\nmanifests:\n  - image: ${s.anonymous}/foreign/loop:latest\n`);
    const r = await run(['manifest', 'push', '--from-spec', spec], 15_000);
    expect(r.code, `${r.stderr} after ${foreign.seen.length} requests to the upload host`).toBe(5);
    expect(r.stderr).toContain(`localhost:${foreign.port}`);
    expect(foreign.seen.filter((x) => x.method === 'PUT').length).toBeLessThanOrEqual(4);
    expect(foreign.seen.filter((x) => x.url.startsWith('/token'))).toEqual([]);
  });
});
