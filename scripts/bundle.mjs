#!/usr/bin/env node
// Bundles the CLI into dist/resolver.bundle.cjs (one file: faster starts than ~200 ESM modules).
// `undici` is mapped to src/http/undici-lite.cjs (the same pinned package, fewer modules initialised).
// dockerode is bundled (loaded lazily by the commands that talk to the engine) with gRPC, proto-loader and
// ssh2 mapped to src/engine/bundle-stubs/unsupported.cjs; systeminformation and node-cron stay external.
// `debug` (docker-modem's logger, which prints X-Registry-Auth: passwords) is a no-op that no DEBUG value
// can enable (issue 13.1).
// `mqtt` (and its ~620 KB of dependencies) is a second file, dist/resolver-mqtt.cjs, required only when an
// MQTT sink is configured (src/notify/mqtt.ts imports it lazily), with the same `debug` no-op: one-shot
// commands and a daemon without MQTT never read it. protobufjs (dockerode's BuildKit progress decoder,
// required only by image builds, which resolver never does) is the unsupported stub, and zod's `z.locales`
// namespace (47 translations of its error messages, ~300 KB, never selected: resolver's messages are its own
// and zod's default is English, imported by zod directly) holds English only.
import { constants as http2Constants } from 'node:http2';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { build } from 'esbuild';

// `resolver --version` is package.json's (src/cli/version.ts).
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

// Built-in modules that dependencies require at load time but a one-shot command never uses, loaded on first
// use instead (measured: bench/README.md). undici's HTTP/2 client reads ten constants at load and calls
// connect() only with allowH2, which resolver never sets; commander spawns only for executable subcommands.
const lazyBuiltins = {
  'node:http2': `const c = ${JSON.stringify(http2Constants)};\nmodule.exports = { constants: c, connect: (...a) => require('node:http2').connect(...a) };`,
  'node:child_process': `module.exports = new Proxy({}, { get: (_, k) => require('node:child_process')[k] });`,
};
const noDebug = `'use strict';
function createDebug() {
  const debug = () => {};
  return Object.assign(debug, { enabled: false, namespace: '', extend: createDebug, destroy: () => false, log: () => {} });
}
module.exports = Object.assign(createDebug, { enable: () => {}, disable: () => '', enabled: () => false, names: [], skips: [], formatters: {} });
`;
const lazyImporters = /[\\/]node_modules[\\/](undici[\\/]lib[\\/]dispatcher[\\/]client-h2\.js|commander[\\/]lib[\\/]command\.js)$/;

const mqttChunk = 'resolver-mqtt.cjs';

const noDebugPlugin = {
  name: 'no-debug',
  setup(b) {
    b.onResolve({ filter: /^debug$/ }, () => ({ path: 'debug', namespace: 'no-debug' }));
    b.onLoad({ filter: /.*/, namespace: 'no-debug' }, () => ({ contents: noDebug, loader: 'js' }));
  },
};

await build({
  stdin: { contents: "module.exports = require('mqtt');", resolveDir: new URL('..', import.meta.url).pathname, sourcefile: 'mqtt-chunk.cjs', loader: 'js' },
  outfile: `dist/${mqttChunk}`,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minifySyntax: true,
  minifyWhitespace: true,
  legalComments: 'eof',
  logLevel: 'warning',
  plugins: [noDebugPlugin],
});

await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/resolver.bundle.cjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // Only the daemon needs pino and yaml: kept out of the bundle so one-shot commands read and compile less.
  external: ['systeminformation', 'node-cron', 'cpu-features', 'pino', 'yaml'],
  minifySyntax: true,
  minifyWhitespace: true,
  legalComments: 'eof',
  logLevel: 'warning',
  define: { RESOLVER_VERSION: JSON.stringify(version) },
  // bin/resolver.cjs answers `--version` alone from this first line, without compiling the bundle.
  banner: { js: `// resolver-version: ${version}` },
  // src/cli/version.ts reads import.meta.url only where RESOLVER_VERSION is undefined, never in the bundle.
  logOverride: { 'empty-import-meta': 'silent' },
  // Lazy imports of the external packages become require() calls: vm.Script has no dynamic-import hook.
  supported: { 'dynamic-import': false },
  plugins: [
    noDebugPlugin,
    {
      name: 'undici-lite',
      setup(b) {
        b.onResolve({ filter: /^undici$/ }, () => ({ path: new URL('../src/http/undici-lite.cjs', import.meta.url).pathname }));
        b.onResolve({ filter: /^node:(http2|child_process)$/ }, (args) => (lazyImporters.test(args.importer) ? { path: args.path, namespace: 'lazy-builtin' } : undefined));
        b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({ contents: lazyBuiltins[args.path], loader: 'js' }));
        b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => (/[\\/]node_modules[\\/]zod[\\/]/.test(args.importer) ? { path: args.importer, namespace: 'zod-locales' } : undefined));
        b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({ contents: "export { default as en } from '../locales/en.js';", resolveDir: dirname(args.path), loader: 'js' }));
        b.onResolve({ filter: /^mqtt$/ }, () => ({ path: `./${mqttChunk}`, external: true }));
        b.onResolve({ filter: /^(@grpc\/grpc-js|@grpc\/proto-loader|ssh2|protobufjs)$/ }, () => ({ path: new URL('../src/engine/bundle-stubs/unsupported.cjs', import.meta.url).pathname }));
      },
    },
  ],
});
