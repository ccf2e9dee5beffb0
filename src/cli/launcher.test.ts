/**
 * The launcher's V8 code cache (bin/resolver.cjs). A code cache is trusted code: V8 checks only the source's
 * length, so a cache built from another bundle of the same length runs that bundle's code. These tests build
 * exactly such a planted cache (its code writes a marker file) and check that the launcher never runs it
 * from anywhere but the user's own, private, correctly keyed cache. The first test is the control: a planted
 * cache that meets every condition IS run, so the marker is a real witness in the tests that follow.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, existsSync, lchownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const launcher = new URL('../../bin/resolver.cjs', import.meta.url).pathname;
const nobody = 65534;
const root = process.getuid?.() === 0;

/** Pads `code` with a comment to exactly `length` characters. */
function padded(code: string, length: number): string {
  const body = `${code}\n//`;
  if (body.length > length) throw new Error('code too long');
  return body + 'x'.repeat(length - body.length);
}
const LENGTH = 400;
const realBundle = padded(`process.stdout.write('real ' + process.argv.slice(2).join(' ') + '\\n');`, LENGTH);
const evilBundle = padded(`require('node:fs').writeFileSync(process.env.MARKER, 'ran as uid=' + process.getuid()); process.stdout.write('evil\\n');`, LENGTH);

const sha256 = (data: string | Buffer): Buffer => createHash('sha256').update(data).digest();

interface KeyFields {
  arch?: string;
  version?: string;
  flags?: string;
  bundle?: string;
}

/** The launcher's cache key, as anyone who can read the bundle can compute it. */
function keyOf(bundle: string, fields: KeyFields = {}): Buffer {
  return sha256(
    ['resolver-v8-cache/1', fields.arch ?? process.arch, process.platform, fields.version ?? process.version, process.versions.v8, fields.flags ?? '--liftoff-only', '', '', sha256(fields.bundle ?? bundle).toString('hex')].join('\0'),
  );
}

/** V8 code cache data of `source` compiled the way the launcher compiles it (flags set first, Module.wrap). */
function compiledCache(source: string, flags = '--liftoff-only'): Buffer {
  const script = [
    "const v8 = require('node:v8'); const vm = require('node:vm'); const Module = require('node:module');",
    `if (${JSON.stringify(flags)} !== '') v8.setFlagsFromString(${JSON.stringify(flags)});`,
    `const s = new vm.Script(Module.wrap(${JSON.stringify(source)}), { filename: 'planted.cjs' });`,
    "process.stdout.write(s.createCachedData().toString('base64'));",
  ].join('\n');
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { PATH: process.env['PATH'] } });
  if (r.status !== 0) throw new Error(r.stderr);
  return Buffer.from(r.stdout, 'base64');
}

/** A cache file as the launcher writes it: magic, key, SHA-256 of the data, data. */
function cacheFile(key: Buffer, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from('resolver-v8-cache/1\n'), key, sha256(data), data]);
}
const nameOf = (key: Buffer): string => `${key.toString('hex').slice(0, 32)}.v8`;

