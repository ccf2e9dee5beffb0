/**
 * reliability.md §6 case 8, hostile-json: registries and engines that answer with JSON built to hurt —
 * huge, deeply nested, `__proto__` keys, duplicate keys, wrong types, NUL bytes, a byte-order mark,
 * truncated — in manifests, indexes, token responses and the engine's answers. Expected: a typed error with
 * its exit code (never a crash, a RangeError or a stack trace), no prototype pollution, the body in no
 * output, and no change (state byte-identical, engine images unchanged, no temp files).
 * Through the built CLI against loopback servers; the property tests (src/manifest/classify.property.test.ts)
 * cover random documents.
 */
import { mkdir, mkdtemp } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { classifyManifest } from '../../src/manifest/classify.js';
import { cli } from '../e2e/cli.js';
import { closeLoopbackServers, startLoopbackServer, type LoopbackServer } from '../fakes/loopback-server.js';
import { imageManifest, indexOf, mediaTypes, sha } from './documents.js';
import { engineImages, snapshotDir, tempFiles } from './no-change.js';

const s = inject('services');
const canary = 'HOSTILE-BODY-CANARY-5e1f';
const goodIndex = indexOf(imageManifest());
const entry = (JSON.parse(goodIndex.toString('utf8')) as { manifests: unknown[] }).manifests[0];
const text = (o: unknown): string => JSON.stringify(o);

