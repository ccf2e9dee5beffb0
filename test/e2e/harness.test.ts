/** The harness cleans up after a run that died without its teardown. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { claim, cleanStaleRuns } from '../harness/stale.js';

describe('cleanStaleRuns', () => {
  it("kills a dead run's services, removes its folder, and leaves a live run's alone", async () => {
    const parent = await mkdtemp(join(tmpdir(), 'stale-test-'));
    const dead = join(parent, 'resolver-it-dead');
    const live = join(parent, 'resolver-it-live');
    await mkdir(dead);
    await mkdir(live);
    const gone = spawnSync('true').pid;
    await writeFile(join(dead, 'owner.pid'), String(gone));
    await claim(live);
    const service = spawn('sh', ['-c', 'sleep 60', join(dead, 'reg/config.yml')], { stdio: 'ignore' });
    const exited = new Promise<string | null>((resolve) => service.on('exit', (_code, signal) => resolve(signal)));
    expect(await cleanStaleRuns(parent)).toEqual([dead]);
    expect(await exited).toBe('SIGTERM');
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(join(live, 'owner.pid'))).toBe(true);
  });
});
