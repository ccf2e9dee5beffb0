#!/usr/bin/env node
// A/B of live daemons at scale, all at once (after `npm run build && node scripts/build-sandbox.mjs`): each
// variant is a `resolver daemon` of AB_TAGS (default 1,000) unchanged tags on one private registry and dockerd,
// a 3 s schedule, concurrency 4, its own state folder; sampled every 3 s after AB_SKIP_S (default 60) for
// AB_S seconds (default 240): RSS, the glibc main heap ([heap]) and anonymous mappings from smaps, and CPU.
// AB is a JSON list of variants: {"name": "...", "cli": "DIR/bin/resolver.cjs" (default this checkout's),
// "env": {...} (default the unit's malloc environment, bench/unit-env.mjs), "flags": ["--node-flag", ...]}.
// Every variant runs with the unit's --max-semi-space-size=2. Example (bench/README.md, fourth session):
//   AB='[{"name":"arena only","env":{"MALLOC_ARENA_MAX":"2"}},{"name":"unit"}]' node bench/ab-daemon.mjs
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { fleetIndex, root, startBenchServices } from './setup.mjs';
import { unitEnv } from './unit-env.mjs';

const variants = JSON.parse(process.env.AB ?? '[{"name":"unit"}]');
const tags = Number(process.env.AB_TAGS ?? 1000);
const duration = Number(process.env.AB_S ?? 240) * 1000;
const skip = Number(process.env.AB_SKIP_S ?? 60) * 1000;
const median = (a) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
const mb = (kb) => kb / 1024;

/** RSS, [heap] and anonymous RSS in MB, and user + system CPU seconds of one process. */
function sample(pid) {
  let heap = 0;
  let anon = 0;
  let mapping = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    if (/^[0-9a-f]+-/.test(line)) mapping = line.split(/\s+/)[5] ?? '';
    else if (line.startsWith('Rss:')) {
      const kb = Number(line.split(/\s+/)[1]);
      if (mapping === '[heap]') heap += kb;
      else if (mapping === '') anon += kb;
    }
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
  return { rss: mb(rss), heap: mb(heap), anon: mb(anon), cpu: (Number(stat[11]) + Number(stat[12])) / 100 };
}

const services = await startBenchServices('ab');
const { tmp, registry, engine } = services;
try {
  await (await fleetIndex(services))(0, tags);
  const images = Array.from({ length: tags }, (_, i) => `  - image: ${registry.host}/fleet/app:t${i}`).join('\n');
  const daemons = variants.map((v, n) => {
    const file = join(tmp, `d${n}.yaml`);
    writeFileSync(file, `logLevel: error\nengine:\n  host: ${engine.dockerHost}\nschedule: "*/3 * * * * *"\nsplay: 0s\nconcurrency: 4\nstateDir: ${join(tmp, `state${n}`)}\nimages:\n${images}\n`);
    const env = { PATH: process.env.PATH, HOME: tmp, XDG_CACHE_HOME: join(tmp, `cache${n}`), DOCKER_CONFIG: join(tmp, 'docker'), ...(v.env ?? unitEnv) };
    const child = spawn(process.execPath, ['--max-semi-space-size=2', ...(v.flags ?? []), v.cli ?? join(root, 'bin/resolver.cjs'), 'daemon', '--config', file], { stdio: 'ignore', env });
    return { v, child, samples: [] };
  });
  const t0 = Date.now();
  while (Date.now() - t0 < duration) {
    await sleep(3000);
    if (Date.now() - t0 < skip) continue;
    for (const d of daemons) d.samples.push(sample(d.child.pid));
  }
  console.log(`${tags} tags, ${daemons[0].samples.length} samples of 3 s after ${skip / 1000} s; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`);
  console.log('| variant | RSS median MB | min–max | end | [heap] / anonymous median MB | CPU s in the window |\n|---|---:|---:|---:|---:|---:|');
  for (const { v, samples: s } of daemons) {
    const rss = s.map((x) => x.rss);
    const f = (x) => x.toFixed(1);
    console.log(`| ${v.name} | ${f(median(rss))} | ${f(Math.min(...rss))}–${f(Math.max(...rss))} | ${f(rss.at(-1))} | ${f(median(s.map((x) => x.heap)))} / ${f(median(s.map((x) => x.anon)))} | ${f(s.at(-1).cpu - s[0].cpu)} |`);
  }
  for (const d of daemons) d.child.kill('SIGTERM');
  await sleep(3000);
} finally {
  await services.stop();
}
