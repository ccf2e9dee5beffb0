#!/usr/bin/env node
// What an engine fetches again when a 100 MB pull breaks at 50 % (issue 12 §5, docs/prefetch.md).
//
// One 100,000,000-byte random file as one gzip'd layer in a private docker-registry; a private dockerd pulls
// it by digest through a counting proxy (test/sandbox/counting-proxy.ts) that records every blob GET, its
// `Range` header and the bytes it forwarded. Scenarios (PREFETCH_SCENARIOS, comma-separated):
//   cut     the proxy closes the layer response at 50 MB; the engine's own retry within the same pull
//   cancel  the client cancels the pull at 50 MB (closes its /images/create request, as Ctrl-C on
//           `docker pull` or a stopped resolver does); then the same pull again
//   fail    the link goes down at 50 MB (every blob GET reset) until the pull fails as a whole (the
//           engine's retries exhausted); then the link comes up and the same pull runs again
//   prefetch-fail   as fail, but `resolver check` (the built CLI, `prefetch: {attempts: 1}`) instead of the
//           bare pull: the first check fails at 50 MB, the second resumes and hands the child to the engine
//   prefetch-cap    one `resolver check` with `prefetch.rate: PREFETCH_RATE` (default 4MB), no fault
//   handoff the two ways to hand prefetched blobs to the engine, timed: a pull from resolver's loopback
//           registry, and `docker load` of a `docker save` tar of the same blobs (run it on loopback)
// Engines (PREFETCH_ENGINES): 20.10 (Debian 12's /usr/sbin/dockerd, classic store, vfs), 26.1.5 (the oracle
// binary, classic, vfs), 26.1.5-c8d (the oracle with the containerd snapshotter, native). Each scenario gets
// a fresh dockerd. Links (PREFETCH_LINKS): loopback, and tbf: the dockerd runs in a network namespace this
// script creates, reaching the proxy over a veth pair whose host end is shaped with
//   tc qdisc add dev VETH root tbf rate 20mbit burst 32kbit latency 400ms
// (this kernel has no netem). Root only. Prints a Markdown table and writes .tmp/bench-prefetch.json.
// Needs `npm run build && node scripts/build-sandbox.mjs` first.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import { dist, root, sandbox } from './setup.mjs';

const { startRegistry } = await import(sandbox('registry-server.js'));
const { startDockerd, unmountUnder } = await import(sandbox('dockerd.js'));
const { buildImage, tar: tarOf } = await import(sandbox('oci-builder.js'));
const { Pusher } = await import(sandbox('push.js'));
const { startCountingProxy } = await import(sandbox('counting-proxy.js'));
const { createHttpClient } = await import(dist('http/http.js'));

const SIZE = Number(process.env.PREFETCH_BYTES ?? 100_000_000);
const scenarios = (process.env.PREFETCH_SCENARIOS ?? 'cut,cancel,fail').split(',');
const engineNames = (process.env.PREFETCH_ENGINES ?? '20.10,26.1.5,26.1.5-c8d').split(',');
const links = (process.env.PREFETCH_LINKS ?? 'loopback,tbf').split(',');
const rate = process.env.PREFETCH_RATE ?? '4MB';
const oracle = process.env.RESOLVER_ORACLE_DOCKERD ?? join(root, '.tmp/oracle/usr/sbin/dockerd');
const engines = {
  '20.10': { binary: '/usr/sbin/dockerd', c8d: false },
  '26.1.5': { binary: oracle, c8d: false },
  '26.1.5-c8d': { binary: oracle, c8d: true },
};
if (process.getuid?.() !== 0) throw new Error('bench/prefetch.mjs needs root (private dockerd, network namespace)');

const tmp = mkdtempSync(join(tmpdir(), 'resolver-bench-prefetch-'));
const http = createHttpClient();
const sh = (cmd, ...args) => execFileSync(cmd, args, { encoding: 'utf8' });
const mb = (n) => (n / 1e6).toFixed(1);