let dir: string;
let home: string;
let marker: string;
const env = (): NodeJS.ProcessEnv => ({ PATH: process.env['PATH'], HOME: home, TMPDIR: join(dir, 'tmp'), MARKER: marker });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'resolver-launcher-'));
  chmodSync(dir, 0o755);
  home = join(dir, 'home');
  marker = join(dir, 'marker');
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'dist'));
  mkdirSync(join(dir, 'tmp'), { mode: 0o1777 });
  chmodSync(join(dir, 'tmp'), 0o1777);
  mkdirSync(home, { mode: 0o700 });
  copyFileSync(launcher, join(dir, 'bin', 'resolver.cjs'));
  writeFileSync(join(dir, 'dist', 'resolver.bundle.cjs'), realBundle);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[] = ['--version'], extra: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(dir, 'bin', 'resolver.cjs'), ...args], { encoding: 'utf8', env: { ...env(), ...extra }, timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Plants `content` as the cache file `name` in `folder` (created 0700). */
function plant(folder: string, name: string, content: Buffer, mode = 0o600): string {
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  const path = join(folder, name);
  writeFileSync(path, content, { mode });
  chmodSync(path, mode);
  return path;
}

const userCache = (): string => join(home, '.cache', 'resolver');
const evilData = (): Buffer => compiledCache(evilBundle);

function expectRealRan(r: { status: number | null; stdout: string; stderr: string }): void {
  expect(r.stderr).toBe('');
  expect(r.stdout).toBe('real --version\n');
  expect(r.status).toBe(0);
  expect(existsSync(marker)).toBe(false);
}

describe('launcher code cache', () => {
  it('control: a planted cache that meets every condition is run (V8 checks only the length)', () => {
    plant(userCache(), nameOf(keyOf(realBundle)), cacheFile(keyOf(realBundle), evilData()));
    const r = run();
    expect(r.stdout).toBe('evil\n');
    expect(readFileSync(marker, 'utf8')).toMatch(/^ran as uid=\d+$/);
  });

  it('ignores a cache planted in the temporary folder (the old location, writable by anyone first)', () => {
    const uid = process.getuid?.() ?? 0;
    const st = statSync(join(dir, 'dist', 'resolver.bundle.cjs'));
    // The old launcher's name: NODE_VERSION-SIZE-MTIME.cache in $TMPDIR/resolver-v8-UID/.
    plant(join(dir, 'tmp', `resolver-v8-${uid}`), `${process.version}-${st.size}-${Math.floor(st.mtimeMs)}.cache`, evilData());
    expectRealRan(run());
  });

  it('writes the cache into ~/.cache/resolver with private modes, and reuses it without rewriting', () => {
    expectRealRan(run());
    const files = readdirSync(userCache());
    expect(files).toEqual([nameOf(keyOf(realBundle))]);
    expect(statSync(userCache()).mode & 0o777).toBe(0o700);
    const path = join(userCache(), files[0] ?? '');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const before = readFileSync(path);
    expect(before.subarray(20, 52).equals(keyOf(realBundle))).toBe(true);
    const mtime = statSync(path).mtimeMs;
    expectRealRan(run());
    expect(statSync(path).mtimeMs).toBe(mtime);
  });

  it('uses $XDG_CACHE_HOME and systemd $CACHE_DIRECTORY, followed through a root-owned link (DynamicUser=)', () => {
    const xdg = join(dir, 'xdg');
    mkdirSync(xdg, { mode: 0o700 });
    expectRealRan(run(['--version'], { XDG_CACHE_HOME: xdg }));
    expect(readdirSync(join(xdg, 'resolver'))).toEqual([nameOf(keyOf(realBundle))]);

    const real = join(dir, 'var', 'cache', 'private', 'resolver');
    mkdirSync(real, { recursive: true, mode: 0o700 });
    symlinkSync('private/resolver', join(dir, 'var', 'cache', 'resolver'));
    expectRealRan(run(['--version'], { CACHE_DIRECTORY: join(dir, 'var', 'cache', 'resolver') }));
    expect(readdirSync(real)).toEqual([nameOf(keyOf(realBundle))]);
    expect(existsSync(userCache())).toBe(false);
  });

  it('keys by the V8 flags in effect: the daemon (--liftoff-only --optimize-for-size --no-opt) has its own file, as other node flags do', () => {
    run(['daemon']);
    expect(readdirSync(userCache())).toEqual([nameOf(keyOf(realBundle, { flags: '--liftoff-only --optimize-for-size --no-opt' }))]);
    expectRealRan(run());
    expect(readdirSync(userCache()).sort()).toEqual([nameOf(keyOf(realBundle)), nameOf(keyOf(realBundle, { flags: '--liftoff-only --optimize-for-size --no-opt' }))].sort());
    // A second daemon start reads its own cache, and the file stays the same.
    const before = readFileSync(join(userCache(), nameOf(keyOf(realBundle, { flags: '--liftoff-only --optimize-for-size --no-opt' }))));
    run(['daemon']);
    expect(readFileSync(join(userCache(), nameOf(keyOf(realBundle, { flags: '--liftoff-only --optimize-for-size --no-opt' })))).equals(before)).toBe(true);
    // The unit's node flag: its own file (keyed by process.execArgv).
    const r = spawnSync(process.execPath, ['--max-semi-space-size=2', join(dir, 'bin', 'resolver.cjs'), '--version'], { encoding: 'utf8', env: env(), timeout: 20_000 });
    expect(r.stdout).toBe('real --version\n');
    expect(readdirSync(userCache())).toHaveLength(3);
  });

  it('RESOLVER_CODE_CACHE=0 neither reads nor writes a cache', () => {
    plant(userCache(), nameOf(keyOf(realBundle)), cacheFile(keyOf(realBundle), evilData()));
    expectRealRan(run(['--version'], { RESOLVER_CODE_CACHE: '0' }));
    expect(readdirSync(userCache())).toHaveLength(1);
  });

  it.each([
    ['another architecture', { arch: process.arch === 'arm64' ? 'x64' : 'arm64' }],
    ['another Node version', { version: 'v20.0.0' }],
    ['other V8 flags (no --liftoff-only)', { flags: '' }],
    ['another bundle of the same length', { bundle: evilBundle }],
  ])('ignores a foreign cache made for %s, under its own name or ours', (_what, fields: KeyFields) => {
    const foreign = keyOf(realBundle, fields);
    const flags = fields.flags ?? '--liftoff-only';
    const data = compiledCache(evilBundle, flags);
    plant(userCache(), nameOf(foreign), cacheFile(foreign, data));
    plant(userCache(), nameOf(keyOf(realBundle)), cacheFile(foreign, data));
    expectRealRan(run());
    // Ours is replaced by a good one.
    expect(readFileSync(join(userCache(), nameOf(keyOf(realBundle)))).subarray(20, 52).equals(keyOf(realBundle))).toBe(true);
  });

  it.each([
    ['flipped data', (f: Buffer): Buffer => { const c = Buffer.from(f); c[c.length - 10] = (c[c.length - 10] ?? 0) ^ 0xff; return c; }],
    ['truncated', (f: Buffer): Buffer => f.subarray(0, f.length - 100)],
    ['only a header', (f: Buffer): Buffer => f.subarray(0, 84)],
    ['random bytes', (f: Buffer): Buffer => Buffer.from(Array.from({ length: f.length }, (_, i) => (i * 131 + 7) % 256))],
    ['raw V8 data without a header', (): Buffer => evilData()],
  ])('ignores a corrupt cache (%s) and replaces it', (_what, corrupt: (f: Buffer) => Buffer) => {
    const path = plant(userCache(), nameOf(keyOf(realBundle)), corrupt(cacheFile(keyOf(realBundle), evilData())));
    expectRealRan(run());
    const now = readFileSync(path);
    expect(now.subarray(20, 52).equals(keyOf(realBundle))).toBe(true);
    expect(now.subarray(52, 84).equals(sha256(now.subarray(84)))).toBe(true);
    expectRealRan(run());
  });

  it.each([
    ['group-writable', 0o620],
    ['writable by others', 0o602],
  ])('ignores a planted cache file that is %s', (_what, mode) => {
    plant(userCache(), nameOf(keyOf(realBundle)), cacheFile(keyOf(realBundle), evilData()), mode);
    expectRealRan(run());
  });

  it.each([
    ['group-writable', 0o770],
    ['writable by others', 0o707],
    ['world-writable and sticky', 0o1777],
  ])('ignores the cache folder when it is %s, and writes nothing there', (_what, mode) => {
    const planted = cacheFile(keyOf(realBundle), evilData());
    const path = plant(userCache(), nameOf(keyOf(realBundle)), planted);
    chmodSync(userCache(), mode);
    expectRealRan(run());
    expect(readdirSync(userCache())).toEqual([nameOf(keyOf(realBundle))]);
    expect(readFileSync(path).equals(planted)).toBe(true);
  });

  it('ignores a cache under a parent folder others can write (not sticky)', () => {
    plant(userCache(), nameOf(keyOf(realBundle)), cacheFile(keyOf(realBundle), evilData()));
    chmodSync(join(home, '.cache'), 0o777);
    expectRealRan(run());
  });

  it('ignores a cache file reached through a symlink', () => {
    const elsewhere = plant(join(dir, 'elsewhere'), 'evil.v8', cacheFile(keyOf(realBundle), evilData()));
    mkdirSync(userCache(), { recursive: true, mode: 0o700 });
    symlinkSync(elsewhere, join(userCache(), nameOf(keyOf(realBundle))));
    expectRealRan(run());
  });

  it.skipIf(!root)('ignores a cache file, folder or link owned by another user', () => {
    const path = plant(userCache(), nameOf(keyOf(realBundle)), cacheFile(keyOf(realBundle), evilData()));
    chownSync(path, nobody, nobody);
    expectRealRan(run());

    rmSync(userCache(), { recursive: true });
    plant(userCache(), nameOf(keyOf(realBundle)), cacheFile(keyOf(realBundle), evilData()));
    chownSync(userCache(), nobody, nobody);
    expectRealRan(run());

    // XDG_CACHE_HOME/resolver is a link made by another user to a folder of ours holding a planted cache.
    const xdg = join(dir, 'xdg');
    mkdirSync(xdg, { mode: 0o755 });
    chownSync(userCache(), 0, 0);
    symlinkSync(userCache(), join(xdg, 'resolver'));
    lchownSync(join(xdg, 'resolver'), nobody, nobody);
    expectRealRan(run(['--version'], { XDG_CACHE_HOME: xdg }));
  }, 60_000); // spawns node several times: no speed assumption on a loaded machine

  it.skipIf(!root)('as root, ignores a home cache folder that belongs to the invoking user (sudo with HOME kept)', () => {
    plant(userCache(), nameOf(keyOf(realBundle)), cacheFile(keyOf(realBundle), evilData()));
    chownSync(home, nobody, nobody);
    chownSync(join(home, '.cache'), nobody, nobody);
    expectRealRan(run());
  });
});

describe('launcher without its bundle', () => {
  it('says in one line what is missing and what to do (no stack trace), for --version too', () => {
    rmSync(join(dir, 'dist', 'resolver.bundle.cjs'));
    for (const args of [['status'], ['--version']]) {
      const r = run(args);
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(`resolver: cannot read the bundle ${join(dir, 'dist', 'resolver.bundle.cjs')} (ENOENT); in a source checkout run \`npm run build\`, else reinstall resolver\n`);
    }
  });
});

describe('launcher --version', () => {
  // The bundle's first line (scripts/bundle.mjs's banner) carries the version; its code writes the marker.
  const versioned = `// resolver-version: 9.8.7\n${padded("require('node:fs').writeFileSync(process.env.MARKER, 'bundle ran'); process.stdout.write('bundle ' + process.argv.slice(2).join(' ') + '\\n');", LENGTH)}`;

  it('answers --version or -V alone from the version line, without running the bundle', () => {
    writeFileSync(join(dir, 'dist', 'resolver.bundle.cjs'), versioned);
    for (const flag of ['--version', '-V']) {
      const r = run([flag]);
      expect(r).toEqual({ status: 0, stdout: '9.8.7\n', stderr: '' });
    }
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(userCache())).toBe(false);
  });

  it('hands anything more on the command line, or a bundle without the line, to the bundle', () => {
    writeFileSync(join(dir, 'dist', 'resolver.bundle.cjs'), versioned);
    expect(run(['--version', '--json']).stdout).toBe('bundle --version --json\n');
    expect(readFileSync(marker, 'utf8')).toBe('bundle ran');
    rmSync(marker);
    writeFileSync(join(dir, 'dist', 'resolver.bundle.cjs'), realBundle);
    expectRealRan(run(['--version']));
  });
});
