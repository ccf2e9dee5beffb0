#!/usr/bin/env node
// Start-up cost of the launcher's V8 code cache, with hyperfine (apt-get install hyperfine):
//   node -e 0  vs  resolver --version / resolver which REF, each with no cache (RESOLVER_CODE_CACHE=0)
//   and with the safe cache (warm, in a private XDG_CACHE_HOME).
// `which` runs against a private docker-registry on loopback holding a two-child index. Node starts are
// timed with NODE_EXTRA_CA_CERTS unset, as on a user's host. Usage: node bench/startup.mjs [RUNS]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

const root = resolve(new URL('..', import.meta.url).pathname);
const runs = Number(process.argv[2] ?? process.env.BENCH_RUNS ?? 40);
const tmp = mkdtempSync(join(tmpdir(), 'resolver-startup-'));
const port = await new Promise((ok) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => ok(p));
  });
});
mkdirSync(join(tmp, 'storage'));
writeFileSync(join(tmp, 'config.yml'), `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${tmp}/storage\nhttp:\n  addr: 127.0.0.1:${port}\n`);
const registry = spawn('docker-registry', ['serve', join(tmp, 'config.yml')], { stdio: 'ignore' });
const base = `http://127.0.0.1:${port}`;
try {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ok = await fetch(`${base}/v2/`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error('docker-registry did not answer /v2/ within 15 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  const digest = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
  const blob = async (b) => {
    const d = digest(b);
    const start = await fetch(`${base}/v2/bench/blobs/uploads/`, { method: 'POST' });
    const url = new URL(start.headers.get('location') ?? '', base);
    url.searchParams.set('digest', d);
    const r = await fetch(url, { method: 'PUT', body: b, headers: { 'content-type': 'application/octet-stream' } });
    if (r.status !== 201) throw new Error(`blob upload: HTTP ${r.status}`);
    return { mediaType: '', digest: d, size: b.length };
  };
  const put = async (ref, type, doc) => {
    const b = Buffer.from(JSON.stringify(doc));
    const r = await fetch(`${base}/v2/bench/manifests/${ref}`, { method: 'PUT', body: b, headers: { 'content-type': type } });
    if (r.status !== 201) throw new Error(`manifest put: HTTP ${r.status} ${await r.text()}`);
    return { mediaType: type, digest: digest(b), size: b.length };
  };
  const layer = await blob(gzipSync(Buffer.alloc(1024)));
  const children = [];
  for (const architecture of ['amd64', 'arm64']) {
    const config = await blob(Buffer.from(JSON.stringify({ architecture, os: 'linux', rootfs: { type: 'layers', diff_ids: [] } })));
    const m = await put(architecture, 'application/vnd.oci.image.manifest.v1+json', {
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { ...config, mediaType: 'application/vnd.oci.image.config.v1+json' },
      layers: [{ ...layer, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }],
    });
    children.push({ ...m, platform: { architecture, os: 'linux' } });
  }
  await put('latest', 'application/vnd.oci.image.index.v1+json', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: children });

  const cache = join(tmp, 'cache');
  mkdirSync(cache, { mode: 0o700 });
  const env = { ...process.env, XDG_CACHE_HOME: cache, DOCKER_CONFIG: join(tmp, 'docker'), DOCKER_HOST: 'unix:///nonexistent/docker.sock' };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.CACHE_DIRECTORY;
  delete env.RESOLVER_CODE_CACHE;
  const cli = `node ${join(root, 'bin/resolver.cjs')}`;
  const ref = `127.0.0.1:${port}/bench:latest`;
  const check = spawnSync('node', [join(root, 'bin/resolver.cjs'), 'which', ref, '--platform', 'linux/arm64'], { env, encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`which failed: ${check.stderr}`);
  const cases = [
    ['node -e 0', 'node -e 0'],
    ['--version, no cache', `RESOLVER_CODE_CACHE=0 ${cli} --version`],
    ['--version, safe cache', `${cli} --version`],
    ['which, no cache', `RESOLVER_CODE_CACHE=0 ${cli} which ${ref} --platform linux/arm64`],
    ['which, safe cache', `${cli} which ${ref} --platform linux/arm64`],
  ];
  const out = join(tmp, 'hyperfine.json');
  execFileSync('hyperfine', ['--warmup', '3', '--runs', String(runs), '--style', 'none', '--export-json', out, ...cases.map(([, c]) => c)], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const results = JSON.parse(readFileSync(out, 'utf8')).results;
  const ms = (s) => (s * 1000).toFixed(1);
  console.log(`node ${process.version} ${process.arch}, ${runs} runs each, load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  console.log('| command | median ms | min ms | mean ± σ ms | user ms | system ms |');
  console.log('|---|---:|---:|---:|---:|---:|');
  results.forEach((r, i) => console.log(`| ${cases[i][0]} | ${ms(r.median)} | ${ms(r.min)} | ${ms(r.mean)} ± ${ms(r.stddev)} | ${ms(r.user)} | ${ms(r.system)} |`));
} finally {
  registry.kill();
  rmSync(tmp, { recursive: true, force: true });
}
