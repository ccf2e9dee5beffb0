/**
 * BlobCopier against loopback fake registries, for faults the real registry cannot produce on demand: a
 * target that fails the piped upload (→ copied again through a temporary file), a source that serves bytes
 * not matching the digest (→ the upload is never completed), a target that refuses outright.
 */
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpClient, type HttpClient } from '../http/http.js';
import { TokenCache } from '../registry/auth.js';
import { RegistryClient, type Repository } from '../registry/client.js';
import { expectResolverError } from '../../test/fakes/expect-error.js';
import { closeLoopbackServers, startLoopbackServer, type LoopbackHandler } from '../../test/fakes/loopback-server.js';
import { BlobCopier } from './copy-blob.js';

const clients: HttpClient[] = [];
afterEach(async () => {
  await closeLoopbackServers();
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

/** A loopback fake registry; its `host:port`. */
const serve = async (handler: LoopbackHandler): Promise<string> => (await startLoopbackServer(handler)).host;

function registry(): RegistryClient {
  const http = createHttpClient({ connectTimeoutMs: 1000, headersTimeoutMs: 2000 });
  clients.push(http);
  const clock = (): number => performance.now();
  return new RegistryClient({
    http, tokens: new TokenCache(http, clock), clock, credentials: { get: () => Promise.resolve(undefined) },
    retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2, maxRetryAfterMs: 1000 }, sleep: () => Promise.resolve(), random: () => 1,
  });
}

const blob = Buffer.alloc(3_000_000, 7);
const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
const repo = (host: string, path: string): Repository => ({ host, path, credentialKey: host });

/** A target that records complete uploads and fails the first `failPuts` PUTs with 500. */
async function target(failPuts: number): Promise<{ host: string; stored: Buffer[]; puts: number }> {
  const state = { host: '', stored: [] as Buffer[], puts: 0 };
  state.host = await serve((req, res, body) => {
    if (req.method === 'POST') {
      res.writeHead(202, { location: `/v2/dst/blobs/uploads/${Math.random()}` });
      res.end();
      return;
    }
    state.puts++;
    if (state.puts <= failPuts) {
      res.writeHead(500);
      res.end();
      return;
    }
    state.stored.push(body);
    res.writeHead(201);
    res.end();
  });
  return state;
}

describe('BlobCopier', () => {
  it('pipes the download into the upload when both work', async () => {
    const source = await serve((_req, res) => res.end(blob));
    const dst = await target(0);
    const copier = new BlobCopier(registry());
    expect(await copier.copy(repo(source, 'src'), repo(dst.host, 'dst'), { digest, size: blob.length })).toBe('streamed');
    expect(dst.stored).toHaveLength(1);
    expect(dst.stored[0]?.equals(blob)).toBe(true);
  });

  it('copies through a temporary file when the piped upload fails with a 5xx, then removes the file', async () => {
    let gets = 0;
    const source = await serve((_req, res) => {
      gets++;
      res.end(blob);
    });
    const dst = await target(2);
    const spool = mkdtempSync(join(tmpdir(), 'copy-test-'));
    const copier = new BlobCopier(registry(), spool);
    expect(await copier.copy(repo(source, 'src'), repo(dst.host, 'dst'), { digest, size: blob.length })).toBe('spooled');
    // 1 piped PUT (failed, not retried), then from the file: a 500 and a retry that stored it.
    expect(dst.puts).toBe(3);
    expect(gets).toBe(2);
    expect(dst.stored[0]?.equals(blob)).toBe(true);
    await copier.close();
    expect(await readdir(spool)).toEqual([]);
  });

  it('never completes an upload of bytes that do not match the digest', async () => {
    const bad = Buffer.from(blob);
    bad[bad.length - 1] = 0;
    const source = await serve((_req, res) => res.end(bad));
    const dst = await target(0);
    await expectResolverError(new BlobCopier(registry()).copy(repo(source, 'src'), repo(dst.host, 'dst'), { digest, size: blob.length }), 'ERR_DIGEST_MISMATCH');
    expect(dst.stored).toEqual([]);
  });

  it('gives up without a second copy when the target refuses (403)', async () => {
    let gets = 0;
    const source = await serve((_req, res) => {
      gets++;
      res.end(blob);
    });
    const dst = await serve((_req, res) => {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'DENIED', message: 'no push' }] }));
    });
    await expectResolverError(new BlobCopier(registry()).copy(repo(source, 'src'), repo(dst, 'dst'), { digest, size: blob.length }), 'ERR_REGISTRY_AUTH');
    expect(gets).toBeLessThanOrEqual(1);
  });
});