/** The shaped link: a namespace with one end of a veth pair; the host end (10.213.P.1) shaped by TBF. */
function createShapedLink() {
  const tag = String(process.pid % 250);
  const ns = `resolver-pf-${process.pid}`;
  const hostIf = `rpf${tag}h`;
  const nsIf = `rpf${tag}n`;
  const hostIp = `10.213.${tag}.1`;
  const nsIp = `10.213.${tag}.2`;
  sh('ip', 'netns', 'add', ns);
  try {
    sh('ip', 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
    sh('ip', 'link', 'set', nsIf, 'netns', ns);
    sh('ip', 'addr', 'add', `${hostIp}/30`, 'dev', hostIf);
    sh('ip', 'link', 'set', hostIf, 'up');
    sh('ip', 'netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
    sh('ip', 'netns', 'exec', ns, 'ip', 'addr', 'add', `${nsIp}/30`, 'dev', nsIf);
    sh('ip', 'netns', 'exec', ns, 'ip', 'link', 'set', nsIf, 'up');
    // Egress of the host end = everything the registry (proxy) sends to the engine.
    sh('tc', 'qdisc', 'add', 'dev', hostIf, 'root', 'tbf', 'rate', '20mbit', 'burst', '32kbit', 'latency', '400ms');
  } catch (e) {
    sh('ip', 'netns', 'del', ns);
    throw e;
  }
  return {
    ns, hostIf, hostIp,
    qdisc: sh('tc', 'qdisc', 'show', 'dev', hostIf).trim(),
    close() {
      try { sh('ip', 'link', 'del', hostIf); } catch { /* gone with the namespace */ }
      sh('ip', 'netns', 'del', ns);
    },
  };
}

/** Starts one dockerd (in `ns` when given) with its own folder. */
async function startEngine(name, dir, link, registryHost) {
  const e = engines[name];
  let binary = e.binary;
  if (link !== undefined) {
    binary = join(dir, 'dockerd-in-netns.sh');
    mkdirSync(dir, { recursive: true });
    // nsenter enters the network namespace only: `ip netns exec` also remounts /sys, which hides the cgroup mounts dockerd needs.
    writeFileSync(binary, `#!/bin/sh\nexec nsenter --net=/run/netns/${link.ns} -- ${e.binary} "$@"\n`);
    chmodSync(binary, 0o755);
  }
  const extraArgs = [];
  if (link !== undefined) extraArgs.push('--insecure-registry', registryHost);
  if (e.c8d) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'daemon.json'), JSON.stringify({ features: { 'containerd-snapshotter': true } }));
    extraArgs.push('--config-file', join(dir, 'daemon.json'), '--storage-driver', 'native');
  }
  return startDockerd({ binary, dir, extraArgs, timeoutMs: 120_000 });
}

/** POST /images/create on `socket`; resolves with the outcome; `abort` cancels it (closes the request). */
function pull(socket, repository, digest) {
  let req;
  const started = performance.now();
  const done = new Promise((resolve) => {
    let error;
    req = request({ socketPath: socket, method: 'POST', path: `/v1.41/images/create?fromImage=${encodeURIComponent(repository)}&tag=${encodeURIComponent(digest)}` }, (res) => {
      let buf = '';
      res.on('data', (c) => {
        buf += c.toString('utf8');
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          try {
            const j = JSON.parse(line);
            if (j.error !== undefined) error = j.error;
          } catch { /* partial */ }
        }
      });
      res.on('end', () => resolve({ ok: error === undefined && res.statusCode === 200, error: error ?? (res.statusCode === 200 ? undefined : `HTTP ${res.statusCode}`), ms: performance.now() - started }));
      res.on('error', () => resolve({ ok: false, error: 'cancelled', ms: performance.now() - started }));
    });
    req.on('error', (e) => resolve({ ok: false, error: e.message === 'aborted' || e.code === 'ECONNRESET' ? 'cancelled' : e.message, ms: performance.now() - started }));
    req.end();
  });
  return { done, abort: () => req.destroy() };
}

/** `resolver check --config FILE` (the built CLI; inside the namespace on the shaped link); same shape as pull(). */
function check(link, config) {
  const started = performance.now();
  const argv = [process.execPath, join(root, 'bin', 'resolver.cjs'), 'check', '--config', config];
  const cmd = link === undefined ? argv : ['nsenter', `--net=/run/netns/${link.ns}`, '--', ...argv];
  const env = { PATH: process.env.PATH, HOME: process.env.HOME };
  let child;
  const done = new Promise((resolve) => {
    child = spawn(cmd[0], cmd.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => (err += c.toString('utf8')));
    child.stdout.resume();
    child.on('close', (code) => resolve({ ok: code === 0, error: code === 0 ? undefined : `exit ${code}: ${/code=(ERR_\w+)/.exec(err)?.[1] ?? err.trim().split('\n').at(-1)?.slice(0, 80)}`, ms: performance.now() - started }));
  });
  return { done, abort: () => child.kill('SIGTERM') };
}

