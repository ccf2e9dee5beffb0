#!/usr/bin/env node
// Launcher of the bundled CLI (dist/resolver.bundle.cjs). Every command runs with Liftoff only: undici's
// HTTP parser is WebAssembly, and V8 waits at exit for its background TurboFan compile (~180 ms measured).
// The flag is set before the bundle compiles, so a V8 code cache of the bundle stays valid for it.
//
// The code cache (bench/README.md: what it saves) is trusted code: V8 checks only the source's length, so
// whoever can write the cache runs code as the user, and a cache from another CPU architecture crashes V8.
// So it lives only in a folder that the user owns and no one else can write ($CACHE_DIRECTORY from systemd's
// CacheDirectory=, else $XDG_CACHE_HOME/resolver, else ~/.cache/resolver), every folder on the way there is
// owned by the user or root and not writable by others (sticky folders excepted), the file is owned by the
// user and writable by no one else (opened without following symlinks), and it is keyed by everything that
// makes it invalid: architecture, Node and V8 versions, the V8 flags in effect and a SHA-256 of the bundle.
// A header repeats the key and a SHA-256 of the cached data, so a foreign, stale or corrupt file is ignored
// (and replaced), never handed to V8. RESOLVER_CODE_CACHE=0 turns the cache off.
'use strict';
// Supported Node versions (package.json "engines"): one line naming them instead of a crash deep in the bundle.
// RESOLVER_UNSUPPORTED_NODE=1 runs anyway, at the operator's risk (npm's newest armv7l Node is 20.11: the ARM
// smoke test runs on it that way; armhf devices get Debian's 20.19 through the package).
if (process.env.RESOLVER_UNSUPPORTED_NODE !== '1') {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (!((major === 20 && minor >= 19) || (major === 22 && minor >= 12) || major >= 24)) {
    process.stderr.write(`resolver: Node ${process.versions.node} is not supported; it needs Node 20.19+, 22.12+ or 24+ (scripts/ensure-deps.sh says how to install one)\n`);
    process.exit(1);
  }
}
// No DEBUG value may enable the debug package (docker-modem prints X-Registry-Auth, i.e. passwords): issue 13.1.
for (const k of Object.keys(process.env)) if (k === 'DEBUG' || k.startsWith('DEBUG_')) delete process.env[k];
// The packaged /usr/bin/resolver starts the bundle from a V8 startup snapshot when it can (bin/resolver-snapshot.cjs
// says so the same way); this is the other way.
if (process.env.RESOLVER_STARTUP_DEBUG === '1') process.stderr.write('resolver: started by the launcher, without a startup snapshot\n');
const fs = require('node:fs');
const path = require('node:path');
const file = path.join(__dirname, '..', 'dist', 'resolver.bundle.cjs');

// `resolver --version` (or -V) alone is answered here, from the version line scripts/bundle.mjs writes at the
// top of the bundle, without compiling the bundle (issue 10 §4: that was ~3 × a bare `node -e 0`). The same
// output and exit code as the bundle's commander gives; anything else on the command line goes to the bundle.
if (process.argv.length === 3 && (process.argv[2] === '--version' || process.argv[2] === '-V')) {
  let head = '';
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(128);
      head = buf.toString('latin1', 0, fs.readSync(fd, buf, 0, buf.length, 0));
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // No bundle: the normal path below says so.
  }
  const m = /^\/\/ resolver-version: ([0-9A-Za-z.+~-]+)\n/.exec(head);
  if (m !== null) {
    process.stdout.write(`${m[1]}\n`);
    return;
  }
}
const os = require('node:os');
const vm = require('node:vm');
const v8 = require('node:v8');
const crypto = require('node:crypto');
const Module = require('node:module');

