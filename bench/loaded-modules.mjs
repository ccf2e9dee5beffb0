// Preload for `node --import`: at exit, prints the npm packages the process loaded (CommonJS require
// cache, which is where the bundled CLI's lazy requires land, plus ESM resolutions).
import { createRequire, register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';

const require = createRequire(import.meta.url);
const { port1, port2 } = new MessageChannel();
const seen = new Set();
const note = (url) => {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) seen.add(m[1]);
};
port1.on('message', note);
port1.unref();
register('./loaded-modules-hooks.mjs', import.meta.url, { data: { port: port2 }, transferList: [port2] });
process.on('exit', () => {
  for (const file of Object.keys(require.cache)) note(file);
  if (process.env.RESOLVER_REPORT_MODULES) process.stderr.write(`loaded-packages: ${[...seen].sort().join(',') || '(none)'}\n`);
});
