/**
 * Registry client faults the real registry cannot produce on demand, against loopback fake servers:
 * tampered bytes, oversize bodies, 429 with Retry-After, 5xx bursts, 401 loops, redirects across origins,
 * HEAD without a digest, token expiry on the monotonic clock.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { RegistryHttpError, ResolverError } from '../errors.js';
import { createHttpClient, type HttpClient } from '../http/http.js';
import { TokenCache } from './auth.js';
import { blobDeadlineMs, parseRateLimit, parseRetryAfter, RegistryClient, uploadTarget, type Repository } from './client.js';
import type { CredentialStore } from './credentials.js';
import { Secret } from '../secret/secret.js';
import { expectResolverError } from '../../test/fakes/expect-error.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const servers: Server[] = [];
const clients: HttpClient[] = [];

async function serve(handler: Handler): Promise<{ host: string; hits: { method: string; url: string; auth: string | undefined }[] }> {
  const hits: { method: string; url: string; auth: string | undefined }[] = [];
  const server = createServer((req, res) => {
    hits.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization });
    handler(req, res);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return { host: `127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`, hits };
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }));
const digest = `sha256:${createHash('sha256').update(index).digest('hex')}`;
const ociIndex = 'application/vnd.oci.image.index.v1+json';

function client(options: { credentials?: CredentialStore; clock?: () => number; sleeps?: number[]; deadlineMs?: number } = {}): RegistryClient {
  const http = createHttpClient({ connectTimeoutMs: 1000, headersTimeoutMs: 2000 });
  clients.push(http);
  const clock = options.clock ?? (() => performance.now());
  return new RegistryClient({
    http, tokens: new TokenCache(http, clock), clock,
    credentials: options.credentials ?? { get: () => Promise.resolve(undefined) },
    retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2, maxRetryAfterMs: 2_000 },
    sleep: (ms) => {
      options.sleeps?.push(ms);
      return Promise.resolve();
    },
    random: () => 1,
    ...(options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs }),
  });
}
const repo = (host: string): Repository => ({ host, path: 'team/app', credentialKey: host });

/** The ResolverError `p` rejects with (of any code). */
const failure = (p: Promise<unknown>): Promise<ResolverError> => expectResolverError(p);

