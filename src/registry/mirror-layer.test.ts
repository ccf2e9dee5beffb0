import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { closeLoopbackServers, startLoopbackServer } from '../../test/fakes/loopback-server.js';
import { expectResolverError } from '../../test/fakes/expect-error.js';
import { createHttpClient, type HttpClient } from '../http/http.js';
import { hostsFromObject } from '../mirror/hosts.js';
import type { MirrorTable } from '../mirror/read.js';
import { TokenCache } from './auth.js';
import { RegistryClient, type MirrorAnswer, type MirrorSkip } from './client.js';
import { operationOf } from './mirror-layer.js';
import type { RegistryRequest } from './layers.js';

const clients: HttpClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await closeLoopbackServers();
});

const blob = Buffer.from('layer bytes '.repeat(100));
const blobDigest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;

function client(table: MirrorTable, answers: MirrorAnswer[], skips: MirrorSkip[]): RegistryClient {
  const http = createHttpClient({ connectTimeoutMs: 1000, headersTimeoutMs: 2000 });
  clients.push(http);
  const clock = (): number => performance.now();
  return new RegistryClient({
    http, tokens: new TokenCache(http, clock), clock, credentials: { get: () => Promise.resolve(undefined) },
    retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2, maxRetryAfterMs: 2_000 }, sleep: () => Promise.resolve(), random: () => 1,
    mirrors: table, onMirrorAnswer: (a) => answers.push(a), onMirrorSkip: (s) => skips.push(s),
  });
}

describe('mirror layer', () => {
  it('a streamed blob with other bytes from a mirror is skipped; the sink starts afresh and gets the origin\'s bytes', async () => {
    const liar = await startLoopbackServer((_req, res) => res.writeHead(200, { 'content-length': blob.length }).end(Buffer.alloc(blob.length, 1)));
    const origin = await startLoopbackServer((_req, res) => res.writeHead(200, { 'content-length': blob.length }).end(blob));
    const hosts = hostsFromObject(origin.host, { host: { [liar.url]: { capabilities: ['pull'] } } }, 'test');
    const answers: MirrorAnswer[] = [];
    const skips: MirrorSkip[] = [];
    const c = client({ hostsFor: (ns) => Promise.resolve(ns === origin.host ? hosts : undefined) }, answers, skips);
    const got: Buffer[] = [];
    let starts = 0;
    await c.downloadBlob({ host: origin.host, path: 'team/app', credentialKey: origin.host }, { digest: blobDigest, size: blob.length }, {
      start: () => {
        starts++;
        got.length = 0;
        return Promise.resolve();
      },
      write: (chunk) => {
        got.push(chunk);
        return Promise.resolve();
      },
      end: () => Promise.resolve(),
    });
    expect(Buffer.concat(got).equals(blob)).toBe(true);
    expect(starts).toBe(2);
    expect(skips.map((s) => [s.host, s.reason.includes('hashing to')])).toEqual([[liar.host, true]]);
    expect(answers.map((a) => [a.host, a.origin, a.operation])).toEqual([[origin.host, true, 'pull']]);
    expect(liar.requests.map((r) => r.url)).toEqual([`/v2/team/app/blobs/${blobDigest}?ns=${encodeURIComponent(origin.host)}`]);
  });

  it('a mirror with a path is asked under that API root; a HEAD of a tag goes to the origin unless the mirror may resolve', async () => {
    const mirror = await startLoopbackServer((_req, res) => res.writeHead(200, { 'content-length': blob.length }).end(blob));
    const origin = await startLoopbackServer((_req, res) => res.writeHead(404).end());
    const hosts = hostsFromObject(origin.host, { host: { [`${mirror.url}/cache`]: { capabilities: ['pull'] } } }, 'test');
    const c = client({ hostsFor: () => Promise.resolve(hosts) }, [], []);
    const body = await c.getBlob({ host: origin.host, path: 'team/app', credentialKey: origin.host }, blobDigest);
    expect(body.equals(blob)).toBe(true);
    expect(mirror.requests.map((r) => r.url)).toEqual([`/cache/v2/team/app/blobs/${blobDigest}?ns=${encodeURIComponent(origin.host)}`]);
    await expectResolverError(c.resolveTag({ host: origin.host, path: 'team/app', credentialKey: origin.host }, 'latest'), 'ERR_NOT_FOUND');
    expect(origin.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['HEAD /v2/team/app/manifests/latest', 'GET /v2/team/app/manifests/latest']);
    expect(mirror.requests).toHaveLength(1);
  });

  it('a mirror that fails the last try is the error; with no host allowed to resolve, a clear config error', async () => {
    const origin = await startLoopbackServer((_req, res) => res.writeHead(500).end());
    const onlyPull = hostsFromObject(origin.host, { server: 'https://mirror.invalid', capabilities: ['pull'] }, 'hosts.toml');
    const c = client({ hostsFor: () => Promise.resolve(onlyPull) }, [], []);
    const e = await expectResolverError(c.resolveTag({ host: origin.host, path: 'team/app', credentialKey: origin.host }, 'latest'), 'ERR_CONFIG_INVALID');
    expect(e.message).toBe(`no host configured for ${origin.host} may resolve (hosts.toml)`);
  });

  it.each([
    ['GET', '/v2/team/app/manifests/latest', [], 'resolve'],
    ['HEAD', '/v2/team/app/manifests/sha256:abc', [], 'pull'],
    ['GET', '/v2/team/app/blobs/sha256:abc', [], 'pull'],
    ['HEAD', '/v2/team/app/blobs/sha256:abc', ['repository:team/app:pull,push'], undefined],
    ['PUT', '/v2/team/app/manifests/latest', [], undefined],
    ['GET', '/v2/', [], undefined],
    ['GET', '/v2/other/manifests/latest', [], undefined],
    ['GET', 'https://storage.example/upload', [], undefined],
  ] as const)('%s %s (%j) is a %s', (method, path, scopes, expected) => {
    const req = { method, path, scopes, repo: { host: 'h', path: 'team/app', credentialKey: 'h' } } as unknown as RegistryRequest;
    expect(operationOf(req)?.operation).toBe(expected);
  });
});