/**
 * The two hand-offs of prefetched blobs, timed on one engine: a pull by digest from resolver's loopback registry
 * (dist/prefetch/loopback-registry.js over the content store) and `POST /images/load` of a `docker save` tar of
 * the same blobs (the format Docker 20.10 loads; an OCI layout needs 25+).
 */
async function handoff(engine, dir, image) {
  const { ContentStore } = await import(dist('prefetch/content-store.js'));
  const { startLoopbackRegistry } = await import(dist('prefetch/loopback-registry.js'));
  const store = new ContentStore(join(dir, 'store'));
  const layer = image.layers[0];
  for (const b of [image.config, layer, image.manifest]) await store.put(b.digest, b.bytes);
  const server = await startLoopbackRegistry(store, new Map([[image.manifest.digest, image.manifest.mediaType]]), 0);
  const api = (method, path, extra = []) => execFileSync('curl', ['-s', '--unix-socket', engine.socket, '-X', method, ...extra, `http://x/v1.41${path}`], { encoding: 'utf8', maxBuffer: 64 << 20 });
  let pullMs;
  try {
    const r = await pull(engine.socket, `127.0.0.1:${server.port}/prefetch/big`, image.manifest.digest).done;
    if (!r.ok) throw new Error(`pull from the loopback registry: ${r.error}`);
    pullMs = r.ms;
  } finally {
    await server.close();
  }
  const pulled = JSON.parse(api('GET', `/images/127.0.0.1:${server.port}/prefetch/big@${image.manifest.digest}/json`));
  api('DELETE', `/images/${pulled.Id}?force=1`);
  const hex = (d) => d.slice(7);
  const tarPath = join(dir, 'save.tar');
  const manifest = [{ Config: `${hex(image.config.digest)}.json`, RepoTags: ['prefetch/big:loaded'], Layers: [`${hex(layer.digest)}/layer.tar`] }];
  writeFileSync(tarPath, tarOf([
    { path: `${hex(image.config.digest)}.json`, content: image.config.bytes },
    { path: `${hex(layer.digest)}/layer.tar`, content: layer.bytes },
    { path: 'manifest.json', content: Buffer.from(JSON.stringify(manifest)) },
  ]));
  const t = performance.now();
  const out = api('POST', '/images/load?quiet=1', ['-H', 'Content-Type: application/x-tar', '--data-binary', `@${tarPath}`]);
  const loadMs = performance.now() - t;
  const loaded = JSON.parse(api('GET', '/images/prefetch/big:loaded/json'));
  return { pullMs: Math.round(pullMs), pullRepoDigests: pulled.RepoDigests, loadMs: Math.round(loadMs), loadRepoDigests: loaded.RepoDigests ?? [], loadOutput: out.trim().slice(0, 200) };
}

/** Removes a folder; a mount the engine left busy (the containerd store's, now and then) is reported, not fatal. */
function removeTree(dir) {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch (e) {
    process.stderr.write(`could not remove ${dir}: ${e instanceof Error ? e.message : String(e)}\n`);
  }
}

/** Bytes under `dir` (recursively), 0 when it does not exist. */
function bytesUnder(dir) {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) n += bytesUnder(p);
    else if (e.isFile()) n += statSync(p).size;
  }
  return n;
}

/** What the engine keeps of a broken pull: containerd's ingests, or the classic store's temp files. */
const partialBytes = (dir) => bytesUnder(join(dir, 'data', 'containerd', 'daemon', 'io.containerd.content.v1.content', 'ingest')) + bytesUnder(join(dir, 'data', 'tmp'));

async function waitFor(what, probe, ms) {
  const end = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(100);
  }
}

