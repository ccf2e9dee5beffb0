/**
 * Bad input never gives a stack trace (issues 9.7, 13.12, 13.14): each case is run through the built CLI
 * and must end with a clear message naming the thing, the documented exit code, and no `    at …` line.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { cli } from './cli.js';

const s = inject('services');
let tmp = '';

beforeAll(async () => {
  tmp = await mkdtemp(join(s.tmp, 'cli-input-'));
  await writeFile(join(tmp, 'file'), 'not a folder');
  execFileSync('mkfifo', [join(tmp, 'fifo')]);
  await writeFile(join(tmp, 'big.yml'), `image: ${'a'.repeat(2_000_000)}\n`);
});

const noStack = /\n\s+at /;

describe('bad input is a clear error, never a stack trace', () => {
  it.each([
    ['daemon --log-level verbose', ['daemon', '--log-level', 'verbose', '--config', '/nonexistent.yaml'], 2, /(?:Allowed choices are|use one of) trace, debug, info, warn, error/],
    ['which --store overlay', ['which', '--store', 'overlay', 'alpine'], 2, /Allowed choices are containerd, classic/],
    ['platform --store overlay', ['platform', '--store', 'overlay'], 2, /Allowed choices are containerd, classic/],
    ['which --engine-version banana', ['which', '--engine-version', 'banana', 'alpine'], 2, /use a Docker Engine version MAJOR\.MINOR/],
    ['a reference port above 65535', ['which', 'localhost:99999/a:b'], 2, /registry host "localhost:99999" has port 99999, outside 1-65535/],
    ['a numeric host that is no IPv4 address', ['manifest', 'inspect', '300.1.1.1:5000/a:b'], 2, /registry host "300\.1\.1\.1:5000" is not a valid IPv4 address/],
    ['an invalid DOCKER_HOST', ['platform'], 2, /DOCKER_HOST=tcp:\/\/127\.0\.0\.1:99999: invalid bind address format/, { DOCKER_HOST: 'tcp://127.0.0.1:99999' }],
    ['an invalid -H', ['-H', 'http://127.0.0.1:2375', 'platform'], 2, /invalid bind address format: http:\/\/127\.0\.0\.1:2375/],
  ])('%s', async (_name, args, code, message, env: Record<string, string> = {}) => {
    const r = await cli(args, env);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(noStack);
    expect(r.stdout).toBe('');
  });

  it.each([
    ['a FIFO (it used to hang, even past SIGTERM)', 'fifo', /is not a regular file \(a FIFO, socket or device\)/],
    ['/dev/zero (it used to read 600 MB)', '/dev/zero', /is not a regular file/],
    ['a 2 MB file', 'big.yml', /has 2000\d+ bytes, more than the 1048576 a spec may have/],
  ])('manifest push --from-spec of %s: refused at once (exit 2)', async (_name, file, message) => {
    const started = performance.now();
    const r = await cli(['manifest', 'push', '--from-spec', file.startsWith('/') ? file : join(tmp, file)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(performance.now() - started).toBeLessThan(30_000);
  });

  it('a state folder whose parent is a file: draft commands say so (exit 2)', async () => {
    const r = await cli(['manifest', 'create', `${s.anonymous}/x:v1`, `${s.anonymous}/single:latest`], { RESOLVER_STATE_DIR: join(tmp, 'file', 'state') });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is not a folder/);
    expect(r.stderr).not.toMatch(noStack);
  });

  it.runIf(s.engine !== undefined)('a state folder whose parent is a file: pull names the path and the cause, no stack trace', async () => {
    const r = await cli(['pull', '-q', `${s.anonymous}/super-golang:latest`], { DOCKER_HOST: s.engine, RESOLVER_STATE_DIR: join(tmp, 'file', 'state') });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`resolver: ENOTDIR: not a directory, mkdir '${join(tmp, 'file', 'state')}'`);
    expect(r.stderr).toContain('a part of the path is a file, not a folder');
    expect(r.stderr).not.toMatch(noStack);
  });
});