describe('RegistryClient against fake servers', () => {
  it('HEAD gives the digest; GET by digest verifies it: 1 HEAD + 1 GET', async () => {
    const s = await serve((req, res) => {
      res.writeHead(200, { 'content-type': ociIndex, 'docker-content-digest': digest, 'content-length': index.byteLength });
      res.end(req.method === 'HEAD' ? undefined : index);
    });
    const c = client();
    const tag = await c.resolveTag(repo(s.host), 'v1');
    // Without mirrors the registry itself answered, and says so (docs/mirrors.md).
    expect(tag).toEqual({ digest, mediaType: ociIndex, size: index.byteLength, servedBy: s.host });
    const m = await c.getManifest(repo(s.host), digest);
    expect(m.body.equals(index)).toBe(true);
    expect(m.servedBy).toBe(s.host);
    expect(c.requests).toEqual({ HEAD: 1, GET: 1 });
    expect(s.hits.map((h) => h.method)).toEqual(['HEAD', 'GET']);
    expect(s.hits.every((h) => h.url.startsWith('/v2/team/app/manifests/'))).toBe(true);
  });

  it('rejects a tampered body with both digests named', async () => {
    const tampered = Buffer.from(index);
    tampered[10] = tampered[10] === 0x20 ? 0x21 : 0x20;
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': ociIndex });
      res.end(tampered);
    });
    const e = await failure(client().getManifest(repo(s.host), digest));
    expect(e.code).toBe('ERR_DIGEST_MISMATCH');
    expect(e.message).toContain(digest);
    expect(e.message).toMatch(/hashing to sha256:[a-f0-9]{64}/);
  });

  it('refuses bodies over 4 MiB, announced or streamed', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
    const announced = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': ociIndex, 'content-length': big.byteLength });
      res.end(big);
    });
    expect((await failure(client().getManifest(repo(announced.host), digest))).message).toMatch(/announced 4194305 bytes/);
    const chunked = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': ociIndex });
      res.write(big.subarray(0, 3_000_000));
      res.end(big.subarray(3_000_000));
    });
    expect((await failure(client().getManifest(repo(chunked.host), digest))).message).toMatch(/more than 4194304 bytes/);
  });

  it('falls back to GET when HEAD has no digest, and hashes the body', async () => {
    const s = await serve((req, res) => {
      res.writeHead(200, { 'content-type': ociIndex });
      res.end(req.method === 'HEAD' ? undefined : index);
    });
    const tag = await client().resolveTag(repo(s.host), 'v1');
    expect(tag.digest).toBe(digest);
    expect(s.hits.map((h) => h.method)).toEqual(['HEAD', 'GET']);
  });

  it('waits for a short Retry-After, fails fast on a long one with ERR_RATE_LIMITED', async () => {
    let n = 0;
    const short = await serve((req, res) => {
      if (n++ === 0) {
        res.writeHead(429, { 'retry-after': '1', 'ratelimit-remaining': '0;w=21600', 'ratelimit-limit': '100;w=21600' });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': ociIndex, 'docker-content-digest': digest, 'content-length': index.byteLength });
      res.end(req.method === 'HEAD' ? undefined : index);
    });
    const sleeps: number[] = [];
    const c = client({ sleeps });
    expect((await c.resolveTag(repo(short.host), 'v1')).digest).toBe(digest);
    expect(sleeps).toEqual([1000]);
    expect(c.rateLimits.get(short.host)).toEqual({ limit: 100, remaining: 0, window: '21600' });

    const long = await serve((_req, res) => {
      res.writeHead(429, { 'retry-after': '86400', 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'pull rate limit' }] }));
    });
    const e = await failure(client().resolveTag(repo(long.host), 'v1'));
    expect(e.code).toBe('ERR_RATE_LIMITED');
    expect(e.message).toMatch(/retry after 900 s \(it asked for 86400 s; capped\)/);
    expect(long.hits.length).toBe(1);
  });

  it.each([
    ['86400', 900],
    [new Date(Date.now() + 7 * 86_400_000).toUTCString(), 900],
    ['120', 120],
  ])('caps Retry-After %s at 15 minutes in the error the daemon waits on (13.15)', async (header, expected) => {
    const s = await serve((_req, res) => {
      res.writeHead(429, { 'retry-after': header });
      res.end();
    });
    const e = await failure(client().resolveTag(repo(s.host), 'v1'));
    expect(e instanceof RegistryHttpError ? e.retryAfterSeconds : 'not a RegistryHttpError').toBe(expected);
  });

  it('takes the Retry-After cap from the options', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(503, { 'retry-after': '3600' });
      res.end();
    });
    const http = createHttpClient();
    clients.push(http);
    const c = new RegistryClient({ http, tokens: new TokenCache(http, () => 0), clock: () => 0, credentials: { get: () => Promise.resolve(undefined) }, retry: { retryAfterCapMs: 60_000, maxRetryAfterMs: 1 } });
    const e = await failure(c.resolveTag(repo(s.host), 'v1'));
    expect(e instanceof RegistryHttpError ? e.retryAfterSeconds : 'not a RegistryHttpError').toBe(60);
    expect(s.hits.length).toBe(1);
  });

  it('retries a 5xx burst with backoff, at most 3 attempts', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(503);
      res.end();
    });
    const sleeps: number[] = [];
    const e = await failure(client({ sleeps }).resolveTag(repo(s.host), 'v1'));
    expect(e.code).toBe('ERR_REGISTRY_HTTP');
    expect(s.hits.filter((h) => h.method === 'HEAD').length).toBe(3);
    expect(sleeps.length).toBe(2);
  });

  it('gives a trickling body one deadline for the whole operation, not one per try (13.23)', { timeout: 10_000 }, async () => {
    const timers: NodeJS.Timeout[] = [];
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': ociIndex });
      timers.push(setInterval(() => res.write(' '), 100));
    });
    const t = performance.now();
    const e = await failure(client({ deadlineMs: 800 }).getManifest(repo(s.host), digest));
    const took = performance.now() - t;
    timers.forEach(clearInterval);
    expect(e.code).toBe('ERR_NETWORK');
    expect(took).toBeLessThan(2_500);
    expect(s.hits.length).toBe(1);
  });

  it('stops a 401 loop after one token refresh: ≤ 2 registry and ≤ 2 token requests', async () => {
    let tokenHits = 0;
    const s = await serve((req, res) => {
      if (req.url?.startsWith('/token') === true) {
        tokenHits++;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ token: `t${tokenHits}`, expires_in: 300 }));
        return;
      }
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${req.headers.host}/token",service="svc",error="invalid_token"` });
      res.end();
    });
    const e = await failure(client().resolveTag(repo(s.host), 'v1'));
    expect(e.code).toBe('ERR_REGISTRY_AUTH');
    const registryHeads = s.hits.filter((h) => h.url.startsWith('/v2/') && h.method === 'HEAD').length;
    expect(registryHeads).toBeLessThanOrEqual(3);
    expect(tokenHits).toBeLessThanOrEqual(2);
  });

  it('caches tokens per scope until expires_in (monotonic clock), then fetches a new one', async () => {
    let now = 0;
    let tokenHits = 0;
    const s = await serve((req, res) => {
      if (req.url?.startsWith('/token') === true) {
        tokenHits++;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ token: 'good', expires_in: 120 }));
        return;
      }
      if (req.headers.authorization !== 'Bearer good') {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${req.headers.host}/token",service="svc",scope="repository:team/app:pull"` });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': ociIndex, 'docker-content-digest': digest, 'content-length': index.byteLength });
      res.end();
    });
    const c = client({ clock: () => now });
    await c.resolveTag(repo(s.host), 'v1');
    await c.resolveTag(repo(s.host), 'v1');
    expect(tokenHits).toBe(1);
    expect(c.requests.HEAD).toBe(3);
    now = 111_000;
    await c.resolveTag(repo(s.host), 'v1');
    expect(tokenHits).toBe(2);
  });

  it('never carries credentials across a redirect to another origin', async () => {
    const other = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': ociIndex });
      res.end(index);
    });
    const s = await serve((req, res) => {
      if (req.headers.authorization === undefined) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' });
        res.end();
        return;
      }
      res.writeHead(307, { location: `http://${other.host}/blob` });
      res.end();
    });
    const creds: CredentialStore = { get: () => Promise.resolve({ username: 'u', password: new Secret('canary-pw'), identityToken: undefined, registryToken: undefined, source: 'test' }) };
    const m = await client({ credentials: creds }).getManifest(repo(s.host), digest);
    expect(m.body.equals(index)).toBe(true);
    expect(s.hits.at(-1)?.auth).toMatch(/^Basic /);
    expect(other.hits.map((h) => h.auth)).toEqual([undefined]);
  });

  it('maps OCI error bodies to errors naming registry and repository', async () => {
    const s = await serve((req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(req.method === 'HEAD' ? undefined : JSON.stringify({ errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }] }));
    });
    const e = await failure(client().resolveTag(repo(s.host), 'v1'));
    expect(e.code).toBe('ERR_NOT_FOUND');
    expect(e.message).toBe(`repository ${s.host}/team/app not found (name_unknown: repository name not known to registry)`);
  });

  it('rejects a token realm that is not https on a non-loopback registry, and one on another private address', async () => {
    const { checkRealm } = await import('./auth.js');
    expect(() => checkRealm('http://auth.example.com/token', 'registry.example.com', false)).toThrow(/not https/);
    expect(() => checkRealm('https://169.254.169.254/token', 'registry.example.com', false)).toThrow(/private address/);
    // IPv4 inside IPv6 is the IPv4 address it reaches (13.4).
    for (const realm of ['https://[::ffff:169.254.169.254]/token', 'https://[::ffff:a9fe:a9fe]/t', 'https://[64:ff9b::a9fe:a9fe]/t', 'https://[2002:a9fe:a9fe::]/t', 'https://[::ffff:127.0.0.2]/t']) {
      expect(() => checkRealm(realm, 'registry.example.com', false), realm).toThrow(/private address/);
    }
    expect(checkRealm('http://[::ffff:127.0.0.1]:5001/token', '127.0.0.1', true).port).toBe('5001');
    expect(() => checkRealm('https://u:p@auth.example.com/token', 'registry.example.com', false)).toThrow(/credentials in its URL/);
    expect(checkRealm('https://auth.example.com/token', 'registry.example.com', false).host).toBe('auth.example.com');
  });
});

