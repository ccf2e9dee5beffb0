/**
 * Atomic, durable file replacement (shared/spec/reliability.md §3.4): write a temp file in the same
 * folder (exclusive create, mode 0600), let `FileHandle.writeFile` loop over partial writes, check the
 * size, fsync, rename over the target, fsync the folder. On any error the temp file is removed and the
 * old file is untouched. Not write-file-atomic: it ignores short writes and truncates on a full disk.
 */
import { randomBytes } from 'node:crypto';
import { lstat, open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

function tempName(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Replaces `target` with `data` atomically and durably. */
export async function writeFileDurable(target: string, data: string | Uint8Array): Promise<void> {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const tmp = tempName(target);
  const handle = await open(tmp, 'wx', 0o600);
  try {
    try {
      await handle.writeFile(bytes);
      const { size } = await handle.stat();
      if (size !== bytes.byteLength) throw Object.assign(new Error(`short write to ${tmp}: ${size} of ${bytes.byteLength} bytes`), { code: 'EIO' });
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, target);
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
  const dir = await open(dirname(target), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** A temp file of a live pid older than this is removed all the same (its pid was reused). */
export const orphanMaxAgeMs = 3_600_000;

/** Whether the process `pid` exists in this pid namespace (EPERM: it does, as another user). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temp files a killed writer left next to `target`; returns how many. A temp file is an orphan when
 * the pid in its name is gone, or when it is older than an hour. Not every one: the state folder is shared
 * (the daemon, and `run`/`pull` of the same folder), and a live process's file may be its write between
 * create and rename, which removing would fail. (A writer in another pid namespace, a daemon in a container
 * sharing the folder with the host's CLI, looks gone here: docs/daemon.md.)
 */
export async function removeOrphans(target: string, now = Date.now()): Promise<number> {
  const prefix = `.${basename(target)}.`;
  let removed = 0;
  for (const name of await readdir(dirname(target)).catch(() => [] as string[])) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const path = join(dirname(target), name);
    const info = await lstat(path).catch(() => undefined);
    if (info === undefined) continue;
    const age = now - info.mtimeMs;
    const pid = Number(/^(\d+)\./.exec(name.slice(prefix.length))?.[1]);
    const gone = Number.isSafeInteger(pid) && pid > 0 && !processExists(pid);
    if (gone || age > orphanMaxAgeMs) {
      await unlink(path).catch(() => undefined);
      removed++;
    }
  }
  return removed;
}
