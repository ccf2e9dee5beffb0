// prom-client vs the hand-written exposition (src/daemon/metrics.ts), issue 11 §5: the cost of loading
// each and of one scrape with the same families for ENTRIES entries, in fresh Node processes (median of
// RUNS). Needs `npm run build` and prom-client where Node finds it, without saving it:
//   npm install --no-save prom-client@15.1.3 && node bench/metrics.mjs
// (or PROM_CLIENT=/path/to/node_modules/prom-client). Prints a Markdown table for bench/README.md.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const runs = Number(process.env.RUNS ?? 9);
const entries = Number(process.env.ENTRIES ?? 100);
const require = createRequire(import.meta.url);
const promPath = process.env.PROM_CLIENT ?? require.resolve('prom-client');
const metricsUrl = new URL('../dist/daemon/metrics.js', import.meta.url).href;

const child = {
  baseline: `const r0 = process.memoryUsage().rss; console.log(JSON.stringify({ loadMs: 0, scrapeMs: 0, warmMs: 0, rss: r0, rss0: r0 }));`,
  hand: `
    const rss0 = process.memoryUsage().rss; const t0 = performance.now();
    const { Metrics } = await import(${JSON.stringify(metricsUrl)});
    const { monitorEventLoopDelay } = await import('node:perf_hooks');
    const h = monitorEventLoopDelay({ resolution: 10 }); h.enable();
    const m = new Metrics({ build: { version: '1', node: process.versions.node, runtime: 'linux/x64' }, sample: () => { const u = process.memoryUsage(); const c = process.cpuUsage(); return { residentMemoryBytes: u.rss, cpuSeconds: (c.user + c.system) / 1e6, startTimeSeconds: 1, heapUsedBytes: u.heapUsed, heapTotalBytes: u.heapTotal, eventLoopLagMaxSeconds: h.max / 1e9, eventLoopLagP99Seconds: h.percentile(99) / 1e9 }; } });
    const loadMs = performance.now() - t0;
    const at = new Date().toISOString();
    for (let i = 0; i < ${entries}; i++) {
      const entry = { key: 'k' + i, image: 'registry.example.com/app' + i + ':1', platform: 'linux/amd64' };
      m.apply({ type: 'checked', entry, result: 'unchanged', indexDigest: 'sha256:i', childDigest: 'sha256:c', pulledAt: undefined, at });
      m.apply({ type: 'pulled', entry, indexDigest: 'sha256:i', childDigest: 'sha256:c', previous: undefined, pruned: [], at });
      m.apply({ type: 'failed', entry, code: 'E', message: 'm', failures: 1, retryInMs: 1, retryAfterMs: undefined, backoffUntil: at, recorded: undefined, at });
    }
    const t1 = performance.now(); const text = m.render(); const scrapeMs = performance.now() - t1; const t2 = performance.now(); m.render(); const warmMs = performance.now() - t2;
    console.log(JSON.stringify({ loadMs, scrapeMs, warmMs, rss: process.memoryUsage().rss, rss0, bytes: text.length }));`,
  prom: `
    const rss0 = process.memoryUsage().rss; const t0 = performance.now();
    const { createRequire } = await import('node:module');
    const p = createRequire(import.meta.url)(${JSON.stringify(promPath)});
    const reg = new p.Registry(); p.collectDefaultMetrics({ register: reg });
    const c = (name, labelNames) => new p.Counter({ name, help: name, labelNames, registers: [reg] });
    const g = (name, labelNames) => new p.Gauge({ name, help: name, labelNames, registers: [reg] });
    const build = g('resolver_build_info', ['version', 'node', 'runtime']); build.set({ version: '1', node: process.versions.node, runtime: 'linux/x64' }, 1);
    const checks = c('resolver_checks_total', ['image', 'platform', 'result']); const pulls = c('resolver_pulls_total', ['image', 'platform']);
    const failures = c('resolver_failures_total', ['image', 'platform']); const last = g('resolver_last_success_timestamp_seconds', ['image', 'platform']);
    const held = g('resolver_held', ['image', 'platform']); g('resolver_registry_ratelimit_remaining', ['registry']);
    c('resolver_activations_total', ['result']); c('resolver_notifications_total', ['sink', 'result']);
    const loadMs = performance.now() - t0;
    for (let i = 0; i < ${entries}; i++) {
      const l = { image: 'registry.example.com/app' + i + ':1', platform: 'linux/amd64' };
      checks.inc({ ...l, result: 'unchanged' }); checks.inc({ ...l, result: 'pulled' }); checks.inc({ ...l, result: 'failed' });
      pulls.inc(l); failures.inc(l); last.set(l, Date.now() / 1000); held.set(l, 0);
    }
    const t1 = performance.now(); const text = await reg.metrics(); const scrapeMs = performance.now() - t1; const t2 = performance.now(); await reg.metrics(); const warmMs = performance.now() - t2;
    console.log(JSON.stringify({ loadMs, scrapeMs, warmMs, rss: process.memoryUsage().rss, rss0, bytes: text.length }));`,
};

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
for (const [name, code] of Object.entries(child)) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], { env: { PATH: process.env.PATH } }).toString();
    samples.push({ ...JSON.parse(out), wallMs: performance.now() - t });
  }
  rows.push([name, median(samples.map((s) => s.wallMs)), median(samples.map((s) => s.loadMs)), median(samples.map((s) => s.scrapeMs)), median(samples.map((s) => s.warmMs)), median(samples.map((s) => s.rss / 2 ** 20)), median(samples.map((s) => (s.rss - s.rss0) / 2 ** 20))]);
}
const version = JSON.parse(readFileSync(join(promPath.endsWith('.js') ? dirname(promPath) : promPath, 'package.json'), 'utf8')).version;
console.log(`node ${process.version}; prom-client ${version}; ${entries} entries (3 results each); median of ${runs} fresh processes`);
console.log('| variant | process wall ms | load + registry ms | first scrape ms | next scrape ms | RSS at end MiB | RSS added MiB |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
const label = { baseline: 'node, nothing loaded', hand: 'hand-written (dist/daemon/metrics.js)', prom: 'prom-client + collectDefaultMetrics' };
for (const [n, w, l, s, ws, r, d] of rows) console.log(`| ${label[n]} | ${w.toFixed(1)} | ${l.toFixed(1)} | ${s.toFixed(2)} | ${ws.toFixed(2)} | ${r.toFixed(1)} | ${d.toFixed(1)} |`);