describe('RegistryClient blob copy paths against fake servers', () => {
  const nullSink = { start: () => Promise.resolve(), write: () => Promise.resolve(), end: () => Promise.resolve() };
  const blob = Buffer.from('layer bytes '.repeat(5000));
  const blobDigest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;

  it('downloadBlob restarts the receiver on a retry (5xx, then a connection cut mid-body) and verifies the bytes', async () => {
    let n = 0;
    const s = await serve((_req, res) => {
      n++;
      if (n === 1) {
        res.writeHead(503);
        res.end();
      } else if (n === 2) {
        res.writeHead(200, { 'content-length': String(blob.length) });
        res.write(blob.subarray(0, 1000), () => res.destroy());
      } else {
        res.writeHead(200, { 'content-length': String(blob.length) });
        res.end(blob);
      }
    });
    let starts = 0;
    let ends = 0;
    let got: Buffer[] = [];
    await client().downloadBlob(repo(s.host), { digest: blobDigest, size: blob.length }, {
      start: () => { starts++; got = []; return Promise.resolve(); },
      write: (c) => { got.push(c); return Promise.resolve(); },
      end: () => { ends++; return Promise.resolve(); },
    });
    expect(n).toBe(3);
    expect(starts).toBe(2);
    expect(ends).toBe(1);
    expect(Buffer.concat(got).equals(blob)).toBe(true);
    // A sink that cannot start over gets one attempt.
    n = 1;
    const once = await failure(client().downloadBlob(repo(s.host), { digest: blobDigest, size: blob.length }, nullSink, { retry: false }));
    expect(once.code).toBe('ERR_NETWORK');
    expect(n).toBe(2);
  });

  it('downloadBlob rejects bytes that do not hash to the digest, and a body longer than announced', async () => {
    const s = await serve((_req, res) => res.end(Buffer.concat([blob.subarray(1), Buffer.from('x')])));
    let ended = false;
    const e = await failure(client().downloadBlob(repo(s.host), { digest: blobDigest, size: blob.length }, { ...nullSink, end: () => { ended = true; return Promise.resolve(); } }));
    expect(e.code).toBe('ERR_DIGEST_MISMATCH');
    expect(ended).toBe(false);
    expect(e.message).toContain(`team/app@${blobDigest}: the registry served ${blob.length} bytes hashing to sha256:`);
    const long = await serve((_req, res) => res.end(Buffer.concat([blob, Buffer.alloc(70_000)])));
    expect((await failure(client().downloadBlob(repo(long.host), { digest: blobDigest, size: blob.length }, nullSink))).code).toBe('ERR_MANIFEST_INVALID');
  });

  it('pushBlob reopens a stream body for a retried PUT and sends its Content-Length', async () => {
    const puts: { length: string | undefined; bytes: number }[] = [];
    const s = await serve((req, res) => {
      if (req.method === 'POST') {
        res.writeHead(202, { location: '/v2/team/app/blobs/uploads/u1?_state=x' });
        res.end();
        return;
      }
      let bytes = 0;
      req.on('data', (c: Buffer) => (bytes += c.length));
      req.on('end', () => {
        puts.push({ length: req.headers['content-length'], bytes });
        res.writeHead(puts.length === 1 ? 500 : 201);
        res.end();
      });
    });
    let opens = 0;
    const { Readable } = await import('node:stream');
    await client().pushBlob(repo(s.host), blobDigest, { length: blob.length, open: () => { opens++; return Readable.from([blob.subarray(0, 100), blob.subarray(100)]); } });
    expect(opens).toBe(2);
    expect(puts).toEqual([{ length: String(blob.length), bytes: blob.length }, { length: String(blob.length), bytes: blob.length }]);
    expect(s.hits.find((h) => h.method === 'PUT')?.url).toContain(`digest=${encodeURIComponent(blobDigest)}`);
  });

  it('mountBlob: 201 mounted; 202 refused (the upload it started is cancelled); 403 refused', async () => {
    for (const [status, mounted] of [[201, true], [202, false], [403, false]] as const) {
      const s = await serve((req, res) => {
        if (req.method === 'DELETE') {
          res.writeHead(204);
          res.end();
          return;
        }
        res.writeHead(status, status === 202 ? { location: '/v2/team/app/blobs/uploads/u2' } : { 'content-type': 'application/json' });
        res.end(status === 403 ? JSON.stringify({ errors: [{ code: 'DENIED', message: 'no pull on the source' }] }) : '');
      });
      expect(await client().mountBlob(repo(s.host), blobDigest, 'other/app')).toBe(mounted);
      expect(s.hits.some((h) => h.method === 'DELETE' && h.url === '/v2/team/app/blobs/uploads/u2')).toBe(status === 202);
    }
  });
});

