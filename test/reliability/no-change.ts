/**
 * "No change" as reliability.md §6 defines it: the state folder byte-identical, the engine's tags unchanged
 * (read with the Engine API, not the code under test) and no temp files left.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { engineApi } from '../e2e/engine-api.js';

/** Every file below `dir` with its bytes (base64), by path relative to `dir`. */
export async function snapshotDir(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out[path.slice(dir.length + 1)] = (await readFile(path)).toString('base64');
  }
  return out;
}

/** Names in a snapshot that look like a durable writer's temp files (`*.tmp*`, `.tmp-*`). */
export function tempFiles(snapshot: Record<string, string>): string[] {
  return Object.keys(snapshot).filter((f) => /\.tmp|(^|\/)\.?tmp-/.test(f));
}

/** Each image of the engine as `ID TAG… DIGEST…`, sorted. */
export async function engineImages(dockerHost: string): Promise<string[]> {
  const api = engineApi(dockerHost);
  try {
    const list = (await api.get('/images/json')).json as { Id: string; RepoTags: string[] | null; RepoDigests: string[] | null }[];
    return list.map((i) => [i.Id, ...(i.RepoTags ?? []).sort(), ...(i.RepoDigests ?? []).sort()].join(' ')).sort();
  } finally {
    await api.close();
  }
}
