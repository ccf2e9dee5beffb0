/**
 * The reproduction of issue 9.10 (a) with the real launcher and bundle: a local user creates
 * `$TMPDIR/resolver-v8-0/` first and plants a code cache built from a modified bundle of the same length;
 * the next `resolver` command must not run it. Then: the real bundle's cache is private and reused.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './cli.js';

const bundle = resolve('dist/resolver.bundle.cjs');
const dir = mkdtempSync(join(tmpdir(), 'resolver-code-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('code cache of the real bundle', () => {
  it('a cache planted in $TMPDIR/resolver-v8-UID/ from a same-length modified bundle is never run', () => {
    const source = readFileSync(bundle, 'utf8').replace(/^#!.*/, '');
    const marker = join(dir, 'marker');
    const evil = `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran as uid=' + process.getuid());`;
    const modified = evil + source.slice(evil.length);
    expect(modified.length).toBe(source.length);
    const out = join(dir, 'planted.cache');
    writeFileSync(join(dir, 'modified.cjs'), modified);
    const build = spawnSync(process.execPath, ['-e', [
      "const v8 = require('node:v8'); const vm = require('node:vm'); const Module = require('node:module'); const fs = require('node:fs');",
      "v8.setFlagsFromString('--liftoff-only');",
      `const s = new vm.Script(Module.wrap(fs.readFileSync(${JSON.stringify(join(dir, 'modified.cjs'))}, 'utf8')), { filename: 'x' });`,
      `fs.writeFileSync(${JSON.stringify(out)}, s.createCachedData());`,
    ].join('\n')], { encoding: 'utf8', input: '', env: { PATH: process.env['PATH'] }, timeout: 60_000 });
    expect(build.stderr).toBe('');
    const tmp = join(dir, 'tmp');
    mkdirSync(tmp);
    chmodSync(tmp, 0o1777);
    const uid = process.getuid?.() ?? 0;
    const st = statSync(bundle);
    // What the old launcher looked for: $TMPDIR/resolver-v8-UID/NODE-SIZE-MTIME.cache.
    const planted = join(tmp, `resolver-v8-${uid}`);
    mkdirSync(planted, { mode: 0o777 });
    chmodSync(planted, 0o777);
    writeFileSync(join(planted, `${process.version}-${st.size}-${Math.floor(st.mtimeMs)}.cache`), readFileSync(out));
    const home = join(dir, 'home');
    mkdirSync(home, { mode: 0o700 });
    // `--help`, not `--version`: the launcher answers `--version` alone without the bundle (and its cache).
    const r = spawnSync(process.execPath, [resolve('bin/resolver.cjs'), '--help'], { encoding: 'utf8', env: { PATH: process.env['PATH'], HOME: home, TMPDIR: tmp }, timeout: 30_000 });
    expect(r.stdout).toContain('Usage: resolver');
    expect(r.status).toBe(0);
    expect(existsSync(marker)).toBe(false);
  });

  it('is written to a private ~/.cache/resolver and reused by the next command (not rewritten)', async () => {
    const home = join(dir, 'home2');
    mkdirSync(home, { mode: 0o700 });
    const first = await cli(['--help'], { HOME: home });
    expect(first.stdout).toContain('Usage: resolver');
    const folder = join(home, '.cache', 'resolver');
    const files = readdirSync(folder);
    expect(files).toHaveLength(1);
    expect(statSync(folder).mode & 0o777).toBe(0o700);
    const file = join(folder, files[0] ?? '');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const mtime = statSync(file).mtimeMs;
    const second = await cli(['--help'], { HOME: home });
    expect(second).toMatchObject({ code: 0, stderr: '' });
    expect(statSync(file).mtimeMs).toBe(mtime);
  });
});
