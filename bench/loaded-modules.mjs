// Preload for `node --import`: records every module the process loads and prints the package names at exit.
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';

const { port1, port2 } = new MessageChannel();
const seen = new Set();
port1.on('message', (url) => {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) seen.add(m[1]);
});
port1.unref();
register('./loaded-modules-hooks.mjs', import.meta.url, { data: { port: port2 }, transferList: [port2] });
process.on('exit', () => {
  if (process.env.RESOLVER_REPORT_MODULES) process.stderr.write(`loaded-packages: ${[...seen].sort().join(',')}\n`);
});
