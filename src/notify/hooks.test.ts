import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../log/logger.js';
import { NotificationsSchema } from './config.js';
import { derive } from './derive.js';
import { HookRunner, hookEnvironment, hookOutputLimit, runHook } from './hooks.js';

const entry = { key: 'k', image: 'reg.test/app:1', platform: 'linux/arm/v7' };
const d = (c: string): string => `sha256:${c.repeat(64)}`;
const [pulled] = derive({}, { type: 'pulled', entry, indexDigest: d('9'), childDigest: d('b'), previous: d('a'), size: 77, at: '2026-12-01T00:00:00.000Z' }, { failedAfter: 3 }).notifications;
if (pulled === undefined) throw new Error('no notification');

let dir: string;
beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'resolver-hooks-'))));
afterEach(() => rm(dir, { recursive: true, force: true }));

/** True while `pid` runs (a zombie waiting for its reaper has ended). */
async function running(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat !== '' && !/^\d+ \(.*\) Z/.test(stat);
}

describe('hooks', () => {
  it('gives the event in RESOLVER_* variables', async () => {
    const r = await runHook(['/bin/sh', '-c', 'env | grep ^RESOLVER_ | sort'], { PATH: '/usr/bin:/bin', ...hookEnvironment(pulled, 'pi4') }, 5000);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      `RESOLVER_AT=2026-12-01T00:00:00.000Z`, `RESOLVER_CHILD_DIGEST=${d('b')}`, 'RESOLVER_EVENT=pulled', `RESOLVER_EVENT_ID=${pulled.id}`, 'RESOLVER_HOST=pi4',
      'RESOLVER_IMAGE=reg.test/app:1', `RESOLVER_INDEX_DIGEST=${d('9')}`, `RESOLVER_NEW_DIGEST=${d('b')}`, `RESOLVER_OLD_DIGEST=${d('a')}`, 'RESOLVER_PLATFORM=linux/arm/v7', 'RESOLVER_SIZE=77', 'RESOLVER_STATUS=ok',
    ]);
  });

  it('kills the whole process group at the timeout (a child the hook started too)', async () => {
    const pidFile = join(dir, 'grandchild');
    const started = performance.now();
    const r = await runHook(['/bin/sh', '-c', `sleep 60 & echo $! > ${pidFile}; wait`], { PATH: '/usr/bin:/bin' }, 300, 200);
    expect(r.timedOut).toBe(true);
    expect(performance.now() - started).toBeLessThan(5000);
    const grandchild = Number((await readFile(pidFile, 'utf8')).trim());
    // The kill is sent as the hook ends; the kernel takes it within moments (bounded wait).
    const end = Date.now() + 3000;
    while ((await running(grandchild)) && Date.now() < end) await new Promise((res) => setTimeout(res, 20));
    expect(await running(grandchild)).toBe(false);
  });

  it('keeps at most 4 KiB of output, and reports a command that cannot start', async () => {
    const r = await runHook(['/bin/sh', '-c', 'head -c 100000 /dev/zero | tr "\\0" x; exit 3'], { PATH: '/usr/bin:/bin' }, 5000);
    expect(r.exitCode).toBe(3);
    expect(r.stdout.length).toBe(hookOutputLimit + '…[truncated]'.length);
    const missing = await runHook([join(dir, 'nope')], {}, 5000);
    expect(missing.error).toContain('ENOENT');
  });

  it('runs the hooks of the event and image, logs exit code and output, and a failing hook stops nothing', async () => {
    const logs: string[] = [];
    const runner = new HookRunner({ logger: createLogger({ level: 'info', human: false, write: (t) => void logs.push(t) }), host: 'h', env: { PATH: '/usr/bin:/bin' }, redact: (t) => t.replace('s3cret', '[REDACTED]') });
    const config = NotificationsSchema.parse({
      hooks: [
        { name: 'fails', command: ['/bin/sh', '-c', 'echo oops s3cret >&2; exit 7'] },
        { name: 'other-image', command: ['/bin/sh', '-c', `touch ${join(dir, 'wrong')}`], image: 'reg.test/other' },
        { name: 'this-image', command: ['/bin/sh', '-c', `echo $RESOLVER_NEW_DIGEST > ${join(dir, 'ran')}`], image: 'reg.test/app:1', events: ['pulled', 'held'] },
        { name: 'held-only', command: ['/bin/sh', '-c', `touch ${join(dir, 'held')}`], events: ['held'] },
      ],
    });
    runner.configure(config.hooks);
    runner.push(pulled);
    await runner.close(10_000);
    expect((await readFile(join(dir, 'ran'), 'utf8')).trim()).toBe(d('b'));
    await expect(readFile(join(dir, 'wrong'))).rejects.toThrow('ENOENT');
    await expect(readFile(join(dir, 'held'))).rejects.toThrow('ENOENT');
    const lines = logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l['hook'] === 'fails')).toMatchObject({ msg: 'hook failed', exitCode: 7, stderr: 'oops [REDACTED]\n', event: 'pulled' });
    expect(lines.find((l) => l['hook'] === 'this-image')).toMatchObject({ msg: 'hook ran', exitCode: 0 });
  });
});
