/**
 * The prefetch window's end stops a blob fetch under way (docs/prefetch.md): on a fake wall clock, against a
 * slow blob server on loopback that stalls mid-layer, the stage is aborted when the clock reaches the window's
 * end, the bytes that came stay in `ingest/`, nothing is handed over, and the next stage (the next window)
 * resumes with `Range: bytes=N-`.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeLoopbackServers, startLoopbackServer } from '../../test/fakes/loopback-server.js';
import { createHttpClient, type HttpClient } from '../http/http.js';
import { parseReference } from '../reference/reference.js';
import { TokenCache } from '../registry/auth.js';
import { RegistryClient } from '../registry/client.js';
import { ContentStore } from './content-store.js';
import { createPrefetch, msToWindowEnd } from './prefetch.js';

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const layer = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 13) % 256));
const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
const manifest = Buffer.from(JSON.stringify({
  schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.byteLength },
  layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.byteLength }],
}));
const stallAt = 60_000;

let dir = '';
const clients: HttpClient[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'prefetch-window-'));
});
afterEach(async () => {
  await closeLoopbackServers();
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await rm(dir, { recursive: true, force: true });
});

/** A fake wall clock whose sleeps resolve only when the test moves it past their end. */
function fakeClock(start: number): { now: () => number; sleep: (ms: number, signal?: AbortSignal) => Promise<void>; advance: (ms: number) => void; pending: () => number[] } {
  let t = start;
  const sleeps: { at: number; resolve: () => void }[] = [];
  return {
    now: () => t,
    sleep: (ms, signal) => new Promise<void>((resolve, reject) => {
      const s = { at: t + ms, resolve };
      sleeps.push(s);
      signal?.addEventListener('abort', () => {
        sleeps.splice(sleeps.indexOf(s), 1);
        reject(new Error('aborted'));
      }, { once: true });
    }),
    advance: (ms) => {
      t += ms;
      for (const s of sleeps.filter((x) => x.at <= t)) {
        sleeps.splice(sleeps.indexOf(s), 1);
        s.resolve();
      }
    },
    pending: () => sleeps.map((s) => s.at - t),
  };
}

async function until(what: string, ok: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('prefetch window', () => {
  it('msToWindowEnd: inside (also across midnight) the ms to the end; outside undefined', () => {
    const at = (h: number, m: number): number => Date.UTC(2026, 0, 10, h, m, 30);
    expect(msToWindowEnd(at(4, 59), { startMinute: 60, endMinute: 300 }, 0)).toBe(30_000);
    expect(msToWindowEnd(at(23, 0), { startMinute: 22 * 60, endMinute: 60 }, 0)).toBe(2 * 3600_000 - 30_000);
    expect(msToWindowEnd(at(0, 30), { startMinute: 22 * 60, endMinute: 60 }, 0)).toBe(30 * 60_000 - 30_000);
    expect(msToWindowEnd(at(5, 0), { startMinute: 60, endMinute: 300 }, 0)).toBeUndefined();
    expect(msToWindowEnd(at(6, 59), { startMinute: 60, endMinute: 300 }, -120)).toBe(30_000);
  });

  it('a slow fetch under way stops at the window end, keeps its bytes, hands nothing over; the next window resumes with Range', async () => {
    let stall = true;
    const server = await startLoopbackServer(async (req, res) => {
      const url = req.url ?? '';
      if (url === '/v2/') return void res.writeHead(200).end();
      if (url.endsWith(`/manifests/${sha(manifest)}`)) {
        return void res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': sha(manifest), 'content-length': manifest.byteLength }).end(manifest);
      }
      if (url.endsWith(`/blobs/${sha(config)}`)) return void res.writeHead(200, { 'content-length': config.byteLength }).end(config);
      if (!url.endsWith(`/blobs/${sha(layer)}`)) return void res.writeHead(404).end();
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const from = m === null ? 0 : Number(m[1]);
      res.writeHead(m === null ? 200 : 206, {
        'content-length': layer.byteLength - from,
        ...(m === null ? {} : { 'content-range': `bytes ${from}-${layer.byteLength - 1}/${layer.byteLength}` }),
      });
      // Slow: 10 KB at a time; while `stall`, the link goes quiet at `stallAt` (until the client hangs up).
      for (let i = from; i < layer.byteLength; i += 10_000) {
        if (stall && i >= stallAt) return new Promise((r) => res.on('close', r));
        res.write(layer.subarray(i, Math.min(layer.byteLength, i + 10_000)));
        await new Promise((r) => setTimeout(r, 5));
      }
      res.end();
      return undefined;
    });
    const http = createHttpClient({ connectTimeoutMs: 2000 });
    clients.push(http);
    const mono = (): number => performance.now();
    const reader = new RegistryClient({ http, tokens: new TokenCache(http, mono), clock: mono, credentials: { get: () => Promise.resolve(undefined) } });
    // 04:59:00 UTC, the window 01:00-05:00 (UTC here): one minute of it left.
    const clock = fakeClock(Date.UTC(2026, 0, 10, 4, 59, 0));
    const paused: string[] = [];
    const prefetch = createPrefetch({ reader, dir, now: mono, sleep: clock.sleep, wallNow: clock.now, utcOffsetMinutes: () => 0, onPaused: (m) => paused.push(m) });
    const ref = parseReference(`${server.host}/team/app:v1`);
    const child = { digest: sha(manifest), size: manifest.byteLength };
    const window = { startMinute: 60, endMinute: 300 };
    const store = new ContentStore(dir);

    const first = prefetch.stage(ref, child, undefined, window);
    let settled: unknown;
    first.then((v) => (settled = v), (e: unknown) => (settled = e));
    await until('the layer to stall at 60,000 bytes', async () => (await store.partial(sha(layer))) >= stallAt);
    clock.advance(59_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(settled, 'still in the window: the fetch goes on').toBeUndefined();
    clock.advance(1000);
    await until('the stage to stop at the window end', () => settled !== undefined);
    expect(settled).toMatchObject({ code: 'ERR_ABORTED' });
    const held = config.byteLength + stallAt;
    const line = `prefetch of ${server.host}/team/app:v1 paused at the end of its window 05:00; ${held} of ${config.byteLength + layer.byteLength} bytes kept, resumes at 01:00`;
    expect(paused).toEqual([line]);
    expect((settled as Error).message).toBe(line);
    expect(await store.partial(sha(layer)), 'the partial layer is kept').toBe(stallAt);
    expect(await store.complete(sha(layer))).toBeUndefined();
    expect(await prefetch.aliases(ref), 'nothing was served to the engine (no loopback registry)').toEqual([]);
    expect(clock.pending(), 'the timer is gone').toEqual([]);

    // The next day, 01:30, the link is well: the layer resumes from the bytes kept.
    stall = false;
    clock.advance(20 * 3600_000 + 30 * 60_000);
    const blobGets = (): string[] => server.requests.filter((r) => r.url.endsWith(`/blobs/${sha(layer)}`)).map((r) => r.headers.range ?? 'whole');
    const staged = await prefetch.stage(ref, child, undefined, window);
    expect(blobGets()).toEqual(['whole', `bytes=${stallAt}-`]);
    expect(staged.fetched.find((f) => f.digest === sha(layer))).toMatchObject({ requests: [stallAt], received: layer.byteLength - stallAt });
    expect(await store.complete(sha(layer))).toBe(layer.byteLength);
    expect(paused).toHaveLength(1);
    await staged.release(true);
  }, 30_000);
});
