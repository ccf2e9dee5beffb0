import { describe, expect, it } from 'vitest';
import { ResolverError } from '../errors.js';
import { connectFailure, type HttpClient } from '../http/http.js';
import { expectResolverError } from '../../test/fakes/expect-error.js';
import { TokenCache } from './auth.js';
import { RegistryClient } from './client.js';

/** A transport error as http.ts makes it: ERR_NETWORK with undici's error (and its code) as the cause. */
const transport = (code: string): ResolverError => new ResolverError('ERR_NETWORK', `failed (${code})`, { cause: Object.assign(new Error(code), { code }) });

function clientFailingWith(code: string): { client: RegistryClient; sent: string[] } {
  const sent: string[] = [];
  const http: HttpClient = {
    send: (req) => {
      sent.push(req.url.href);
      return Promise.reject(transport(code));
    },
    upgrade: () => Promise.reject(new Error('a registry never upgrades')),
    close: () => Promise.resolve(),
  };
  const client = new RegistryClient({
    http, tokens: new TokenCache(http, () => 0), clock: () => 0, sleep: () => Promise.resolve(), random: () => 0,
    credentials: { get: () => Promise.resolve(undefined) },
    retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
  });
  return { client, sent };
}

const repo = { host: '127.0.0.1:5999', path: 'app', credentialKey: '127.0.0.1:5999' };
const https = 'https://127.0.0.1:5999/v2/app/manifests/v1';
const http = 'http://127.0.0.1:5999/v2/app/manifests/v1';

describe('a connection that is never made (§6 case 2)', () => {
  it('classifies the transport codes', () => {
    expect(connectFailure(transport('UND_ERR_CONNECT_TIMEOUT'))).toBe('timeout');
    expect(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'].map((c) => connectFailure(transport(c)))).toEqual(Array(5).fill('refused'));
    expect(['ECONNRESET', 'UND_ERR_HEADERS_TIMEOUT', 'EPROTO'].map((c) => connectFailure(transport(c)))).toEqual([undefined, undefined, undefined]);
    expect(connectFailure(new ResolverError('ERR_TLS', 'x', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) }))).toBeUndefined();
  });

  it('a connect timeout is tried once: no HTTP fallback on the same port, no retry (was 3 tries × HTTPS and HTTP)', async () => {
    const { client, sent } = clientFailingWith('UND_ERR_CONNECT_TIMEOUT');
    await expectResolverError(client.resolveTag(repo, 'v1'), 'ERR_NETWORK');
    expect(sent).toEqual([https]);
  });

  it('a refused connection is retried, over HTTPS only (HTTP on the same port is refused too)', async () => {
    const { client, sent } = clientFailingWith('ECONNREFUSED');
    await expectResolverError(client.resolveTag(repo, 'v1'), 'ERR_NETWORK');
    expect(sent).toEqual([https, https, https]);
  });

  it('a connection that was made and then failed (a plain-HTTP registry resets TLS) still falls back to HTTP', async () => {
    const { client, sent } = clientFailingWith('ECONNRESET');
    await expectResolverError(client.resolveTag(repo, 'v1'), 'ERR_NETWORK');
    expect(sent.slice(0, 2)).toEqual([https, http]);
  });
});
