/**
 * `resolver config check` as a user (and systemd's ExecStartPre=) sees it: every failure exits 78 with the
 * file, the line and the fix on stderr, never a stack trace or a hang (issues 9.3, 9.9, 13.5, 13.9, 13.13).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './cli.js';

const dir = mkdtempSync(join(tmpdir(), 'resolver-config-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function check(path: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = await cli(['config', 'check', path]);
  expect(r.stderr).not.toMatch(/\n\s+at |Error:/);
  return r;
}

describe('resolver config check', () => {
  it('reports every problem with its file and line, and exits 78', async () => {
    const path = file('bad.yaml', 'schedule: "*/61 * * * *"\nplatform: linux/armv7\nmetrics:\n  listen: 127.0.0.1:99999\nsplay: 600h\nimages:\n  - image: alpine\n  - image: docker.io/library/alpine:latest\n');
    const r = await check(path);
    expect(r.code).toBe(78);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n');
    expect(lines[0]).toBe(`resolver: invalid configuration ${path}`);
    expect(lines).toContain(`  ${path}:1: schedule: "*/61 * * * *" is not a valid cron expression (the step /61 in the minute field is out of range 1-59); use 5 or 6 fields, e.g. "*/15 * * * *"`);
    expect(r.stderr).toContain(`${path}:2: platform: unknown architecture "armv7" in "linux/armv7" (did you mean linux/arm/v7?); valid forms:`);
    expect(r.stderr).toContain(`${path}:4: metrics.listen: port 99999 is out of range 0-65535`);
    expect(r.stderr).toContain(`${path}:5: splay: "600h" is longer than Node's timers allow`);
  });

  it('names both lines of a duplicate entry', async () => {
    const r = await check(file('dup.yaml', 'images:\n  - image: alpine\n    platform: linux/arm/v7\n  - image: alpine\n  - image: alpine:latest\n    platform: linux/armhf\n'));
    expect(r.code).toBe(78);
    expect(r.stderr).toContain(':5: images[2]: duplicate entry: images[0] already keeps alpine:latest pulled for linux/arm/v7; remove one, or give them different platforms (images[0] is on line 2)');
  });

  it('refuses a per-second schedule against a remote registry unless allowed', async () => {
    const refused = await check(file('fast.yaml', 'schedule: "*/5 * * * * *"\nimages:\n  - image: registry.example.com/app:stable\n'));
    expect(refused.code).toBe(78);
    expect(refused.stderr).toContain(':1: schedule: "*/5 * * * * *" checks 12 times a minute and registry.example.com/app:stable (images[0]) is not on a loopback registry');
    const allowed = await check(file('fast-ok.yaml', 'allowSubMinuteSchedule: true\nschedule: "*/5 * * * * *"\nimages:\n  - image: registry.example.com/app:stable\n'));
    expect(allowed).toMatchObject({ code: 0, stderr: '' });
  });

  it('stops an alias bomb, a 600 MB file, a deep nest, a folder and a FIFO with exit 78', { timeout: 60_000 }, async () => {
    const bomb = file('bomb.yaml', ['a: &a ["x","x","x","x","x","x","x","x","x"]', 'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]', 'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]', 'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]', 'images:', '  - image: alpine', ''].join('\n'));
    expect(await check(bomb)).toMatchObject({ code: 78, stderr: expect.stringContaining(`resolver: ${bomb}:2: YAML aliases expand more than 100 times (an alias bomb?)`) as unknown });
    const big = file('big.yaml', 'images:\n  - image: alpine\n');
    truncateSync(big, 600 * 1024 * 1024);
    expect(await check(big)).toMatchObject({ code: 78, stderr: expect.stringContaining(`resolver: ${big} is 600.0 MiB; the limit is 4 MiB and 10000 images`) as unknown });
    rmSync(big);
    const deep = file('deep.yaml', `images: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`);
    expect(await check(deep)).toMatchObject({ code: 78 });
    const folder = join(dir, 'folder.yaml');
    mkdirSync(folder);
    expect(await check(folder)).toMatchObject({ code: 78, stderr: expect.stringContaining(`resolver: ${folder} is a folder, not a config file`) as unknown });
    const fifo = join(dir, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    expect(await check(fifo)).toMatchObject({ code: 78, stderr: expect.stringContaining(`resolver: ${fifo} is not a regular file`) as unknown });
    expect(await check(join(dir, 'missing.yaml'))).toMatchObject({ code: 78, stderr: expect.stringContaining('no such file') as unknown });
  });

  it('accepts the example file', async () => {
    const r = await check('config/resolver.example.yaml');
    expect(r).toMatchObject({ code: 0, stdout: 'config/resolver.example.yaml: valid (2 images)\n' });
  });
});
