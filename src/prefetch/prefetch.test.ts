import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ResolverError } from '../errors.js';
import type { Repository } from '../reference/repository.js';
import type { BlobRangeReader, RangeSink } from '../registry/registry.js';
import { prefetchField, parseRate } from './config.js';
import { ContentStore } from './content-store.js';
import { fetchBlob } from './fetch-blob.js';
import { startLoopbackRegistry } from './loopback-registry.js';
import { tokenBucket, unpaced } from './pace.js';

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const repo: Repository = { host: 'registry.test', path: 'team/app', credentialKey: 'registry.test' };
const noSleep = (): Promise<void> => Promise.resolve();

/** A registry that serves `data`, honours Range (unless told not to), and breaks the first responses after `cutAfter` bytes. */
function fakeRegistry(data: Buffer, options: { cuts?: number[]; ignoreRange?: boolean; serve?: Buffer } = {}): BlobRangeReader & { offsets: number[]; sent: number } {
  const cuts = [...(options.cuts ?? [])];
  const body = options.serve ?? data;
  const r = {
    offsets: [] as number[],
    sent: 0,
    async downloadBlobRange(_repo: Repository, _blob: { digest: string; size: number }, offset: number, sink: RangeSink): Promise<void> {
      r.offsets.push(offset);
      const from = options.ignoreRange === true ? 0 : offset;
      await sink.begin(from);
      const cut = cuts.shift();
      const end = cut === undefined ? body.byteLength : Math.min(body.byteLength, from + cut);
      for (let i = from; i < end; i += 1000) {
        const chunk = body.subarray(i, Math.min(end, i + 1000));
        r.sent += chunk.byteLength;
        await sink.write(chunk);
      }
      if (cut !== undefined) throw new ResolverError('ERR_NETWORK', 'connection reset');
    },
  };
  return r;
}

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'prefetch-unit-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('fetchBlob: Range resume into the content store', () => {
  const data = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i % 251));
  const blob = { digest: sha(data), size: data.byteLength };

  it('a cut response is resumed from the bytes held; every byte is fetched once and the blob verified', async () => {
    const registry = fakeRegistry(data, { cuts: [4000] });
    const store = new ContentStore(dir);
    const got = await fetchBlob(registry, repo, blob, store, { pace: unpaced, sleep: noSleep });
    expect(registry.offsets).toEqual([0, 4000]);
    expect(registry.sent).toBe(data.byteLength);
    expect(got.requests).toEqual([0, 4000]);
    expect(await store.complete(blob.digest)).toBe(data.byteLength);
    expect(await store.partial(blob.digest)).toBe(0);
  });

  it('a call that runs out of attempts keeps what came; the next call (a later check) resumes from it', async () => {
    const registry = fakeRegistry(data, { cuts: [3000, 2000] });
    const store = new ContentStore(dir);
    await expect(fetchBlob(registry, repo, blob, store, { pace: unpaced, sleep: noSleep, attempts: 2 })).rejects.toMatchObject({ code: 'ERR_NETWORK' });
    expect(await store.partial(blob.digest)).toBe(5000);
    expect(await store.complete(blob.digest)).toBeUndefined();
    const again = await fetchBlob(registry, repo, blob, new ContentStore(dir), { pace: unpaced, sleep: noSleep });
    expect(again.requests).toEqual([5000]);
    expect(registry.sent).toBe(data.byteLength);
    expect(await store.complete(blob.digest)).toBe(data.byteLength);
  });

  it('a registry that ignores Range (200, the whole blob) starts the file over, and the blob is still right', async () => {
    const registry = fakeRegistry(data, { cuts: [3000], ignoreRange: true });
    const store = new ContentStore(dir);
    await fetchBlob(registry, repo, blob, store, { pace: unpaced, sleep: noSleep });
    expect(registry.offsets).toEqual([0, 3000]);
    expect(registry.sent).toBe(3000 + data.byteLength);
    expect(await store.complete(blob.digest)).toBe(data.byteLength);
  });

  it('bytes that do not hash to the digest never enter the store: ERR_DIGEST_MISMATCH, and the partial goes', async () => {
    const other = Buffer.from(data);
    other[5000] = (other[5000] ?? 0) ^ 1;
    const store = new ContentStore(dir);
    await expect(fetchBlob(fakeRegistry(data, { serve: other }), repo, blob, store, { pace: unpaced, sleep: noSleep })).rejects.toMatchObject({ code: 'ERR_DIGEST_MISMATCH' });
    expect(await store.complete(blob.digest)).toBeUndefined();
    expect(await store.partial(blob.digest)).toBe(0);
  });

  it('a complete blob costs no request; a partial file longer than the blob starts over', async () => {
    const store = new ContentStore(dir);
    await store.put(blob.digest, data);
    const registry = fakeRegistry(data);
    expect((await fetchBlob(registry, repo, blob, store, { pace: unpaced, sleep: noSleep })).requests).toEqual([]);
    await store.remove([blob.digest]);
    const fh = await store.openIngest(blob.digest, 0);
    await fh.write(Buffer.alloc(data.byteLength + 10));
    await fh.close();
    await fetchBlob(registry, repo, blob, store, { pace: unpaced, sleep: noSleep });
    expect(registry.offsets).toEqual([0]);
    expect(await store.complete(blob.digest)).toBe(data.byteLength);
  });

  it('the pace is applied to every chunk', async () => {
    let clock = 0;
    const waits: number[] = [];
    const pace = tokenBucket(1000, { now: () => clock, sleep: (ms) => { waits.push(ms); clock += ms; return Promise.resolve(); } }, 1000);
    await fetchBlob(fakeRegistry(data), repo, blob, new ContentStore(dir), { pace, sleep: noSleep });
    // 10,000 bytes at 1,000 B/s with a 1,000-byte bucket: 9 s of waiting.
    expect(waits.reduce((a, b) => a + b, 0)).toBeCloseTo(9000, 6);
  });
});