const results = [];
let shaped;
const registry = await startRegistry({ dir: join(tmp, 'registry'), auth: { kind: 'none' } });
try {
  const t0 = performance.now();
  const image = buildImage({ platform: { os: 'linux', architecture: 'amd64' }, files: [{ path: 'payload', content: randomBytes(SIZE) }], format: 'oci', label: 'prefetch bench' });
  const pusher = new Pusher({ http, host: registry.host, repository: 'prefetch/big' });
  await pusher.image(image);
  await pusher.manifest(image.manifest, 'v1');
  const layer = image.layers[0];
  const layerSize = layer.bytes.byteLength;
  const half = Math.floor(layerSize / 2);
  process.stderr.write(`published a ${mb(layerSize)} MB layer ${layer.digest.slice(0, 19)} in ${Math.round(performance.now() - t0)} ms\n`);

  for (const linkName of links) {
    const link = linkName === 'tbf' ? (shaped = createShapedLink()) : undefined;
    if (link !== undefined) process.stderr.write(`shaped link: ${link.qdisc}\n`);
    for (const engineName of engineNames) {
      for (const scenario of scenarios) {
        const proxy = await startCountingProxy(registry.host, { listenHost: link?.hostIp ?? '127.0.0.1' });
        // Short: containerd's debug socket under exec/ must stay within 104 bytes.
        const dir = join(tmp, `r${results.length}`);
        // One more try when a dockerd does not come up (seen once on the loaded machine, its log gone with the folder).
        const engine = await startEngine(engineName, dir, link, proxy.host).catch(async (e) => {
          process.stderr.write(`${engineName} did not start (${e instanceof Error ? e.message : String(e)}); trying once more\n`);
          await unmountUnder(dir);
          removeTree(dir);
          return startEngine(engineName, `${dir}-2`, link, proxy.host);
        });
        const row = { link: linkName, engine: engineName, scenario, layerSize };
        try {
          const version = JSON.parse(execFileSync('curl', ['-s', '--unix-socket', engine.socket, 'http://x/version'], { encoding: 'utf8' })).Version;
          row.version = version;
          const repository = `${proxy.host}/prefetch/big`;
          const isLayer = (b) => b.digest === layer.digest;
          if (scenario === 'cut') proxy.cutNext(half, layerSize / 2);
          let aborter;
          if (scenario === 'cancel') proxy.onProgress((d, total) => { if (d === layer.digest && total >= half) aborter?.(); });
          if (scenario === 'fail') {
            proxy.cutNext(half, layerSize / 2);
            proxy.onProgress((d, total) => { if (d === layer.digest && total >= half) proxy.setDown(true); });
          }
          if (scenario === 'handoff') {
            row.handoff = await handoff(engine, dir, image);
            results.push(row);
            process.stderr.write(`${JSON.stringify(row)}\n`);
            continue;
          }
          const resolverSide = scenario.startsWith('prefetch');
          const config = join(dir, 'resolver.yaml');
          if (resolverSide) {
            writeFileSync(config, `engine:\n  host: unix://${engine.socket}\nschedule: "0 0 1 1 *"\nsplay: 0s\nstateDir: ${join(dir, 'state')}\nregistries:\n  insecure: ["${proxy.host}"]\nprefetch:\n  attempts: 1\n${scenario === 'prefetch-cap' ? `  rate: ${rate}\n` : ''}images:\n  - image: ${repository}:v1\n`);
          }
          if (scenario === 'prefetch-fail') {
            proxy.cutNext(half, layerSize / 2);
            proxy.onProgress((d, total) => { if (d === layer.digest && total >= half) proxy.setDown(true); });
          }
          const attempt = () => (resolverSide ? check(link, config) : pull(engine.socket, repository, image.manifest.digest));
          const first = attempt();
          aborter = first.abort;
          const r1 = await Promise.race([first.done, delay(600_000).then(() => ({ ok: false, error: 'no end within 600 s', ms: 600_000 }))]);
          proxy.onProgress(undefined);
          // The engine may keep fetching for a moment after its client went: wait until every response closed.
          await waitFor('the layer responses to close', () => proxy.blobs.filter(isLayer).every((b) => b.done), 60_000);
          await delay(1000);
          row.first = { ok: r1.ok, error: r1.error, ms: Math.round(r1.ms), requests: proxy.blobs.filter(isLayer).map((b) => ({ range: b.range ?? null, bytes: b.bytes, end: b.end })), bytes: proxy.bytes(layer.digest) };
          row.partialKept = partialBytes(dir) + bytesUnder(join(dir, 'state', 'prefetch', 'ingest'));
          if (scenario !== 'cut' && scenario !== 'prefetch-cap') {
            proxy.setDown(false);
            const before = proxy.blobs.filter(isLayer).length;
            const bytesBefore = proxy.bytes(layer.digest);
            const r2 = await attempt().done;
            row.second = { ok: r2.ok, error: r2.error, ms: Math.round(r2.ms), requests: proxy.blobs.filter(isLayer).slice(before).map((b) => ({ range: b.range ?? null, bytes: b.bytes, end: b.end })), bytes: proxy.bytes(layer.digest) - bytesBefore };
          }
          row.total = proxy.bytes(layer.digest);
          if (scenario === 'prefetch-cap') {
            const g = proxy.blobs.find(isLayer);
            row.capRate = rate;
            row.fetchMBps = g === undefined ? undefined : g.bytes / 1e6 / (g.ms / 1000);
          }
          row.engineLayerRequests = proxy.blobs.filter((b) => isLayer(b) && !b.userAgent.startsWith('resolver/')).length;
          row.ratio = row.total / layerSize;
        } catch (e) {
          row.error = e instanceof Error ? e.message : String(e);
        } finally {
          await engine.stop();
          await proxy.stop();
          await unmountUnder(dir);
          removeTree(dir);
        }
        if (row.handoff === undefined) {
          results.push(row);
          process.stderr.write(`${JSON.stringify(row)}\n`);
        }
      }
    }
    if (link !== undefined) {
      link.close();
      shaped = undefined;
    }
  }
} finally {
  shaped?.close();
  await registry.stop();
  await http.close();
  await unmountUnder(tmp);
  removeTree(tmp);
}

