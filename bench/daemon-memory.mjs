#!/usr/bin/env node
// Where the idle daemon's resident memory goes (issue 10 §4), next to a bare Node HTTP server, both with the
// unit's --max-semi-space-size=2 and malloc environment (bench/unit-env.mjs): the daemon with 10 tags against a private registry and
// a private dockerd (after `npm run build && node scripts/build-sandbox.mjs`), each with
// bench/daemon-memory-preload.cjs, which reports 20 s after start; and the floor (bench/daemon-floor.cjs) from
// node_modules and bundled by esbuild as the daemon is. RESOLVER_CODE_CACHE=0 in the environment
// is passed on (to compare without the code cache). Usage: node bench/daemon-memory.mjs [TAGS] (default 10);
// BENCH_NODE_FLAGS adds node flags to both (e.g. --optimize-for-size); BENCH_HEAP_SNAPSHOT=PREFIX also writes a heap snapshot of each (PREFIX.N.heapsnapshot, N its row) for bench/heap-summary.mjs.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { buildSync } from 'esbuild';

import { fleetIndex, root, startBenchServices } from './setup.mjs';
import { unitEnv } from './unit-env.mjs';

const services = await startBenchServices('memory');
const { tmp, registry, engine } = services;
try {
  const tags = Number(process.argv[2] ?? '10');
  await (await fleetIndex(services))(0, tags);
  const images = Array.from({ length: tags }, (_, i) => `  - image: ${registry.host}/fleet/app:t${i}`).join('\n');
  const config = join(tmp, 'daemon.yaml');
  writeFileSync(config, `logLevel: error\nengine:\n  host: ${engine.dockerHost}\nschedule: "*/10 * * * * *"\nsplay: 0s\nstateDir: ${join(tmp, 'state')}\nimages:\n${images}\n`);
  mkdirSync(join(tmp, 'cache'));
  const env = { PATH: process.env.PATH, HOME: tmp, XDG_CACHE_HOME: join(tmp, 'cache'), DOCKER_CONFIG: join(tmp, 'docker'), ...unitEnv, ...(process.env.RESOLVER_CODE_CACHE ? { RESOLVER_CODE_CACHE: process.env.RESOLVER_CODE_CACHE } : {}) };
  // The floor twice: from node_modules (an upper bound), and bundled and minified as the daemon's own code is.
  const floorBundle = join(tmp, 'daemon-floor.bundle.cjs');
  buildSync({ entryPoints: [join(root, 'bench/daemon-floor.cjs')], bundle: true, minify: true, platform: 'node', format: 'cjs', outfile: floorBundle, logLevel: 'error' });
  const procs = [
    ['bare Node HTTP server', ['-e', "require('node:http').createServer((q, s) => s.end('ok')).listen(0, '127.0.0.1')"]],
    ['floor: the same server with undici, zod, yaml and pino used once (bench/daemon-floor.cjs)', [join(root, 'bench/daemon-floor.cjs')]],
    ['floor, bundled and minified with esbuild as the daemon is', [floorBundle]],
    [`resolver daemon, ${tags} tags`, [join(root, 'bin/resolver.cjs'), 'daemon', '--config', config]],
  ];
  const running = procs.map(([, argv], i) => spawn(process.execPath, ['--max-semi-space-size=2', ...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter((f) => f !== ''), '-r', join(root, 'bench/daemon-memory-preload.cjs'), ...argv], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...env, RESOLVER_MEMORY_OUT: join(tmp, `memory-${i}.txt`), ...(process.env.BENCH_HEAP_SNAPSHOT ? { RESOLVER_HEAP_SNAPSHOT: `${process.env.BENCH_HEAP_SNAPSHOT}.${i}.heapsnapshot` } : {}) } }));
  await sleep(process.env.BENCH_HEAP_SNAPSHOT ? 30_000 : 22_000);
  await Promise.all(running.map((p) => new Promise((r) => {
    p.on('close', r);
    p.kill('SIGTERM');
  })));
  process.stdout.write(`runtime: ${process.execPath} (${process.version}); NODE_EXTRA_CA_CERTS unset; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`);
  procs.forEach(([name], i) => process.stdout.write(`\n${name}:\n${readFileSync(join(tmp, `memory-${i}.txt`), 'utf8')}`));
} finally {
  await services.stop();
}
