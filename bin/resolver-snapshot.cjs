// The V8 startup snapshot of the bundle (issue 10 §4; docs/packaging.md §Startup snapshot). Not run directly:
//   node --liftoff-only --snapshot-blob BLOB --build-snapshot bin/resolver-snapshot.cjs [FILES]
// (bin/resolver-build-snapshot does, and records what the blob is valid for) evaluates the bundle's top level
// while Node builds the snapshot; the bundle's main runs only after the snapshot is deserialised, from
// v8.startupSnapshot.setDeserializeMainFunction, when `node --liftoff-only --snapshot-blob BLOB -- ARGS` starts
// (the packaged /usr/bin/resolver does that when the blob matches the Node it would run). The HTTP stack
// (undici, node:http, node:net, the streams) is not in the snapshot: src/http/undici-lite.cjs loads it on first
// use, after deserialisation (Node cannot snapshot node:http's handles).
// What bin/resolver.cjs does before the bundle is done here after deserialisation: DEBUG and DEBUG_* are
// cleared (issue 13.1) and the bundle's require() resolves packages (systeminformation, pino, the MQTT chunk…)
// from the bundle's folder. The Node version is checked once, when building. With FILES, the build writes the
// files this Node binary is made of (the executable and its shared libnode, from /proc/self/maps), one a line.
// RESOLVER_STARTUP_DEBUG=1 prints one line to stderr saying which way the process started.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const v8 = require('node:v8');

if (!v8.startupSnapshot.isBuildingSnapshot()) {
  process.stderr.write('resolver-snapshot.cjs: run it with node --snapshot-blob BLOB --build-snapshot (see bin/resolver-build-snapshot)\n');
  process.exit(2);
}
const [major, minor] = process.versions.node.split('.').map(Number);
if (!((major === 20 && minor >= 19) || (major === 22 && minor >= 12) || major >= 24)) throw new Error(`Node ${process.versions.node} is not supported`);

const launcher = path.join(__dirname, 'resolver.cjs');
const file = path.join(__dirname, '..', 'dist', 'resolver.bundle.cjs');
const source = fs.readFileSync(file, 'utf8').replace(/^#!.*/, '');

const filesOut = process.argv[2];
if (filesOut !== undefined) {
  // The executable and the shared libraries that carry V8 (Debian's node is a small executable over libnode.so).
  const mapped = fs
    .readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .map((l) => l.slice(l.indexOf('/')))
    .filter((p) => p.startsWith('/') && /\/libnode\.so[^/]*$/.test(p));
  const files = [...new Set([fs.realpathSync(process.execPath), ...mapped.map((p) => fs.realpathSync(p))])];
  fs.writeFileSync(filesOut, `${files.join('\n')}\n`);
}

// Built-in modules Node's snapshot builder supports (lib/internal/main/mksnapshot.js); the bundle gets the others
// (node:http, node:net, node:tls, node:child_process…, imported at the top of a few files but used only later)
// as stand-ins that load the module on first use, after deserialisation.
const snapshotSafe = new Set(['assert', 'assert/strict', 'buffer', 'console', 'constants', 'crypto', 'diagnostics_channel', 'dns', 'dns/promises', 'events', 'fs', 'fs/promises', 'os', 'path', 'path/posix', 'path/win32', 'process', 'querystring', 'stream', 'stream/promises', 'string_decoder', 'timers', 'timers/promises', 'url', 'util', 'util/types', 'v8', 'zlib']);
const building = new Set();
function onFirstUse(id) {
  let real;
  const get = () => {
    if (building.size > 0) throw new Error(`${id} is used while the startup snapshot is built: load it on first use`);
    return (real ??= load(id));
  };
  return new Proxy({}, { get: (_, k) => get()[k], has: (_, k) => k in get(), ownKeys: () => Reflect.ownKeys(get()), getOwnPropertyDescriptor: (_, k) => ({ ...Reflect.getOwnPropertyDescriptor(get(), k), configurable: true }) });
}
building.add(true);
let load = (id) => (snapshotSafe.has(id.replace(/^node:/, '')) ? require(id) : onFirstUse(id));
let start;
const hook = Symbol.for('resolver.deferMain');
globalThis[hook] = (main) => {
  start = main;
};
try {
  // Indirect eval, named for stack traces (node:vm and node:module are not supported by the snapshot builder).
  const wrapper = (0, eval)(`(function (exports, require, module, __filename, __dirname) {${source}\n})\n//# sourceURL=${file}`);
  const mod = { exports: {}, filename: file, id: file };
  wrapper.call(mod.exports, mod.exports, (id) => load(id), mod, file, path.dirname(file));
} finally {
  delete globalThis[hook];
}
if (typeof start !== 'function') throw new Error(`${file} did not hand over its main function`);

v8.startupSnapshot.setDeserializeMainFunction(() => {
  for (const k of Object.keys(process.env)) if (k === 'DEBUG' || k.startsWith('DEBUG_')) delete process.env[k];
  building.clear();
  load = require('node:module').createRequire(file);
  // As if started by the launcher: commander reads the arguments after argv[1].
  process.argv.splice(1, 0, launcher);
  // As the launcher does for the daemon (its heap favours size, no TurboFan: bench/README.md); the blob was built without them.
  if (process.argv[2] === 'daemon') v8.setFlagsFromString('--optimize-for-size --no-opt');
  if (process.env.RESOLVER_STARTUP_DEBUG === '1') process.stderr.write(`resolver: started from the V8 startup snapshot (${process.execArgv.join(' ')})\n`);
  start();
});