describe('uploads whose Location is on another host', () => {
  it('uploadTarget keeps a same-host Location as a path and another host as a URL', () => {
    const d = `sha256:${'a'.repeat(64)}`;
    expect(uploadTarget('/v2/app/blobs/uploads/u1?_state=s', 'reg:5000', d)).toBe(`/v2/app/blobs/uploads/u1?_state=s&digest=${encodeURIComponent(d)}`);
    expect(uploadTarget('http://reg:5000/v2/app/blobs/uploads/u1', 'reg:5000')).toBe('/v2/app/blobs/uploads/u1');
    expect(uploadTarget('https://storage.example/up/u1?sig=x', 'reg:5000', d)).toBe(`https://storage.example/up/u1?sig=x&digest=${encodeURIComponent(d)}`);
  });

  it('sends the PUT to the other host without the registry credentials', async () => {
    const data = Buffer.from('a layer');
    const dataDigest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    const puts: { auth: string | undefined; url: string; body: string }[] = [];
    const storage = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        puts.push({ auth: req.headers.authorization, url: req.url ?? '', body });
        res.writeHead(201);
        res.end();
      });
    });
    servers.push(storage);
    await new Promise<void>((r) => storage.listen(0, '127.0.0.1', r));
    const a = storage.address();
    const storageHost = `127.0.0.1:${typeof a === 'object' && a !== null ? a.port : 0}`;
    const reg = await serve((req, res) => {
      if (req.headers.authorization === undefined) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' });
        res.end();
        return;
      }
      res.writeHead(202, { location: `http://${storageHost}/upload/u1?sig=abc` });
      res.end();
    });
    const creds: CredentialStore = { get: () => Promise.resolve({ username: 'u', password: new Secret('p'), identityToken: undefined, registryToken: undefined, source: 'test' }) };
    await client({ credentials: creds }).pushBlob(repo(reg.host), dataDigest, data);
    expect(reg.hits.at(-1)?.auth).toMatch(/^Basic /);
    expect(puts).toEqual([{ auth: undefined, url: `/upload/u1?sig=abc&digest=${encodeURIComponent(dataDigest)}`, body: 'a layer' }]);
  });
});

