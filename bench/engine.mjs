#!/usr/bin/env node
// Engine benchmarks, side by side in one run against the same private registry and private dockerd:
//   resolver pull  vs  docker pull        (image removed between runs)
//   resolver run --rm  vs  docker run --rm (image present)
// Needs root and Debian's docker.io (dockerd 20.10). Node starts timed with NODE_EXTRA_CA_CERTS unset.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { dist, root, sandbox, startBenchServices } from './setup.mjs';

const { Pusher } = await import(sandbox('push.js'));
const { publishIndex, superGolangChildren, busyboxRoot } = await import(sandbox('samples.js'));

const runs = Number(process.env.BENCH_RUNS ?? 11);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const services = await startBenchServices('bench-engine');
const { tmp, http, registry, engine } = services;
const env = { ...process.env, DOCKER_HOST: engine.dockerHost, RESOLVER_STATE_DIR: join(tmp, 'state'), DOCKER_CONFIG: join(tmp, 'cfg') };
delete env.NODE_EXTRA_CA_CERTS;
const cli = join(root, 'bin/resolver.cjs');
const sh = (cmd, args) => spawnSync(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
const timeOne = (cmd, args, before) => {
  before?.();
  const t = performance.now();
  const r = sh(cmd, args);
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return ms;
};

try {
  // A 20 MB incompressible layer on top of busybox, so the pull is dominated by the transfer and extraction.
  const files = [...(await busyboxRoot()), { path: 'payload', content: randomBytes(20_000_000) }];
  const children = (await superGolangChildren()).map((c, i) => (i === 0 ? { ...c, files } : c));
  await publishIndex(new Pusher({ http, host: registry.host, repository: 'bench' }), { tag: 'latest', children, format: 'docker' });
  const ref = `${registry.host}/bench:latest`;
  const rmi = () => {
    const ids = sh('docker', ['images', '-q', '--no-trunc']).stdout.toString().split('\n').filter(Boolean);
    if (ids.length) sh('docker', ['rmi', '-f', ...new Set(ids)]);
  };
  const rows = [];
  const pairs = [
    ['resolver pull', () => timeOne(process.execPath, [cli, 'pull', '-q', ref], rmi), 'docker pull', () => timeOne('docker', ['pull', '-q', ref], rmi)],
    ['resolver run --rm', () => timeOne(process.execPath, [cli, 'run', '--rm', '-q', '--network', 'none', ref, 'true']), 'docker run --rm', () => timeOne('docker', ['run', '--rm', '--network', 'none', ref, 'true'])],
  ];
  sh('docker', ['pull', '-q', ref]);
  for (const [aName, a, bName, b] of pairs) {
    const xa = [], xb = [];
    a(); b();
    for (let i = 0; i < runs; i++) {
      // Alternate so that drift in the machine affects both sides alike.
      if (i % 2 === 0) { xa.push(a()); xb.push(b()); } else { xb.push(b()); xa.push(a()); }
      if (aName.includes('run')) continue;
    }
    rows.push([aName, median(xa), bName, median(xb)]);
  }
  const version = execFileSync('docker', ['version', '--format', '{{.Client.Version}} / engine {{.Server.Version}}'], { env, encoding: 'utf8' }).trim();
  const lines = [
    `runs per command: ${runs} (alternating, after a warm-up); docker CLI ${version}; 20 MB layer; NODE_EXTRA_CA_CERTS unset`,
    '',
    '| resolver | median ms | docker | median ms | ratio |',
    '|---|---:|---|---:|---:|',
    ...rows.map(([a, ma, b, mb]) => `| ${a} | ${ma.toFixed(0)} | ${b} | ${mb.toFixed(0)} | ${(ma / mb).toFixed(2)} |`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (process.env.BENCH_WRITE) writeFileSync(process.env.BENCH_WRITE, `${lines.join('\n')}\n`);
} finally {
  await services.stop();
}
