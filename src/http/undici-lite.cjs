// Bundle-only stand-in for `undici` (scripts/bundle.mjs maps the import here): the same pinned
// undici, but only the parts src/http/http.ts uses (Agent, request, buildConnector), so the CLI does not initialise
// fetch, WebSocket, the cache and the mock layers at every start. `request` does what undici's
// index.js wrapper does. EnvHttpProxyAgent loads only when a proxy is configured.
// Every part loads on first use, not when the bundle starts: undici requires node:http, node:net, the streams
// and node:assert at load (measured ~40 % of `resolver --version`'s CPU, bench/README.md), which commands that
// make no request (`--version`, `platform --platform`, `config check`, `status`) never need.
'use strict';
let api;
function loadApi() {
  if (api === undefined) {
    api = require('undici/lib/api/index.js');
    // undici's index.js gives every dispatcher the api methods (request, stream, pipeline, connect, upgrade);
    // ProxyAgent tunnels HTTPS with `this[kClient].connect(...)`, so without this every proxied HTTPS request
    // failed with "connect is not a function".
    Object.assign(require('undici/lib/dispatcher/dispatcher.js').prototype, api);
  }
  return api;
}

function request(url, opts) {
  const u = typeof url === 'string' ? new URL(url) : url;
  const { dispatcher, ...rest } = opts;
  return loadApi().request.call(dispatcher, {
    ...rest,
    origin: u.origin,
    path: u.search ? `${u.pathname}${u.search}` : u.pathname,
    method: rest.method || (rest.body ? 'PUT' : 'GET'),
  });
}

module.exports = {
  get Agent() {
    loadApi();
    return require('undici/lib/dispatcher/agent.js');
  },
  request,
  get buildConnector() {
    return require('undici/lib/core/connect.js');
  },
  get EnvHttpProxyAgent() {
    loadApi();
    return require('undici/lib/dispatcher/env-http-proxy-agent.js');
  },
};
