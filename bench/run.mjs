#!/usr/bin/env node
// Benchmarks, side by side in one run against the same local registry:
//   resolver which  vs  skopeo inspect --raw  vs  docker manifest inspect   (process wall time)
// plus HTTP request counts per `which` (cold and with a warm token) and the packages each command loads.
// Node starts are timed with NODE_EXTRA_CA_CERTS unset, as on a user's host (it adds ~35 ms here).
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

const root = resolve(new URL('..', import.meta.url).pathname);
const dist = (p) => join(root, 'dist', p);
const sandbox = (p) => join(root, '.tmp', 'sandbox', p); // scripts/build-sandbox.mjs
const { startRegistry, freePort } = await import(sandbox('registry-server.js'));
const { Pusher } = await import(sandbox('push.js'));
const { publishIndex, superGolangChildren } = await import(sandbox('samples.js'));
const { createHttpClient } = await import(dist('http/http.js'));
const { startTokenServer, tokenIssuer, tokenService, tokenUser } = await import(sandbox('token-server.js'));
const { TokenCache } = await import(dist('registry/auth.js'));
const { RegistryClient } = await import(dist('registry/client.js'));
const { resolveImage } = await import(dist('resolver/resolve.js'));
const { parseReference } = await import(dist('reference/reference.js'));
const { detectTarget, hostFacts } = await import(dist('platform/detect.js'));

const runs = Number(process.env.BENCH_RUNS ?? 15);
const tmp = mkdtempSync(join(tmpdir(), 'resolver-bench-'));
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
env.DOCKER_CONFIG = join(tmp, 'docker-config');
env.DOCKER_HOST = 'unix:///nonexistent/docker.sock';

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

function time(cmd, args, extraEnv = {}) {
  const e = { ...env, ...extraEnv };
  for (let i = 0; i < 2; i++) spawnSync(cmd, args, { env: e, stdio: 'ignore' });
  const xs = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = spawnSync(cmd, args, { env: e, stdio: ['ignore', 'pipe', 'pipe'] });
    xs.push(performance.now() - t);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  }
  return xs;
}

const version = (cmd, args) => { try { return execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0].trim(); } catch { return 'not installed'; } };

const http = createHttpClient();
const registry = await startRegistry({ dir: join(tmp, 'reg'), auth: { kind: 'none' } });
const tokenServer = await startTokenServer(tmp, await freePort());
const tokenRegistry = await startRegistry({ dir: join(tmp, 'reg-token'), auth: { kind: 'token', realm: tokenServer.realm, service: tokenService, issuer: tokenIssuer, rootCertBundle: tokenServer.certPath } });
try {
  const children = await superGolangChildren();
  await publishIndex(new Pusher({ http, host: registry.host, repository: 'super-golang' }), { tag: 'latest', children, format: 'oci', attestations: true });
  await publishIndex(new Pusher({ http, host: tokenRegistry.host, repository: 'super-golang', ...tokenUser }), { tag: 'latest', children, format: 'oci', attestations: true });
  const ref = `${registry.host}/super-golang:latest`;
  const cli = join(root, 'bin/resolver.cjs');

  const rows = [
    ['node -e 0 (Node start alone)', time(process.execPath, ['-e', '0'])],
    ['resolver which --platform linux/arm64', time(process.execPath, [cli, 'which', ref, '--platform', 'linux/arm64'])],
    ['resolver which (host detection)', time(process.execPath, [cli, 'which', ref])],
    ['skopeo inspect --raw', time('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`])],
    ['docker manifest inspect', time('docker', ['manifest', 'inspect', '--insecure', ref])],
  ];
  const skopeo = median(rows[3][1]);
  const docker = median(rows[4][1]);
  const lines = [];
  lines.push(`runs per command: ${runs} (after 2 warm-ups); wall time of the whole process; NODE_EXTRA_CA_CERTS unset`);
  lines.push(`node ${process.version}; ${version('skopeo', ['--version'])}; ${version('docker', ['--version'])}`);
  lines.push('');
  lines.push('| command | median ms | p90 ms | ÷ skopeo | ÷ docker |');
  lines.push('|---|---:|---:|---:|---:|');
  for (const [name, xs] of rows) lines.push(`| ${name} | ${median(xs).toFixed(1)} | ${pct(xs, 0.9).toFixed(1)} | ${(median(xs) / skopeo).toFixed(2)} | ${(median(xs) / docker).toFixed(2)} |`);

  // Packages loaded by each command (no dockerode, no systeminformation for --platform).
  const loaded = (args) => {
    const r = spawnSync(process.execPath, ['--import', join(root, 'bench/loaded-modules.mjs'), cli, ...args], { env: { ...env, RESOLVER_REPORT_MODULES: '1' }, encoding: 'utf8' });
    return /loaded-packages: (.*)/.exec(r.stderr)?.[1] ?? '?';
  };
  lines.push('');
  lines.push(`packages loaded by \`which --platform\`: ${loaded(['which', ref, '--platform', 'linux/arm64'])}`);
  lines.push(`packages loaded by \`which\` (host detection): ${loaded(['which', ref])}`);

  // Request counts, in process: a cold resolve, then one with a warm token (as the daemon will run).
  const countFor = async (host, credentials) => {
    const tokens = new TokenCache(http, () => performance.now());
    const client = new RegistryClient({ http, tokens, credentials, clock: () => performance.now() });
    const target = await detectTarget({ engine: undefined, facts: hostFacts('/'), processArch: 'arm64', processPlatform: 'linux', override: { spec: 'linux/arm64', source: '--platform' } });
    const snap = () => ({ HEAD: client.requests.HEAD, GET: client.requests.GET, token: tokens.requests, probes: client.schemeProbes });
    await resolveImage(client, parseReference(`${host}/super-golang:latest`), target);
    const cold = snap();
    await resolveImage(client, parseReference(`${host}/super-golang:latest`), target);
    const warm = snap();
    return { cold, warm: { HEAD: warm.HEAD - cold.HEAD, GET: warm.GET - cold.GET, token: warm.token - cold.token, probes: warm.probes - cold.probes } };
  };
  const anon = await countFor(registry.host, { get: async () => undefined });
  const { Secret } = await import(dist('secret/secret.js'));
  const tok = await countFor(tokenRegistry.host, { get: async () => ({ username: tokenUser.username, password: new Secret(tokenUser.password), identityToken: undefined, registryToken: undefined, source: 'bench' }) });
  lines.push('');
  lines.push('| registry | first `which` in a process | next `which` (warm token) |');
  lines.push('|---|---|---|');
  const fmt = (c) => `${c.HEAD} HEAD + ${c.GET} GET + ${c.token} token` + (c.probes ? ` (+${c.probes} HTTPS probe of a loopback host)` : '');
  lines.push(`| anonymous | ${fmt(anon.cold)} | ${fmt(anon.warm)} |`);
  lines.push(`| token auth | ${fmt(tok.cold)} | ${fmt(tok.warm)} |`);
  const out = lines.join('\n');
  process.stdout.write(`${out}\n`);
  if (process.env.BENCH_WRITE) writeFileSync(process.env.BENCH_WRITE, `${out}\n`);
} finally {
  await http.close();
  await registry.stop();
  await tokenRegistry.stop();
  await tokenServer.stop();
  rmSync(tmp, { recursive: true, force: true });
}
