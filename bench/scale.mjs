#!/usr/bin/env node
// Scale: N tracked tags (default 1,000) in one local registry, all on one multi-arch index, and a private
// dockerd. Measures one unchanged cycle (wall, CPU, registry requests per tag) and the daemon's RSS after
// 10 and after CYCLES cycles. Runs the daemon in process through its real check path.
import { readFileSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';

import { dist, fleetIndex, root, startBenchServices } from './setup.mjs';
import { unitEnv } from './unit-env.mjs';


const tags = Number(process.env.SCALE_TAGS ?? 1000);
const cycles = Number(process.env.SCALE_CYCLES ?? 200);
const services = await startBenchServices('scale');
const { tmp, registry, engine } = services;
try {
  await (await fleetIndex(services))(0, tags);
  const yaml = `logLevel: error\nengine:\n  host: ${engine.dockerHost}\nschedule: "0 0 1 1 *"\nsplay: 0s\nconcurrency: 4\nstateDir: ${join(tmp, 'state')}\nimages:\n${Array.from({ length: tags }, (_, i) => `  - image: ${registry.host}/fleet/app:t${i}`).join('\n')}\n`;
  const file = join(tmp, 'scale.yaml');
  writeFileSync(file, yaml);
  const child = spawnSync(process.execPath, ['--expose-gc', join(root, 'bench/scale-daemon.mjs'), file, String(cycles)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (child.status !== 0) throw new Error(child.stderr);
  if (process.env.SCALE_DEBUG) process.stderr.write(child.stderr);
  const m = JSON.parse(child.stdout.trim().split('\n').at(-1));
  const { firstMs, failing, wallMs: wall, requests, rss, results } = m;
  const cpuMs = m.cpuMs;
  // The real daemon process (the bundle, as systemd runs it), 2-second schedule: RSS after 10 and after
  // RSS_CYCLES cycles, read from /proc.
  const rssCycles = Number(process.env.RSS_CYCLES ?? 60);
  const liveFile = join(tmp, 'live.yaml');
  writeFileSync(liveFile, yaml.replace('"0 0 1 1 *"', '"*/2 * * * * *"'));
  // The same Node flags and environment as systemd/resolver.service.
  const live = spawn(process.execPath, ['--max-semi-space-size=2', join(root, 'bin/resolver.cjs'), 'daemon', '--config', liveFile], { stdio: 'ignore', env: { ...process.env, NODE_EXTRA_CA_CERTS: '', ...unitEnv } });
  const vmrss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${live.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  const liveRss = [];
  await sleep(20_000);
  liveRss.push([10, vmrss()]);
  await sleep((rssCycles - 10) * 2000);
  liveRss.push([rssCycles, vmrss()]);
  live.kill('SIGTERM');
  await new Promise((r) => live.on('close', r));
  const lines = [
    `${tags} tags, one index; private dockerd 20.10; concurrency 4; first cycle (pulls 1 child, tags ${tags}) ${(firstMs / 1000).toFixed(1)} s, ${failing} failing`,
    '',
    '| unchanged cycle | value | per tag |',
    '|---|---:|---:|',
    `| wall time | ${wall.toFixed(0)} ms | ${(wall / tags).toFixed(2)} ms |`,
    `| CPU time (user+system) | ${cpuMs.toFixed(0)} ms | ${(cpuMs / tags).toFixed(2)} ms |`,
    `| registry requests | ${requests} | ${(requests / tags).toFixed(2)} |`,
    '',
    `in-process daemon (unbundled modules) RSS: ${rss.map(([c, mb, heap]) => `after ${c} cycles ${mb.toFixed(1)} MB (heap ${heap.toFixed(1)} MB)`).join('; ')}; last results: ${JSON.stringify(results)}`,
    `\`resolver daemon\` process (the shipped bundle), 2 s schedule: RSS ${liveRss.map(([c, mb]) => `after ~${c} cycles ${mb.toFixed(1)} MB`).join('; ')}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (process.env.BENCH_WRITE) writeFileSync(process.env.BENCH_WRITE, `${lines.join('\n')}\n`);
} finally {
  await services.stop();
}
