/**
 * reliability.md §6 case 3, dns-temporary-failure: the resolver's DNS lookup answers EAI_AGAIN (a resolver
 * that is restarting, a link coming up), then works. Expected: reported as a DNS failure naming the host
 * (ERR_NETWORK, exit 6), never as "not found"; counted as transient (retried within the operation's
 * budget); the next check after it works succeeds. The lookup is injected (`HttpOptions.lookup`): no real
 * resolver fails on demand. It resolves `registry.test` to 127.0.0.1, so nothing leaves loopback.
 */
import type { LookupFunction } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient, type HttpClient } from '../../src/http/http.js';
import { TokenCache } from '../../src/registry/auth.js';
import { RegistryClient } from '../../src/registry/client.js';
import { closeLoopbackServers, startLoopbackServer, type LoopbackServer } from '../fakes/loopback-server.js';
import { expectResolverError } from '../fakes/expect-error.js';
import { indexOf, imageManifest, mediaTypes, sha } from './documents.js';

const index = indexOf(imageManifest());
let server: LoopbackServer;
const clients: HttpClient[] = [];
beforeAll(async () => {
  server = await startLoopbackServer((req, res) => {
    res.writeHead(200, { 'content-type': mediaTypes.index, 'content-length': index.byteLength, 'docker-content-digest': sha(index) });
    res.end(req.method === 'HEAD' ? undefined : index);
  });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await closeLoopbackServers();
});

/** A lookup that fails with EAI_AGAIN while `failing()` says so, else answers 127.0.0.1; counts its calls. */
function flakyLookup(failing: () => boolean): { lookup: LookupFunction; calls: string[] } {
  const calls: string[] = [];
  const lookup = ((hostname: string, options: { all?: boolean }, callback: (error: NodeJS.ErrnoException | null, address: unknown, family?: number) => void) => {
    calls.push(hostname);
    if (hostname !== 'registry.test') callback(Object.assign(new Error(`the test resolves only registry.test, not ${hostname}`), { code: 'ENOTFOUND' }), '');
    else if (failing()) callback(Object.assign(new Error(`getaddrinfo EAI_AGAIN ${hostname}`), { code: 'EAI_AGAIN', hostname }), '');
    else if (options.all === true) callback(null, [{ address: '127.0.0.1', family: 4 }]);
    else callback(null, '127.0.0.1', 4);
  }) as LookupFunction;
  return { lookup, calls };
}

function client(lookup: LookupFunction): RegistryClient {
  const http = createHttpClient({ lookup, connectTimeoutMs: 2000 });
  clients.push(http);
  return new RegistryClient({
    http, tokens: new TokenCache(http, () => 0), clock: () => performance.now(), credentials: { get: () => Promise.resolve(undefined) },
    insecureRegistries: ['registry.test'], retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 }, random: () => 0,
  });
}

describe('dns-temporary-failure (§6 case 3)', () => {
  const repo = (): { host: string; path: string; credentialKey: string } => ({ host: `registry.test:${server.port}`, path: 'app', credentialKey: `registry.test:${server.port}` });

  it('EAI_AGAIN throughout: a DNS error naming the host (not "not found"), retried as transient; the next check after DNS is back succeeds', async () => {
    let dnsDown = true;
    const { lookup, calls } = flakyLookup(() => dnsDown);
    const c = client(lookup);
    const e = await expectResolverError(c.resolveTag(repo(), 'v1'), 'ERR_NETWORK');
    expect(e.message).toBe('DNS lookup of registry.test failed temporarily (EAI_AGAIN)');
    // Retried within the operation (3 tries), over HTTPS only: HTTP would look the same name up again.
    expect(calls).toEqual(['registry.test', 'registry.test', 'registry.test']);
    expect(server.requests).toHaveLength(0);
    dnsDown = false;
    const tag = await c.resolveTag(repo(), 'v1');
    expect(tag.digest).toBe(sha(index));
  });

  it('EAI_AGAIN once, then answers: the same operation recovers on its retry', async () => {
    let failures = 1;
    const { lookup } = flakyLookup(() => failures-- > 0);
    const tag = await client(lookup).resolveTag(repo(), 'v1');
    expect(tag.digest).toBe(sha(index));
  });
});