/** Hostile documents served as the tag's index (with a matching digest, so only the content is wrong). */
const documents: Record<string, Buffer> = {
  'nested arrays, 4 MB': Buffer.from(`${'['.repeat(2_000_000)}${']'.repeat(2_000_000)}`),
  'nested objects in manifests, 3 MB': Buffer.from(`{"schemaVersion":2,"mediaType":"${mediaTypes.index}","manifests":[${'{"a":'.repeat(500_000)}1${'}'.repeat(500_000)}],"c":"${canary}"}`),
  '10^5 manifests entries (over the 4 MiB cap)': Buffer.from(text({ schemaVersion: 2, mediaType: mediaTypes.index, manifests: Array.from({ length: 100_000 }, () => entry), c: canary })),
  'wrong types: manifests is a string': Buffer.from(text({ schemaVersion: 2, mediaType: mediaTypes.index, manifests: canary })),
  'wrong types: schemaVersion "2", digest 5': Buffer.from(text({ schemaVersion: '2', mediaType: mediaTypes.index, manifests: [{ mediaType: mediaTypes.manifest, digest: 5, size: 'big', c: canary }] })),
  'a NUL byte': Buffer.concat([Buffer.from(`{"schemaVersion":2,"c":"${canary}`), Buffer.from([0]), Buffer.from('"}')]),
  'a byte-order mark (Go refuses it: docker fails the pull)': Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), goodIndex]),
  'truncated': goodIndex.subarray(0, Math.floor(goodIndex.byteLength / 2)),
  'not UTF-8': Buffer.concat([Buffer.from('{"schemaVersion":2,"c":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
  'a JSON string, not an object': Buffer.from(text(canary)),
};

let registry: LoopbackServer;
let current: Buffer = Buffer.alloc(0);
beforeAll(async () => {
  registry = await startLoopbackServer((req, res) => {
    const body = current;
    res.writeHead(200, { 'content-type': mediaTypes.index, 'content-length': body.byteLength, 'docker-content-digest': sha(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
});
afterAll(closeLoopbackServers);

function noCrash(r: { stderr: string; stdout: string }): void {
  expect(r.stderr).not.toMatch(/\n\s+at |RangeError|SyntaxError|Maximum call stack|TypeError/);
  expect(r.stderr + r.stdout).not.toContain(canary);
  expect(r.stderr.length).toBeLessThan(2000);
}

describe('hostile JSON (§6 case 8)', () => {
  it.each(Object.keys(documents))('an index with %s: a typed "invalid" error, exit 8, quickly', async (name) => {
    current = documents[name] ?? Buffer.alloc(0);
    const started = performance.now();
    const r = await cli(['which', '--platform', 'linux/amd64', `${registry.host}/app:v1`]);
    noCrash(r);
    expect(r.stderr).toMatch(/^resolver: .*(is not valid UTF-8 JSON|is not a valid index|is not a JSON object|announced \d+ bytes|more than \d+ bytes)/);
    expect(r.code, r.stderr).toBe(8);
    expect(r.stdout).toBe('');
    expect(performance.now() - started).toBeLessThan(15_000);
  });

  it('__proto__ keys pollute nothing, and duplicate keys resolve as Go does (the last wins)', async () => {
    const polluting = `{"__proto__":{"polluted":"yes"},"schemaVersion":2,"mediaType":"${mediaTypes.index}","manifests":[],"manifests":[${text({ ...(entry as object), __proto__: { polluted: 'yes' } })}],"constructor":{"prototype":{"polluted":"yes"}}}`;
    const body = Buffer.from(polluting);
    const doc = classifyManifest(body, mediaTypes.index, sha(body), 'test');
    expect(doc.kind).toBe('index');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    current = body;
    const r = await cli(['which', '--platform', 'linux/amd64', `${registry.host}/app:v1`]);
    noCrash(r);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe((entry as { digest: string }).digest);
  });

  it.runIf(s.engine !== undefined)('pull of a hostile index: exit 8 and no change (state byte-identical, engine images unchanged, no temp files)', async () => {
    const state = join(await mkdtemp(join(s.tmp, 'hostile-')), 'state');
    await mkdir(state);
    current = goodIndex;
    const before = await snapshotDir(state);
    const images = await engineImages(s.engine ?? '');
    for (const name of ['nested arrays, 4 MB', 'wrong types: schemaVersion "2", digest 5', 'truncated', 'a byte-order mark (Go refuses it: docker fails the pull)']) {
      current = documents[name] ?? Buffer.alloc(0);
      const r = await cli(['pull', '-q', `${registry.host}/app:v1`], { DOCKER_HOST: s.engine, RESOLVER_STATE_DIR: state });
      noCrash(r);
      expect(r.code, `${name}: ${r.stderr}`).toBe(8);
    }
    expect(await snapshotDir(state)).toEqual(before);
    expect(tempFiles(await snapshotDir(state))).toEqual([]);
    expect(await engineImages(s.engine ?? '')).toEqual(images);
  });
});

describe('hostile token responses (§6 case 8)', () => {
  let token: LoopbackServer;
  let answer = '';
  beforeAll(async () => {
    token = await startLoopbackServer((req, res) => {
      if ((req.url ?? '').startsWith('/token')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(answer);
        return;
      }
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${token.host}/token",service="hostile"`, 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
    });
  });

  it.each([
    ['nested arrays', `${'['.repeat(500_000)}${']'.repeat(500_000)}`],
    ['wrong types', text({ token: 5, expires_in: 'soon', c: canary })],
    ['__proto__', `{"__proto__":{"polluted":"yes"},"token":{"c":"${canary}"}}`],
    ['truncated', `{"token":"${canary}`],
    ['NUL', `{"token":"a\u0000${canary}"}`],
    ['null', 'null'],
  ])('%s: a typed error naming the realm, no crash, the body in no output', async (_name, body) => {
    answer = body;
    const r = await cli(['which', '--platform', 'linux/amd64', `${token.host}/app:v1`]);
    noCrash(r);
    expect(r.stderr).toContain(token.host);
    expect([5, 8]).toContain(r.code);
  });
});

describe('hostile engine answers (§6 case 8)', () => {
  let server: Server;
  let socket = '';
  let version = '';
  beforeAll(async () => {
    socket = join(await mkdtemp(join(s.tmp, 'hostile-engine-')), 'docker.sock');
    server = createServer((req, res) => {
      const path = (req.url ?? '').replace(/^\/v[\d.]+/, '');
      res.writeHead(200, { 'content-type': 'application/json', 'api-version': '1.45' });
      if (path === '/_ping') return void res.end('OK');
      if (path === '/version') return void res.end(version);
      res.end('{}');
    });
    await new Promise<void>((r) => server.listen(socket, r));
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it.each([
    ['nested arrays', `${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}`],
    ['wrong types', text({ Version: 29, ApiVersion: ['1.45'], Os: null, Arch: { c: canary } })],
    ['__proto__', `{"__proto__":{"polluted":"yes"},"Version":"29.0.0","c":"${canary}"}`],
    ['truncated', '{"Version":"29.0'],
    ['BOM', '\uFEFF{"Version":"29.0.0","ApiVersion":"1.45","Os":"linux","Arch":"amd64"}'],
  ])('/version with %s: platform fails with a typed engine error (exit 9), no crash', async (_name, body) => {
    version = body;
    const r = await cli(['platform'], { DOCKER_HOST: `unix://${socket}` });
    noCrash(r);
    expect(r.stderr).toMatch(/^resolver: /m);
    expect(r.code, r.stderr).toBe(9);
  });
});
