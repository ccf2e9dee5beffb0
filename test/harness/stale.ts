/**
 * Cleans up after a test run that died without its teardown (Ctrl-C, a CI timeout, kill -9): every run
 * writes its own pid into `owner.pid` of its `resolver-it-*` folder; a later run kills the services left
 * in folders whose owner is gone (found by the folder in their command line), unmounts what dockerd left
 * mounted there, and removes the folder.
 */
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { unmountUnder } from '../sandbox/dockerd.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function processesUnder(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc').catch(() => [])) {
    if (!/^\d+$/.test(name)) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').some((arg) => arg === dir || arg.startsWith(`${dir}/`))) pids.push(Number(name));
  }
  return pids;
}

/** Marks `dir` as this run's. */
export async function claim(dir: string): Promise<void> {
  await writeFile(join(dir, 'owner.pid'), String(process.pid));
}

/** Removes the leftovers of dead runs under `parent`; returns the folders cleaned. */
export async function cleanStaleRuns(parent: string): Promise<string[]> {
  const cleaned: string[] = [];
  for (const name of await readdir(parent).catch(() => [])) {
    if (!name.startsWith('resolver-it-')) continue;
    const dir = join(parent, name);
    const owner = Number.parseInt(await readFile(join(dir, 'owner.pid'), 'utf8').catch(() => ''), 10);
    if (!Number.isInteger(owner) || alive(owner)) continue;
    const pids = await processesUnder(dir);
    for (const pid of pids) process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 50 && (await processesUnder(dir)).length > 0; i++) await sleep(100);
    for (const pid of await processesUnder(dir)) process.kill(pid, 'SIGKILL');
    await unmountUnder(dir);
    await rm(dir, { recursive: true, force: true });
    cleaned.push(dir);
  }
  return cleaned;
}