describe('tokenBucket', () => {
  it('lets a burst pass at once, then holds the average to the rate', async () => {
    let clock = 0;
    const waits: number[] = [];
    const pace = tokenBucket(2_000_000, { now: () => clock, sleep: (ms) => { waits.push(ms); clock += ms; return Promise.resolve(); } });
    await pace.take(500_000);
    expect(waits).toEqual([]);
    for (let i = 0; i < 10; i++) await pace.take(200_000);
    // 2.5 MB taken at 2 MB/s with a 0.5 MB bucket: 1 s waited in all.
    expect(clock).toBeCloseTo(1000, 6);
    expect(() => tokenBucket(0, { now: () => 0, sleep: noSleep })).toThrow(/above 0/);
  });
});

describe('prefetch: config', () => {
  it('is off when absent, on with the defaults when empty; rates parse with units', () => {
    expect(prefetchField.parse(undefined)).toEqual({ enabled: false, rateBytesPerSecond: undefined, port: 0, attempts: 3 });
    expect(prefetchField.parse(null)).toEqual({ enabled: true, rateBytesPerSecond: undefined, port: 0, attempts: 3 });
    expect(prefetchField.parse({ rate: '2MB/s', port: 5123 })).toMatchObject({ enabled: true, rateBytesPerSecond: 2_000_000, port: 5123 });
    expect(parseRate('512KiB')).toBe(524_288);
    expect(parseRate(1000)).toBe(1000);
    expect(parseRate('10%')).toBeUndefined();
    expect(parseRate('0')).toBeUndefined();
    const bad = prefetchField.safeParse({ rate: 'fast' });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toContain('\\"fast\\" is not a rate');
  });
});

