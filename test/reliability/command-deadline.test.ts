/**
 * Issue 13.23: one overall deadline per command. A registry that sends each answer slowly but within the
 * per-operation deadline (a trickled body) kept `which` busy for the sum of its operations (three 60 s
 * tries in the field report). With `--timeout` / `RESOLVER_TIMEOUT` (default 60 s) the whole command gives
 * up at its deadline: exit 6, a message naming the deadline and how to raise it. Through the built CLI,
 * against a loopback registry that delays the tag's HEAD by 1.5 s and trickles each index over 2.4 s.
 */
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../e2e/cli.js';
import { closeLoopbackServers, startLoopbackServer, type LoopbackServer } from '../fakes/loopback-server.js';
import { imageManifest, indexOf, mediaTypes, sha } from './documents.js';

const manifest = imageManifest();
const indexType = mediaTypes.index;
// A nested index: the tag's index points to another index, which points to the image. `which` reads both
// indexes (two trickled bodies) after the tag's HEAD (whose headers come after 1.5 s).
const inner = indexOf(manifest);
const index = indexOf(inner, indexType);

/** Sends `body` in 8 slices 300 ms apart: each answer takes 2.4 s, far inside the per-operation deadline. */
function trickle(res: ServerResponse, body: Buffer, type: string): void {
  res.writeHead(200, { 'content-type': type, 'content-length': body.byteLength, 'docker-content-digest': sha(body) });
  const slices = 8;
  const size = Math.ceil(body.byteLength / slices);
  let i = 0;
  const timer = setInterval(() => {
    if (res.destroyed) {
      clearInterval(timer);
      return;
    }
    res.write(body.subarray(i * size, (i + 1) * size));
    if (++i === slices) {
      clearInterval(timer);
      res.end();
    }
  }, 300);
}

let registry: LoopbackServer;
beforeAll(async () => {
  registry = await startLoopbackServer((req, res) => {
    const url = req.url ?? '';
    if (url === '/v2/' || url === '/v2') return void res.writeHead(200).end('{}');
    const doc = [index, inner, manifest].find((d) => url.endsWith(`/manifests/${sha(d)}`)) ?? (url.endsWith('/manifests/v1') ? index : undefined);
    if (doc === undefined) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}');
    const type = doc === manifest ? mediaTypes.manifest : indexType;
    if (req.method === 'HEAD') {
      setTimeout(() => res.writeHead(200, { 'content-type': type, 'content-length': doc.byteLength, 'docker-content-digest': sha(doc) }).end(), 1500);
      return;
    }
    trickle(res, doc, type);
  });
});
afterAll(closeLoopbackServers);

const which = (extra: string[], env: Record<string, string> = {}) => async (): Promise<{ code: number | null; stdout: string; stderr: string; seconds: number }> => {
  const started = performance.now();
  const r = await cli(['which', '--platform', 'linux/amd64', ...extra, `${registry.host}/app:v1`], env);
  return { ...r, seconds: (performance.now() - started) / 1000 };
};

describe('one deadline per command (13.23)', () => {
  it('without a deadline (RESOLVER_TIMEOUT=0) the slow registry answers: about 6.3 s, each operation under 2.5 s', async () => {
    registry.requests.length = 0;
    const r = await which([], { RESOLVER_TIMEOUT: '0' })();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(sha(manifest));
    expect(registry.requests.map((q) => `${q.method} ${q.url.replace(/sha256:[0-9a-f]{64}/, 'DIGEST')}`)).toEqual(['HEAD /v2/app/manifests/v1', 'GET /v2/app/manifests/DIGEST', 'GET /v2/app/manifests/DIGEST']);
    expect(r.seconds).toBeGreaterThan(6);
  });

  it('RESOLVER_TIMEOUT=3s ends the whole command at 3 s with exit 6, though no single operation took 3 s', async () => {
    const r = await which([], { RESOLVER_TIMEOUT: '3s' })();
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`resolving ${registry.host}/app:v1 did not finish within 3 s (the command's deadline)`);
    expect(r.stderr).toContain('raise it with --timeout (e.g. --timeout 5m) or RESOLVER_TIMEOUT; 0 means no deadline');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(6);
    // 3 s plus the CLI's start and exit; the sum of the operations is 6.3 s.
    expect(r.seconds).toBeLessThan(4.5);
  });

  it('--timeout wins over RESOLVER_TIMEOUT, and takes a number of seconds', async () => {
    const r = await which(['--timeout', '2'], { RESOLVER_TIMEOUT: '0' })();
    expect(r.stderr).toContain('did not finish within 2 s');
    expect(r.code).toBe(6);
    expect(r.seconds).toBeLessThan(3.5);
  });

  it('manifest inspect is under the same deadline', async () => {
    const started = performance.now();
    const r = await cli(['manifest', 'inspect', '--timeout', '1.5s', `${registry.host}/app:v1`]);
    expect(r.stderr).toContain(`reading ${registry.host}/app:v1 did not finish within 1.5 s (the command's deadline)`);
    expect(r.code).toBe(6);
    expect((performance.now() - started) / 1000).toBeLessThan(3);
  });

  it('a bad value is a usage error naming what is accepted', async () => {
    const flag = await cli(['which', '--timeout', 'soon', `${registry.host}/app:v1`]);
    expect(flag.stderr).toContain("option '--timeout <duration>' argument 'soon' is invalid. use a number of seconds or a duration such as 90s, 5m or 1h");
    expect(flag.code).toBe(2);
    const env = await cli(['which', '--platform', 'linux/amd64', `${registry.host}/app:v1`], { RESOLVER_TIMEOUT: '-1' });
    expect(env.stderr).toContain('RESOLVER_TIMEOUT="-1" is not a timeout');
    expect(env.code).toBe(2);
  });
});