describe('deadlines of blob transfers', () => {
  it('grow with the blob, so a large layer on a slow link is not cut at 60 s', async () => {
    expect(blobDeadlineMs(0)).toBe(60_000);
    expect(blobDeadlineMs(1_000_000_000)).toBeGreaterThan(4 * 3600_000);
    const data = Buffer.alloc(2_000_000, 1);
    const d = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    const seen: { method: string; deadlineMs: number }[] = [];
    const http: HttpClient = {
      async send(req) {
        seen.push({ method: req.method, deadlineMs: req.deadlineMs });
        if (req.receive !== undefined) await req.receive(Readable.from([data]));
        const headers: Record<string, string> = req.method === 'POST' ? { location: '/v2/team/app/blobs/uploads/u' } : {};
        return { status: req.method === 'POST' ? 202 : 201, headers, body: Buffer.alloc(0), url: req.url };
      },
      upgrade: () => Promise.reject(new Error('a registry never upgrades')),
      close: () => Promise.resolve(),
    };
    const clock = (): number => performance.now();
    const c = new RegistryClient({ http, tokens: new TokenCache(http, clock), clock, credentials: { get: () => Promise.resolve(undefined) } });
    await c.downloadBlob(repo('reg:5000'), { digest: d, size: data.length }, { start: () => Promise.resolve(), write: () => Promise.resolve(), end: () => Promise.resolve() });
    await c.pushBlob(repo('reg:5000'), d, { length: 5_000_000_000, open: () => { throw new Error('not opened by a fake'); } });
    expect(seen).toEqual([
      { method: 'GET', deadlineMs: blobDeadlineMs(data.length) },
      { method: 'POST', deadlineMs: 600_000 },
      { method: 'PUT', deadlineMs: blobDeadlineMs(5_000_000_000) },
    ]);
  });
});

describe('header parsing', () => {
  it('parses Retry-After in both forms', () => {
    expect(parseRetryAfter('120')).toBe(120);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.parse('Wed, 21 Oct 2015 07:27:00 GMT'))).toBe(60);
    expect(parseRetryAfter('-5')).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
  it('parses Docker Hub rate-limit headers', () => {
    expect(parseRateLimit({ 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '76;w=21600' })).toEqual({ limit: 100, remaining: 76, window: '21600' });
    expect(parseRateLimit({})).toBeUndefined();
  });
});
