import { createServer, request as httpRequest, type Server } from 'node:http';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { ResolverError } from '../errors.js';
import { Secret } from '../secret/secret.js';
import { createHttpClient, isPrivateIpLiteral, usesProxy, type HttpClient } from './http.js';

const servers: Server[] = [];
const clients: HttpClient[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => { s.closeAllConnections(); s.close(r); })));
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return typeof a === 'object' && a !== null ? a.port : 0;
}
const client = (o: Parameters<typeof createHttpClient>[0] = {}): HttpClient => {
  const c = createHttpClient(o);
  clients.push(c);
  return c;
};

describe('http client', () => {
  it('sends no Accept-Encoding, so the bytes hashed are the bytes served', async () => {
    let seen: string | undefined = 'unset';
    const port = await listen(createServer((req, res) => {
      seen = req.headers['accept-encoding'];
      res.end('ok');
    }));
    await client().send({ method: 'GET', url: new URL(`http://127.0.0.1:${port}/`), deadlineMs: 2000, maxBytes: 100 });
    expect(seen).toBeUndefined();
  });

  it('fails a server that never sends headers within the headers timeout', async () => {
    const port = await listen(createServer(() => undefined));
    const t = performance.now();
    const e = await client({ headersTimeoutMs: 300 }).send({ method: 'GET', url: new URL(`http://127.0.0.1:${port}/`), deadlineMs: 10_000, maxBytes: 100 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ResolverError);
    expect((e as ResolverError).code).toBe('ERR_NETWORK');
    expect(performance.now() - t).toBeLessThan(3000);
  });

  it('ends a trickling body at the overall deadline (undici’s body timeout is per chunk)', async () => {
    const port = await listen(createServer((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      const t = setInterval(() => res.write('x'), 50);
      res.on('close', () => clearInterval(t));
    }));
    const t = performance.now();
    const e = await client({ bodyTimeoutMs: 5000 }).send({ method: 'GET', url: new URL(`http://127.0.0.1:${port}/`), deadlineMs: 500, maxBytes: 1000 }).catch((x: unknown) => x);
    expect((e as ResolverError).message).toMatch(/did not answer completely within 0.5 s/);
    expect(performance.now() - t).toBeLessThan(2000);
  });

  /** A forward proxy that records what it is asked for and serves every target from the loopback `port`. */
  async function proxyTo(port: number): Promise<{ port: number; proxied: string[] }> {
    const proxied: string[] = [];
    const proxyPort = await listen(createServer((req, res) => {
      proxied.push(req.url ?? '');
      const target = new URL(req.url ?? '/');
      const upstream = httpRequest({ host: '127.0.0.1', port, path: `${target.pathname}${target.search}`, method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      req.pipe(upstream);
    }));
    return { port: proxyPort, proxied };
  }

  it('goes through HTTP_PROXY when one is set, and only then', async () => {
    const target = await listen(createServer((_req, res) => res.end('from target')));
    const proxy = await proxyTo(target);
    // A name that is not loopback; only the proxy resolves it (to the loopback target).
    const remote = new URL(`http://registry.test:${target}/v2/`);
    const connects: string[] = [];
    const via = await client({ proxyEnv: { HTTP_PROXY: `http://127.0.0.1:${proxy.port}` }, onConnect: ({ hostname }) => void connects.push(hostname) }).send({ method: 'GET', url: remote, deadlineMs: 3000, maxBytes: 100 });
    expect(via.body.toString()).toBe('from target');
    expect(proxy.proxied).toEqual([remote.toString()]);
    expect(connects).toEqual([]);
    await client({ proxyEnv: {} }).send({ method: 'GET', url: new URL(`http://127.0.0.1:${target}/v2/`), deadlineMs: 3000, maxBytes: 100 });
    expect(proxy.proxied.length).toBe(1);
    expect(usesProxy({ https_proxy: 'http://p:3128' })).toBe(true);
    expect(usesProxy({ NO_PROXY: '*' })).toBe(false);
  });

  // 13.19: dockerd (Go's ProxyFromEnvironment) never proxies loopback, and honours NO_PROXY.
  it.each(['127.0.0.1', 'localhost', 'LOCALHOST', '[::ffff:127.0.0.1]'])('never sends a loopback registry (%s) through the proxy', async (host) => {
    const target = await listen(createServer((_req, res) => res.end('direct')));
    const proxy = await proxyTo(target);
    const r = await client({ proxyEnv: { HTTP_PROXY: `http://127.0.0.1:${proxy.port}`, HTTPS_PROXY: `http://127.0.0.1:${proxy.port}` } }).send({ method: 'GET', url: new URL(`http://${host}:${target}/v2/`), deadlineMs: 3000, maxBytes: 100 });
    expect(r.body.toString()).toBe('direct');
    expect(proxy.proxied).toEqual([]);
  });

  it.each(['registry.test', '.test', 'other.example, REGISTRY.test', '*'])('honours NO_PROXY=%s (a direct connection is attempted, the proxy sees nothing)', async (noProxy) => {
    const target = await listen(createServer((_req, res) => res.end('x')));
    const proxy = await proxyTo(target);
    const connects: string[] = [];
    const c = client({
      proxyEnv: { HTTP_PROXY: `http://127.0.0.1:${proxy.port}`, NO_PROXY: noProxy },
      onConnect: ({ hostname }) => {
        connects.push(hostname);
        throw new Error('the test opens no connection to registry.test');
      },
    });
    await c.send({ method: 'GET', url: new URL(`http://registry.test:${target}/v2/`), deadlineMs: 3000, maxBytes: 100 }).catch(() => undefined);
    expect(proxy.proxied).toEqual([]);
    expect(connects).toEqual(['registry.test']);
  });

  it('classifies private literals', () => {
    expect(['10.1.2.3', '192.168.1.1', '172.20.0.1', '169.254.169.254', 'fd00::1', 'fe80::1'].every(isPrivateIpLiteral)).toBe(true);
    expect(['8.8.8.8', 'registry.example.com', '172.32.0.1'].some(isPrivateIpLiteral)).toBe(false);
  });

  // Issue 13.4: an IPv4 address wrapped in IPv6 is judged as the address it reaches.
  it.each([
    '[::ffff:127.0.0.2]', '[::ffff:7f00:2]', '[::ffff:169.254.169.254]', '[::ffff:a9fe:a9fe]', '[::7f00:2]',
    '[64:ff9b::7f00:2]', '[64:ff9b::169.254.169.254]', '[64:ff9b:1::a00:1]', '[2002:7f00:2::]', '[2002:a9fe:a9fe::1]',
    '[2001:0:4136:e378:8000:63bf:80ff:fffd]', '[fec0::1]', '[ff02::1]', '100.64.0.1', '0.0.0.0', '[::]',
  ])('refuses a redirect to %s before any connection is made', async (target) => {
    const port = await listen(createServer((_req, res) => {
      res.writeHead(307, { location: `http://${target}:${port}/v2/` });
      res.end();
    }));
    const attempts: string[] = [];
    // Only the loopback server itself may be reached; anything else is recorded and refused, never opened.
    const c = client({ onConnect: ({ hostname, port: p }) => {
      attempts.push(`${hostname}:${p}`);
      if (hostname !== '127.0.0.1') throw new Error(`test refuses to connect to ${hostname}`);
    } });
    const e = await c.send({ method: 'GET', url: new URL(`http://127.0.0.1:${port}/v2/`), deadlineMs: 3000, maxBytes: 100 }).then(() => undefined, (error: unknown) => error);
    expect(attempts).toEqual([`127.0.0.1:${port}`]);
    expect(e).toBeInstanceOf(ResolverError);
    expect((e as ResolverError).message).toMatch(/redirected to the private address .*refused/);
  });

  it.each([['[::ffff:8.8.8.8]', false], ['[2606:4700::1]', false], ['registry.example.com', false], ['[::ffff:10.0.0.1]', true], ['[64:ff9b::a00:1]', true]] as const)('classifies %s as private: %s', (host, expected) => {
    expect(isPrivateIpLiteral(host)).toBe(expected);
  });

  it('sends a same-origin redirect on, and reaches it through the connect hook', async () => {
    const port = await listen(createServer((req, res) => {
      if (req.url === '/a') {
        res.writeHead(307, { location: '/b' });
        res.end();
        return;
      }
      res.end('ok');
    }));
    const attempts: string[] = [];
    const r = await client({ onConnect: ({ hostname }) => void attempts.push(hostname) }).send({ method: 'GET', url: new URL(`http://127.0.0.1:${port}/a`), deadlineMs: 3000, maxBytes: 100 });
    expect(r.body.toString()).toBe('ok');
    expect(attempts.length).toBeGreaterThan(0);
    expect(attempts.every((h) => h === '127.0.0.1')).toBe(true);
  });
});

describe('Secret', () => {
  it('never prints its value', () => {
    const s = new Secret('hunter2-canary');
    // eslint-disable-next-line @typescript-eslint/restrict-template-expressions -- interpolation is what is tested
    const shown = [String(s), `${s}`, JSON.stringify({ s }), inspect(s), inspect({ nested: { s } })].join(' ');
    expect(shown).not.toContain('hunter2-canary');
    expect(s.reveal()).toBe('hunter2-canary');
  });
});