const describeRequests = (rs) => rs.map((r) => `${r.range === null ? 'GET' : `GET ${r.range}`} (${mb(r.bytes)} MB${r.end === 'complete' ? '' : `, ${r.end}`})`).join(', ');
const lines = [
  `${new Date().toISOString().slice(0, 10)}; layer ${mb(results[0]?.layerSize ?? SIZE)} MB; counted at the proxy (bytes forwarded to the engine for the layer)`,
  '',
  '| link | engine / store | scenario | first pull | layer requests, first pull | kept after it | second pull: layer requests | bytes in total (x layer) | engine\'s layer GETs |',
  '|---|---|---|---|---|---:|---|---:|---:|',
];
for (const r of results) {
  if (r.handoff !== undefined) {
    lines.push(`| ${r.link} | ${r.engine === '26.1.5-c8d' ? `${r.version} containerd store` : `${r.version} classic`} | handoff | pull from the loopback registry ${(r.handoff.pullMs / 1000).toFixed(1)} s (RepoDigests ${r.handoff.pullRepoDigests.length}) | docker load ${(r.handoff.loadMs / 1000).toFixed(1)} s (RepoDigests ${r.handoff.loadRepoDigests.length}) | | | | |`);
    continue;
  }
  if (r.error !== undefined) {
    lines.push(`| ${r.link} | ${r.engine} | ${r.scenario} | error: ${r.error} | | | | |`);
    continue;
  }
  const first = `${r.first.ok ? 'ok' : r.first.error?.split('\n')[0]?.slice(0, 60)}, ${(r.first.ms / 1000).toFixed(1)} s`;
  const second = r.scenario === 'prefetch-cap' ? `(cap ${r.capRate}/s: the layer came at ${r.fetchMBps?.toFixed(2)} MB/s)` : r.second === undefined ? '-' : `${describeRequests(r.second.requests)}; ${r.second.ok ? 'ok' : r.second.error}, ${(r.second.ms / 1000).toFixed(1)} s`;
  lines.push(`| ${r.link} | ${r.engine === '26.1.5-c8d' ? `${r.version} containerd store` : `${r.version} classic`} | ${r.scenario} | ${first} | ${describeRequests(r.first.requests)} | ${mb(r.partialKept)} MB | ${second} | ${r.total.toLocaleString('en')} (${r.ratio.toFixed(2)}) | ${r.engineLayerRequests} |`);
}
process.stdout.write(`${lines.join('\n')}\n`);
mkdirSync(join(root, '.tmp'), { recursive: true });
writeFileSync(join(root, '.tmp', 'bench-prefetch.json'), JSON.stringify(results, null, 2));
