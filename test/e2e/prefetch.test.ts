/**
 * The resolver-side prefetch (issue 12 §5, docs/prefetch.md) on the real engines the fleet runs: Debian 12's
 * dockerd 20.10 and 26.1.5 on the classic store, 26.1.5 on the containerd image store; each re-downloads a layer
 * from byte 0 after a failed pull (bench/prefetch.mjs, docs/prefetch.md). A private
 * docker-registry behind the counting proxy (test/sandbox/counting-proxy.ts) serves a 20 MB random layer; the
 * link drops at half of it and stays down, so the first `resolver check` fails; the second, with the link up,
 * resumes with `Range` from the partial file in the state folder, and the engine pulls the child from the
 * loopback registry. Counted at the proxy: the layer crossed the link once (but for what was in flight when
 * it dropped), the engine fetched no
 * layer from the registry, and the next check is unchanged (the loopback name counts as the child's).
 * Slow-ish (about 6-10 s per engine here), each bounded by the test timeout.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient } from '../../src/http/http.js';
import { startCountingProxy, type CountingProxy } from '../sandbox/counting-proxy.js';
import { buildImage, buildIndex, platformObject } from '../sandbox/oci-builder.js';
import { Pusher } from '../sandbox/push.js';
import { startRegistry, type RunningRegistry } from '../sandbox/registry-server.js';
import { cli } from './cli.js';
import { engineApi } from './engine-api.js';

const s = inject('services');
/** The engines and stores the fleet runs; each re-downloads a layer from byte 0 after a failed pull (docs/prefetch.md). */
const engines = [
  { key: 'debian', name: 'Debian 12 dockerd 20.10, classic store', host: s.engine, containerd: false },
  { key: 'oracle', name: 'dockerd 26.1.5, classic store', host: s.oracle, containerd: false },
  { key: 'c8d', name: 'dockerd 26.1.5, containerd image store', host: s.containerdStore, containerd: true },
];
const http = createHttpClient();
let dir = '';
let registry: RunningRegistry;
let proxy: CountingProxy;

beforeAll(async () => {
  dir = await mkdtemp(join(s.tmp, 'prefetch-'));
  registry = await startRegistry({ dir: join(dir, 'registry'), auth: { kind: 'none' } });
  proxy = await startCountingProxy(registry.host);
});
afterAll(async () => {
  await proxy.stop();
  await registry.stop();
  await http.close();
});

describe('prefetch: a failed pull resumes with Range (slow: about 10 s per engine)', () => {
  it.runIf(engines.every((e) => e.host !== undefined) || process.env['CI'] === 'true').each(engines)('$name: the layer crosses the link once across a failed and a retried check; the engine pulls from the loopback registry', async ({ key, host, containerd }) => {
    expect(host, 'CI starts every engine').toBeDefined();
    const engine = host ?? '';
    const image = buildImage({ platform: { os: 'linux', architecture: 'amd64' }, files: [{ path: 'payload', content: randomBytes(20_000_000) }], format: 'oci', label: 'prefetch e2e' });
    const repository = `prefetch/app-${key}`;
    const pusher = new Pusher({ http, host: registry.host, repository });
    await pusher.image(image);
    await pusher.manifest(buildIndex([{ manifest: image.manifest, platform: platformObject(image.platform) }], 'oci'), 'v1');
    const layer = image.layers[0];
    if (layer === undefined) throw new Error('no layer');
    const size = layer.bytes.byteLength;
    const half = Math.floor(size / 2);
    const stateDir = join(dir, `state-${repository.replaceAll('/', '-')}`);
    const config = join(dir, `${repository.replaceAll('/', '-')}.yaml`);
    const ref = `${proxy.host}/${repository}:v1`;
    await writeFile(config, `engine:\n  host: ${engine}\nschedule: "0 0 1 1 *"\nsplay: 0s\nstateDir: ${stateDir}\nprefetch:\n  attempts: 1\nimages:\n  - image: ${ref}\n`);
    const layerRequests = (): typeof proxy.blobs => proxy.blobs.filter((b) => b.digest === layer.digest);

    // The link drops at half of the layer and stays down: the check fails, the partial stays in the state folder.
    proxy.cutNext(half, size / 2);
    proxy.onProgress((d, total) => {
      if (d === layer.digest && total >= half) proxy.setDown(true);
    });
    const first = await cli(['check', '--config', config], {});
    proxy.onProgress(undefined);
    expect(first.code, first.stderr).not.toBe(0);
    expect(layerRequests().map((b) => [b.range, b.bytes, b.end])).toEqual([[undefined, half, 'cut']]);
    expect(layerRequests().every((b) => b.userAgent.startsWith('resolver/')), 'only resolver fetched the layer').toBe(true);
    // What was in flight when the link dropped may not have reached the file: the partial is at most what the proxy sent.
    const kept = (await stat(join(stateDir, 'prefetch', 'ingest', layer.digest.slice(7)))).size;
    expect(kept).toBeLessThanOrEqual(half);
    expect(half - kept, 'no more than the socket buffers are lost').toBeLessThan(2_000_000);
    const api = engineApi(engine);
    try {
      expect((await api.get(`/images/${ref}/json`)).status, 'nothing tagged after the failed check').toBe(404);

      // The link is up: the next check resumes from the partial file and hands the child to the engine.
      proxy.setDown(false);
      const second = await cli(['check', '--config', config], {});
      expect(second.code, second.stderr).toBe(0);
      const all = layerRequests();
      expect(all.map((b) => [b.range, b.bytes, b.end])).toEqual([[undefined, half, 'cut'], [`bytes=${kept}-`, size - kept, 'complete']]);
      // Once, but for the bytes lost in flight (the engine alone fetches 1.5 x here: docs/prefetch.md).
      expect(proxy.bytes(layer.digest)).toBe(size + half - kept);
      expect(all.filter((b) => !b.userAgent.startsWith('resolver/')), 'the engine fetched no layer from the registry').toEqual([]);
      const tagged = await api.get(`/images/${ref}/json`);
      // The classic store's image ID is the config digest, the containerd store's the manifest digest.
      expect(tagged.json.Id).toBe(containerd ? image.manifest.digest : image.config.digest);
      const port = (await readFile(join(stateDir, 'prefetch', 'port'), 'utf8')).trim();
      expect(tagged.json.RepoDigests).toContain(`127.0.0.1:${port}/${repository}@${image.manifest.digest}`);
      // Handed over: the content store is empty again.
      expect(await readdir(join(stateDir, 'prefetch', 'blobs', 'sha256'))).toEqual([]);

      // The next check finds the child present under the loopback name: no blob is fetched again.
      const blobsBefore = proxy.blobs.length;
      const third = await cli(['check', '--config', config, '--json'], {});
      expect(third.code, third.stderr).toBe(0);
      expect(JSON.parse(third.stdout)[0].lastResult).toBe('unchanged');
      expect(proxy.blobs.length - blobsBefore).toBe(0);
    } finally {
      await api.del(`/images/${ref}`);
      await api.close();
    }
  }, 120_000);
});