// The daemon too (issue 10 §4, measured in bench/README.md): TurboFan's tier-up of the parser costs the
// long-running process ~7 MB of resident memory at 10 tags (~20 MB at 1,000) for no CPU it measurably saves.
// The daemon also has V8 favour size over speed (--optimize-for-size: a slower-growing heap, collected sooner):
// its heap grew to twice what it keeps alive at 1,000 tags (113 MB RSS; 88-91 MB with it, bench/README.md).
// And it runs without TurboFan (--no-opt; Ignition and Sparkplug only): at 1,000 tags the optimising compiler's
// code and its zone memory were ~9 MB of the daemon's RSS (92.5 -> 83.7 MB) for the CPU of a cycle that is idle
// >99 % of a 5-minute schedule (bench/README.md, 2026-12-04 third session).
// Set here, not in the unit, so the container and the tarball get it too; the code cache is keyed by it.
const v8Flags = process.argv[2] === 'daemon' ? '--liftoff-only --optimize-for-size --no-opt' : '--liftoff-only';
v8.setFlagsFromString(v8Flags);
let bytes;
try {
  bytes = fs.readFileSync(file);
} catch (error) {
  // A source checkout before `npm run build`, or a broken install: one line, not a stack trace.
  const code = error !== null && typeof error === 'object' && 'code' in error ? String(error.code) : 'unknown';
  process.stderr.write(`resolver: cannot read the bundle ${file} (${code}); in a source checkout run \`npm run build\`, else reinstall resolver\n`);
  process.exit(1);
}
const source = bytes.toString('utf8').replace(/^#!.*/, '');

const MAGIC = Buffer.from('resolver-v8-cache/1\n');
const HEADER = MAGIC.length + 64;
const MAX_CACHE_BYTES = 64 * 1024 * 1024;
const sha256 = (data) => crypto.createHash('sha256').update(data).digest();

/** The folder the cache belongs in, before any check; undefined where there is no uid (Windows). */
function cacheBase(env) {
  if (typeof process.getuid !== 'function') return undefined;
  const systemd = (env.CACHE_DIRECTORY ?? '').split(':')[0];
  if (systemd !== undefined && path.isAbsolute(systemd)) return systemd;
  const xdg = env.XDG_CACHE_HOME;
  if (xdg !== undefined && path.isAbsolute(xdg)) return path.join(xdg, 'resolver');
  let home;
  try {
    home = os.homedir();
  } catch {
    return undefined;
  }
  return path.isAbsolute(home) ? path.join(home, '.cache', 'resolver') : undefined;
}

const writableByOthers = (st) => (st.mode & 0o022) !== 0;

/**
 * Walks `dir` from `/` with lstat and returns its real path when it is safe to trust, else undefined: every
 * folder on the way is owned by `uid` or root and not writable by group or others unless sticky; a symlink is
 * followed only when it is owned by `uid` or root (it sits in a folder that passed, as systemd's DynamicUser=
 * links do); the folder itself is owned by `uid` and writable by no one else. With `create`, missing folders
 * are created with mode 0700.
 */
function trustedDir(dir, uid, create) {
  let parts = dir.split('/').filter((p) => p !== '' && p !== '.');
  let current = '/';
  let links = 0;
  const passes = (st) => st.isDirectory() && (st.uid === uid || st.uid === 0) && (!writableByOthers(st) || (st.mode & 0o1000) !== 0);
  if (!passes(fs.lstatSync('/'))) return undefined;
  while (parts.length > 0) {
    const name = parts.shift();
    if (name === '..') {
      current = path.dirname(current);
      continue;
    }
    const next = path.join(current, name);
    let st;
    try {
      st = fs.lstatSync(next);
    } catch (error) {
      if (!create || error.code !== 'ENOENT') return undefined;
      fs.mkdirSync(next, { mode: 0o700 });
      st = fs.lstatSync(next);
    }
    if (st.isSymbolicLink()) {
      if ((st.uid !== uid && st.uid !== 0) || ++links > 16) return undefined;
      const target = fs.readlinkSync(next);
      if (path.isAbsolute(target)) current = '/';
      parts = [...target.split('/').filter((p) => p !== '' && p !== '.'), ...parts];
      continue;
    }
    if (!passes(st)) return undefined;
    current = next;
  }
  const st = fs.lstatSync(current);
  return st.isDirectory() && st.uid === uid && !writableByOthers(st) ? current : undefined;
}

/** The cached data of `name` in `dir` when the file is the user's own and carries `key`, else undefined. */
function readCache(dir, name, key, uid) {
  let fd;
  try {
    fd = fs.openSync(path.join(dir, name), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.uid !== uid || writableByOthers(st) || st.size <= HEADER || st.size > MAX_CACHE_BYTES) return undefined;
    const data = Buffer.allocUnsafe(st.size);
    let read = 0;
    while (read < data.length) {
      const n = fs.readSync(fd, data, read, data.length - read, read);
      if (n === 0) return undefined;
      read += n;
    }
    const payload = data.subarray(HEADER);
    const header = Buffer.concat([MAGIC, key, sha256(payload)]);
    return header.equals(data.subarray(0, HEADER)) ? payload : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Writes the cache atomically (temporary file, then rename) and keeps the 4 newest cache files. */
function writeCache(dir, name, key, payload) {
  const tmp = path.join(dir, `.${name}.${process.pid}.tmp`);
  try {
    const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    try {
      fs.writeSync(fd, Buffer.concat([MAGIC, key, sha256(payload), payload]));
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path.join(dir, name));
    const others = fs.readdirSync(dir).filter((f) => /^[0-9a-f]{32}\.v8$/.test(f) && f !== name);
    if (others.length > 3) {
      const byAge = others.map((f) => ({ f, t: fs.lstatSync(path.join(dir, f)).mtimeMs })).sort((a, b) => a.t - b.t);
      for (const { f } of byAge.slice(0, others.length - 3)) fs.unlinkSync(path.join(dir, f));
    }
  } catch {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // Nothing was left.
    }
  }
}

const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
const base = process.env.RESOLVER_CODE_CACHE === '0' || uid === undefined ? undefined : cacheBase(process.env);
let cache;
if (base !== undefined) {
  const key = sha256(
    ['resolver-v8-cache/1', process.arch, process.platform, process.version, process.versions.v8, v8Flags, process.execArgv.join(' '), process.env.NODE_OPTIONS ?? '', sha256(bytes).toString('hex')].join('\0'),
  );
  const name = `${key.toString('hex').slice(0, 32)}.v8`;
  let dir;
  try {
    dir = trustedDir(base, uid, false);
  } catch {
    dir = undefined;
  }
  cache = { key, name, dir, data: dir === undefined ? undefined : readCache(dir, name, key, uid) };
}

const script = new vm.Script(Module.wrap(source), { filename: file, cachedData: cache?.data });
const mod = new Module(file, module);
mod.filename = file;
mod.paths = Module._nodeModulePaths(path.dirname(file));
script.runInThisContext().call(mod.exports, mod.exports, (id) => mod.require(id), mod, file, path.dirname(file));
if (cache !== undefined && (cache.data === undefined || script.cachedDataRejected === true)) {
  process.once('beforeExit', () => {
    try {
      const dir = cache.dir ?? trustedDir(base, uid, true);
      if (dir !== undefined) writeCache(dir, cache.name, cache.key, script.createCachedData());
    } catch {
      // A cache is an optimisation only.
    }
  });
}
