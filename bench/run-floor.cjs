// The floor of `resolver run --rm IMAGE CMD` on a runtime, with nothing of resolver (bench/footprint.mjs
// times it beside `run --rm` and `docker run --rm`): the engine requests `docker run --rm` makes, done once.
// Create (auto-remove, no network), attach to stdout and stderr, wait for removal, start; print nothing and
// exit with the container's status. No configuration, no image check, no registry, no signals, no error handling.
//   fetch   Node's own fetch() over the engine's unix socket: the undici Node carries, compiled into the node
//           binary with its code cache (its EnvHttpProxyAgent, with no proxy set, is a plain Agent).
//   http    node:http: no undici at all, the lowest any Node client of the Engine API can cost.
// Usage: node [--expose-internals] bench/run-floor.cjs fetch|http SOCKET IMAGE CMD...   (the flag for fetch)
'use strict';
const [mode, socketPath, image, ...cmd] = process.argv.slice(2);
const body = JSON.stringify({ Image: image, Cmd: cmd, AttachStdout: true, AttachStderr: true, HostConfig: { AutoRemove: true, NetworkMode: 'none' } });

function viaHttp(method, path, data) {
  const http = require('node:http');
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path, method, headers: data === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('latin1');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

let dispatcher;
async function viaFetch(method, path, data) {
  if (dispatcher === undefined) {
    require('node:v8').setFlagsFromString('--liftoff-only');
    // Node's own undici, not npm's: the only Agent it exposes (no *_PROXY variable is set here).
    const { EnvHttpProxyAgent } = require('internal/deps/undici/undici');
    dispatcher = new EnvHttpProxyAgent({ connect: { socketPath } });
  }
  const res = await fetch(`http://docker${path}`, { method, body: data, headers: data === undefined ? {} : { 'content-type': 'application/json' }, dispatcher });
  return { status: res.status, text: await res.text() };
}

const call = mode === 'fetch' ? viaFetch : viaHttp;
(async () => {
  const created = await call('POST', '/containers/create', body);
  if (created.status !== 201) throw new Error(`create: ${created.status} ${created.text}`);
  const { Id: id } = JSON.parse(created.text);
  const attached = call('POST', `/containers/${id}/attach?stream=1&stdout=1&stderr=1`);
  const waited = call('POST', `/containers/${id}/wait?condition=removed`);
  const started = await call('POST', `/containers/${id}/start`);
  if (started.status !== 204) throw new Error(`start: ${started.status} ${started.text}`);
  const [, wait] = await Promise.all([attached, waited]);
  process.exitCode = JSON.parse(wait.text).StatusCode;
  dispatcher?.close();
})().catch((error) => {
  process.stderr.write(`run-floor: ${error.message}\n`);
  process.exit(125);
});
