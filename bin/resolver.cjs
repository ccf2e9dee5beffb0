#!/usr/bin/env node
// Launcher of the bundled CLI (dist/resolver.bundle.cjs). It keeps a V8 code cache of the bundle in the
// temporary folder, and runs one-shot commands with Liftoff only: undici's HTTP parser is WebAssembly,
// and V8 waits at exit for its background TurboFan compile (~180 ms measured). Both are set before the
// bundle compiles, so the cache is valid for these flags. Long-running commands keep the optimising tier.
'use strict';
// No DEBUG value may enable the debug package (docker-modem prints X-Registry-Auth, i.e. passwords): issue 13.1.
for (const k of Object.keys(process.env)) if (k === 'DEBUG' || k.startsWith('DEBUG_')) delete process.env[k];
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const vm = require('node:vm');
const v8 = require('node:v8');
const Module = require('node:module');

if (process.argv[2] !== 'daemon') v8.setFlagsFromString('--liftoff-only');
const file = path.join(__dirname, '..', 'dist', 'resolver.bundle.cjs');
const source = fs.readFileSync(file, 'utf8').replace(/^#!.*/, '');
const stat = fs.statSync(file);
const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
const cacheFile = path.join(os.tmpdir(), `resolver-v8-${uid}`, `${process.version}-${stat.size}-${Math.floor(stat.mtimeMs)}.cache`);
let cached;
try {
  cached = fs.readFileSync(cacheFile);
} catch {
  cached = undefined;
}
const script = new vm.Script(Module.wrap(source), { filename: file, cachedData: cached });
const mod = new Module(file, module);
mod.filename = file;
mod.paths = Module._nodeModulePaths(path.dirname(file));
script.runInThisContext().call(mod.exports, mod.exports, (id) => mod.require(id), mod, file, path.dirname(file));
if (cached === undefined || script.cachedDataRejected === true) {
  process.once('beforeExit', () => {
    try {
      fs.mkdirSync(path.dirname(cacheFile), { recursive: true, mode: 0o700 });
      const tmp = `${cacheFile}.${process.pid}`;
      fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
      fs.renameSync(tmp, cacheFile);
    } catch {
      // A cache is an optimisation only.
    }
  });
}
