// Preload (`node -r`) for bench/daemon-memory.mjs: 20 s after start, writes to $RESOLVER_MEMORY_OUT where the
// process's resident memory is: process.memoryUsage(), V8's heap spaces, and the RSS of /proc/self/smaps
// grouped by mapping (the node binary's pages, anonymous memory, the malloc heap, JIT code).
'use strict';
const fs = require('node:fs');
const v8 = require('node:v8');

const mb = (n) => (n / 1048576).toFixed(1);
setTimeout(() => {
  const mu = process.memoryUsage();
  const lines = [`rss ${mb(mu.rss)} heapTotal ${mb(mu.heapTotal)} heapUsed ${mb(mu.heapUsed)} external ${mb(mu.external)}`];
  for (const s of v8.getHeapSpaceStatistics()) if (s.space_size > 0) lines.push(`v8 ${s.space_name}: ${mb(s.space_size)} (used ${mb(s.space_used_size)})`);
  const by = new Map();
  let mapping = '';
  for (const l of fs.readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const m = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(l);
    if (m !== null) {
      mapping = `${m[2] || '[anon]'} ${m[1]}`;
      continue;
    }
    const r = /^Rss:\s+(\d+)/.exec(l);
    if (r !== null) by.set(mapping, (by.get(mapping) ?? 0) + Number(r[1]) * 1024);
  }
  for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 8)) lines.push(`map ${k}: ${mb(v)}`);
  lines.push(`modules in require.cache ${Object.keys(require.cache).length}`);
  const cpu = process.cpuUsage();
  lines.push(`cpu ms (user + system, 20 s) ${((cpu.user + cpu.system) / 1000).toFixed(0)}`);
  fs.writeFileSync(process.env.RESOLVER_MEMORY_OUT, `${lines.join('\n')}\n`);
  // With BENCH_HEAP_SNAPSHOT (daemon-memory.mjs passes it on): a heap snapshot too, for bench/heap-summary.mjs.
  if (process.env.RESOLVER_HEAP_SNAPSHOT) v8.writeHeapSnapshot(process.env.RESOLVER_HEAP_SNAPSHOT);
}, 20_000).unref();
