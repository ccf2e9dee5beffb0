// Child of bench/scale.mjs: runs only the daemon (in process, through its real check path) for a config
// file, and prints one JSON line of measurements. Kept separate so RSS is the daemon's, not the harness's.
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

const root = resolve(new URL('..', import.meta.url).pathname);
const dist = (p) => join(root, 'dist', p);
const { Daemon } = await import(dist('daemon/daemon.js'));
const { loadConfig } = await import(dist('config/load.js'));
const { createServices } = await import(dist('cli/services.js'));
const { createLogger } = await import(dist('log/logger.js'));

const [file, cyclesText] = process.argv.slice(2);
const cycles = Number(cyclesText);
const config = await loadConfig(file);
const daemon = new Daemon({
  loadConfig: async () => config, stateDir: () => config.stateDir, hostname: hostname(), lock: false,
  logger: createLogger({ level: 'error', human: false, write: () => undefined }),
  services: () => createServices({ ...process.env, DOCKER_HOST: config.engine.host }, { insecureRegistries: [], onWarning: () => undefined, stateDir: config.stateDir }),
});
await daemon.start();
let t = performance.now();
await daemon.checkAllNow();
const firstMs = performance.now() - t;
const failing = daemon.status().images.filter((i) => i.state !== 'ok').length;
const reqs = () => ({ ...daemon.services.registry.requests });
const r0 = reqs();
const cpu0 = process.cpuUsage();
t = performance.now();
await daemon.checkAllNow();
const wallMs = performance.now() - t;
const cpu = process.cpuUsage(cpu0);
const r1 = reqs();
const rss = [];
for (let c = 2; c <= cycles; c++) {
  await daemon.checkAllNow();
  if (process.env.SCALE_DEBUG) console.error(c, JSON.stringify(daemon.status().images.reduce((m, i) => ((m[i.lastResult] = (m[i.lastResult] ?? 0) + 1), m), {})));
  if (c === 10 || c === cycles) {
    global.gc?.();
    rss.push([c, process.memoryUsage().rss / 1048576, process.memoryUsage().heapUsed / 1048576]);
  }
}
const results = daemon.status().images.reduce((m, i) => ((m[i.lastResult] = (m[i.lastResult] ?? 0) + 1), m), {});
await daemon.stop();
process.stdout.write(`${JSON.stringify({ firstMs, failing, wallMs, cpuMs: (cpu.user + cpu.system) / 1000, requests: r1.HEAD - r0.HEAD + r1.GET - r0.GET, rss, results })}\n`);
