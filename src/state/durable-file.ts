/**
 * Atomic, durable file replacement (shared/spec/reliability.md §3.4): write a temp file in the same
 * folder (exclusive create, mode 0600), let `FileHandle.writeFile` loop over partial writes, check the
 * size, fsync, rename over the target, fsync the folder. On any error the temp file is removed and the
 * old file is untouched. Not write-file-atomic: it ignores short writes and truncates on a full disk.
 */
import { randomBytes } from 'node:crypto';
import { open, readdir, rename, unlink } from 'node:fs/promises';
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

/** Removes temp files a killed writer left next to `target`. Returns how many. */
export async function removeOrphans(target: string): Promise<number> {
  const prefix = `.${basename(target)}.`;
  let removed = 0;
  for (const name of await readdir(dirname(target)).catch(() => [] as string[])) {
    if (name.startsWith(prefix) && name.endsWith('.tmp')) {
      await unlink(join(dirname(target), name)).catch(() => undefined);
      removed++;
    }
  }
  return removed;
}