describe('loopback registry', () => {
  const get = (port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end();
    });

  it('serves committed blobs and known manifests by digest under any name, with Range; nothing else', async () => {
    const store = new ContentStore(dir);
    const layer = Buffer.from('layer bytes '.repeat(100));
    const manifest = Buffer.from('{"schemaVersion":2}');
    await store.put(sha(layer), layer);
    await store.put(sha(manifest), manifest);
    const partial = Buffer.from('partial');
    const fh = await store.openIngest(sha(Buffer.from('whole')), 0);
    await fh.write(partial);
    await fh.close();
    const server = await startLoopbackRegistry(store, new Map([[sha(manifest), 'application/vnd.oci.image.manifest.v1+json']]), 0);
    try {
      expect((await get(server.port, '/v2/')).status).toBe(200);
      const m = await get(server.port, `/v2/any/name/manifests/${sha(manifest)}`);
      expect(m.status).toBe(200);
      expect(m.headers['content-type']).toBe('application/vnd.oci.image.manifest.v1+json');
      expect(m.headers['docker-content-digest']).toBe(sha(manifest));
      expect(m.body.equals(manifest)).toBe(true);
      const b = await get(server.port, `/v2/team/app/blobs/${sha(layer)}`);
      expect(b.body.equals(layer)).toBe(true);
      const r = await get(server.port, `/v2/team/app/blobs/${sha(layer)}`, { range: 'bytes=1000-' });
      expect(r.status).toBe(206);
      expect(r.headers['content-range']).toBe(`bytes 1000-${layer.byteLength - 1}/${layer.byteLength}`);
      expect(r.body.equals(layer.subarray(1000))).toBe(true);
      const head = await get(server.port, `/v2/team/app/blobs/${sha(layer)}`, {}, 'HEAD');
      expect(head.headers['content-length']).toBe(String(layer.byteLength));
      expect((await get(server.port, `/v2/team/app/blobs/${sha(Buffer.from('whole'))}`)).status, 'a partial blob is not served').toBe(404);
      expect((await get(server.port, `/v2/team/app/manifests/${sha(layer)}`)).status, 'a blob is not a manifest').toBe(404);
      expect((await get(server.port, '/v2/team/app/manifests/latest')).status, 'tags are not served').toBe(404);
      expect((await get(server.port, `/v2/team/app/blobs/${sha(layer)}`, {}, 'DELETE')).status).toBe(405);
    } finally {
      await server.close();
    }
    expect(await readdir(join(dir, 'ingest'))).toHaveLength(1);
  });
});

describe('createPrefetch', () => {
  it('two children sharing a layer, staged at once, fetch it once; each is served, and its blobs go once handed over', async () => {
    const { createPrefetch } = await import('./prefetch.js');
    const { parseReference } = await import('../reference/reference.js');
    const layer = Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 7) % 256));
    const configs = [Buffer.from('{"a":1}'), Buffer.from('{"b":2}')];
    const manifests = configs.map((c) => Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(c), size: c.byteLength },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.byteLength }],
    })));
    const blobs = new Map([[sha(layer), layer], ...configs.map((c) => [sha(c), c] as const)]);
    const requested: string[] = [];
    const reader = {
      resolveTag: () => Promise.reject(new Error('unused')),
      getBlob: () => Promise.reject(new Error('unused')),
      downloadBlob: () => Promise.reject(new Error('unused')),
      getManifest: (_r: Repository, digest: string) => {
        const body = manifests.find((m) => sha(m) === digest);
        return body === undefined ? Promise.reject(new Error('no manifest')) : Promise.resolve({ digest, contentType: 'application/vnd.oci.image.manifest.v1+json', body });
      },
      async downloadBlobRange(_r: Repository, blob: { digest: string }, offset: number, sink: RangeSink): Promise<void> {
        requested.push(blob.digest);
        const bytes = blobs.get(blob.digest) ?? Buffer.alloc(0);
        await sink.begin(offset);
        for (let i = offset; i < bytes.byteLength; i += 4096) {
          await new Promise((r) => setImmediate(r));
          await sink.write(bytes.subarray(i, Math.min(bytes.byteLength, i + 4096)));
        }
      },
    };
    const prefetch = createPrefetch({ reader, dir, now: () => 0, sleep: noSleep });
    const ref = parseReference('registry.test/team/app:v1');
    const staged = await Promise.all(manifests.map((m) => prefetch.stage(ref, { digest: sha(m), size: m.byteLength })));
    expect(requested.filter((d) => d === sha(layer))).toHaveLength(1);
    expect(staged[0]?.repository).toMatch(/^127\.0\.0\.1:\d+\/team\/app$/);
    expect(await prefetch.aliases(ref)).toEqual([staged[0]?.repository]);
    const store = new ContentStore(dir);
    expect(await store.complete(sha(layer))).toBe(layer.byteLength);
    await staged[0]?.release(true);
    expect(await store.complete(sha(layer)), 'the other child still needs the shared layer').toBe(layer.byteLength);
    expect(await store.complete(sha(configs[0] ?? Buffer.alloc(0)))).toBeUndefined();
    await staged[1]?.release(true);
    expect(await store.complete(sha(layer))).toBeUndefined();
  });
});
