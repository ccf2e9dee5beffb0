// The floor of the daemon's memory with the house stack and nothing of resolver (bench/daemon-memory.mjs runs it
// beside the daemon): a bare Node HTTP server that also loads what every daemon loads, each used once as the
// daemon uses it: undici's request API over an Agent (one GET to this server, as bin/resolver.cjs runs it with
// --liftoff-only), a zod object schema, a YAML document, a pino log line. The packages come from node_modules
// whole (the bundle carries only the parts it uses of zod and undici), so this is an upper bound of the floor.
'use strict';
const http = require('node:http');
const v8 = require('node:v8');

v8.setFlagsFromString('--liftoff-only');
const server = http.createServer((_q, s) => s.end('ok'));
server.listen(0, '127.0.0.1', async () => {
  const api = require('undici/lib/api/index.js');
  Object.assign(require('undici/lib/dispatcher/dispatcher.js').prototype, api);
  const Agent = require('undici/lib/dispatcher/agent.js');
  const res = await api.request.call(new Agent(), { origin: `http://127.0.0.1:${server.address().port}`, path: '/', method: 'GET' });
  await res.body.text();
  const { z } = require('zod');
  z.object({ image: z.string(), schedule: z.string().optional() }).parse(require('yaml').parse('image: app\nschedule: "*/5 * * * *"\n'));
  require('pino')({ level: 'info' }, require('node:fs').createWriteStream('/dev/null')).info('floor');
});
