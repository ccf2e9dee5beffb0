/**
 * The bundled CLI through an HTTPS proxy (HTTPS_PROXY): a loopback CONNECT proxy that terminates TLS for any
 * target with a self-signed certificate and forwards the bytes to the harness's plain-HTTP registry. The image
 * name is not resolvable (`.invalid`): only the proxy may "resolve" it, so nothing leaves loopback.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cli } from './cli.js';

const s = inject('services');
const port = (hostPort: string): number => Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));
const connects: string[] = [];
const sockets = new Set<Socket>();
let proxy: Server;
let proxyUrl = '';

beforeAll(async () => {
  const dir = await mkdtemp(join(s.tmp, 'proxy-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '1', '-subj', '/CN=registry.invalid'], { cwd: dir, stdio: 'ignore' });
  const [key, cert] = await Promise.all([readFile(join(dir, 'key.pem')), readFile(join(dir, 'cert.pem'))]);
  proxy = createServer((_req, res) => res.writeHead(502).end());
  proxy.on('connect', (req, client: Socket, head: Buffer) => {
    connects.push(req.url ?? '');
    sockets.add(client);
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) client.unshift(head);
    const tls = new TLSSocket(client, { isServer: true, key, cert });
    const upstream = connect(port(s.anonymous), '127.0.0.1');
    sockets.add(upstream);
    tls.pipe(upstream).pipe(tls);
    const end = (): void => { tls.destroy(); upstream.destroy(); };
    tls.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const a = proxy.address();
  proxyUrl = `http://127.0.0.1:${typeof a === 'object' && a !== null ? a.port : 0}`;
});

afterAll(async () => {
  for (const sock of sockets) sock.destroy();
  await new Promise((r) => proxy.close(r));
});

describe('HTTPS registries through HTTPS_PROXY (bundled CLI)', () => {
  it('which tunnels with CONNECT to the name the client never resolves, and answers the right child', async () => {
    const expected = s.images['multi/docker']?.children.find((c) => c.platform === 'linux/arm64/v8')?.manifest;
    const r = await cli(['which', 'registry.invalid/multi/docker:latest', '--platform', 'linux/arm64', '--insecure-registry', 'registry.invalid'], { HTTPS_PROXY: proxyUrl });
    expect(r.stderr).not.toMatch(/connect is not a function/);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${expected}\n`);
    expect(connects.length).toBeGreaterThan(0);
    expect(new Set(connects)).toEqual(new Set(['registry.invalid:443']));
  });
});
