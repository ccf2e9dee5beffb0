import { spawn } from 'node:child_process';
import { lstat, mkdtemp, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireLock, queryDaemon, requestOf, type Lock } from './lock.js';

const answer = (value: unknown) => () => Promise.resolve(value);

describe('the daemon lock', () => {
  it('is one lock per folder however the path is spelled: trailing slash, symlink (issue 13.10)', async () => {
    const base = await mkdtemp(join(tmpdir(), 'lock-'));
    const dir = join(base, 'state');
    const first = await acquireLock(dir, answer({ pid: 1 }));
    try {
      await symlink(dir, join(base, 'link'));
      for (const spelling of [`${dir}/`, join(base, 'link'), join(base, 'state', '..', 'state')]) {
        await expect(acquireLock(spelling, answer({ pid: 2 }))).rejects.toMatchObject({ code: 'ERR_ALREADY_RUNNING' });
      }
    } finally {
      await first.close();
    }
    const again: Lock = await acquireLock(join(base, 'link'), answer({ pid: 3 }));
    expect(again.stateDir).toBe(dir);
    await again.close();
  });

  it('lives in the state folder (0700, socket 0600), answers queries, and replaces a socket left by kill -9', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lock-'));
    // A daemon killed with -9 leaves its socket file behind.
    const dead = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(join(dir, 'daemon.sock'))}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((r) => dead.stdout.once('data', () => r()));
    dead.kill('SIGKILL');
    await new Promise((r) => dead.on('close', r));
    expect((await lstat(join(dir, 'daemon.sock'))).isSocket()).toBe(true);
    expect(await queryDaemon(dir)).toEqual({ kind: 'none' });

    const lock = await acquireLock(dir, (r) => Promise.resolve({ pid: 42, op: r.op }));
    try {
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
      expect((await lstat(join(dir, 'daemon.sock'))).mode & 0o777).toBe(0o600);
      expect(await queryDaemon(dir)).toEqual({ kind: 'answer', value: { pid: 42, op: 'status' } });
      expect(await queryDaemon(dir, { op: 'check', dryRun: true })).toEqual({ kind: 'answer', value: { pid: 42, op: 'check' } });
    } finally {
      await lock.close();
    }
    await expect(lstat(join(dir, 'daemon.sock'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('passes last-check (image and platform) to the daemon; one without a platform is a bad request', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lock-'));
    const lock = await acquireLock(dir, (r) => Promise.resolve({ got: r }));
    try {
      expect(await queryDaemon(dir, { op: 'last-check', image: 'a/b:c', platform: 'linux/amd64' })).toEqual({ kind: 'answer', value: { got: { op: 'last-check', image: 'a/b:c', platform: 'linux/amd64' } } });
      expect(await queryDaemon(dir, { op: 'last-check', image: 'a/b:c', platform: '' })).toEqual({ kind: 'answer', value: { error: 'bad request' } });
    } finally {
      await lock.close();
    }
  });

  it('tightens a state folder of ours that others could enter, with a warning', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lock-'));
    const { chmod } = await import('node:fs/promises');
    await chmod(dir, 0o755);
    const warnings: string[] = [];
    const lock = await acquireLock(dir, answer({}), (w) => warnings.push(w));
    await lock.close();
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect(warnings).toEqual([expect.stringMatching(/open to other users \(mode 755\); set it to 0700/)]);
  });

  it('works for a state folder whose socket path is longer than sun_path allows', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'lock-')), 'x'.repeat(60), 'y'.repeat(60));
    const lock = await acquireLock(dir, answer({ pid: 7 }));
    try {
      expect(await queryDaemon(dir)).toEqual({ kind: 'answer', value: { pid: 7 } });
      await expect(acquireLock(dir, answer({}))).rejects.toMatchObject({ code: 'ERR_ALREADY_RUNNING' });
    } finally {
      await lock.close();
    }
  });
});

describe('a control request line (requestOf)', () => {
  it.each([
    ['{"op":"status"}', { op: 'status' }],
    ['{"op":"status","extra":1}', { op: 'status' }],
    ['{"op":"check","dryRun":false}', { op: 'check', dryRun: false }],
    ['{"op":"check","dryRun":true,"image":"a:1","platform":"linux/arm64"}', { op: 'check', dryRun: true, image: 'a:1', platform: 'linux/arm64' }],
    ['{"op":"check","dryRun":"yes","image":5,"platform":""}', { op: 'check', dryRun: false }],
    ['{"op":"check"}', { op: 'check', dryRun: false }],
    ['{"op":"last-check","image":"a:1","platform":"linux/amd64"}', { op: 'last-check', image: 'a:1', platform: 'linux/amd64' }],
  ])('%s is %j', (line, request) => {
    expect(requestOf(line)).toEqual(request);
  });

  it.each([
    ['not JSON', '{"op":"status"'],
    ['null', 'null'],
    ['an array', '[{"op":"status"}]'],
    ['an unknown op', '{"op":"reboot"}'],
    ['no op', '{"dryRun":true}'],
    ['last-check without a platform', '{"op":"last-check","image":"a:1"}'],
    ['last-check with an empty image', '{"op":"last-check","image":"","platform":"linux/amd64"}'],
  ])('%s is refused', (_what, line) => {
    expect(requestOf(line)).toBeUndefined();
  });
});
