/**
 * Issue 14, defects 1 and 2: a rejected credentials lookup is not remembered, and retry backoffs leave no
 * abort listener on a long-lived signal.
 */
import { getEventListeners } from 'node:events';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ResolverError } from '../errors.js';
import { createHttpClient, type HttpClient } from '../http/http.js';
import { TokenCache } from './auth.js';
import { RegistryClient, type Repository } from './client.js';
import type { CredentialStore } from './credentials.js';
import { Secret } from '../secret/secret.js';

const servers: Server[] = [];
const clients: HttpClient[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return `127.0.0.1:${typeof a === 'object' && a !== null ? a.port : 0}`;
}

const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }));
const digest = `sha256:${createHash('sha256').update(index).digest('hex')}`;

function registry(credentials: CredentialStore, retry: ConstructorParameters<typeof RegistryClient>[0]['retry'] = {}): RegistryClient {
  const http = createHttpClient({ connectTimeoutMs: 1000 });
  clients.push(http);
  const clock = (): number => performance.now();
  return new RegistryClient({ http, tokens: new TokenCache(http, clock), clock, credentials, retry });
}

describe('RegistryClient over a long life (the daemon)', () => {
  it('asks the credential store again after a failed lookup (a helper timeout does not stick)', async () => {
    const host = await serve((req, res) => {
      if (req.headers.authorization === undefined) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json', 'docker-content-digest': digest, 'content-length': index.byteLength });
      res.end();
    });
    let calls = 0;
    const store: CredentialStore = {
      get: () => {
        calls++;
        if (calls === 1) return Promise.reject(new ResolverError('ERR_CREDENTIALS', 'credential helper docker-credential-x failed: it timed out or printed too much'));
        return Promise.resolve({ username: 'u', password: new Secret('p'), identityToken: undefined, registryToken: undefined, source: 'test' });
      },
    };
    const c = registry(store);
    const repo: Repository = { host, path: 'team/app', credentialKey: host };
    await expect(c.resolveTag(repo, 'v1')).rejects.toThrow(/timed out/);
    await expect(c.resolveTag(repo, 'v1')).resolves.toMatchObject({ digest });
    expect(calls).toBe(2);
  });

  it('leaves no abort listener on the caller signal after retry backoffs', async () => {
    const host = await serve((_req, res) => {
      res.writeHead(503);
      res.end();
    });
    const shutdown = new AbortController();
    const baseline = getEventListeners(shutdown.signal, 'abort').length;
    const c = registry({ get: () => Promise.resolve(undefined) }, { attempts: 4, baseDelayMs: 1, maxDelayMs: 2 });
    const repo: Repository = { host, path: 'team/app', credentialKey: host };
    for (let i = 0; i < 3; i++) await expect(c.resolveTag(repo, 'v1', shutdown.signal)).rejects.toThrow(/503/);
    expect(getEventListeners(shutdown.signal, 'abort').length).toBe(baseline);
  });
});
