/**
 * Fetches one blob into the content store, resuming from what an earlier attempt (this cycle's, a failed
 * pull's, a previous daemon's) left in `ingest/`: `Range: bytes=N-` from the partial file's size, at most
 * `pace` bytes per second, verified (size and sha256 of the whole file) before it is committed.
 */
import type { FileHandle } from 'node:fs/promises';
import { ResolverError } from '../errors.js';
import type { Repository } from '../reference/repository.js';
import type { BlobRangeReader } from '../registry/registry.js';
import type { ContentStore } from './content-store.js';
import type { Pace } from './pace.js';

/** Failures another attempt may get past (a dropped link, a registry that is briefly down). */
const transient = new Set(['ERR_NETWORK', 'ERR_REGISTRY_HTTP', 'ERR_RATE_LIMITED', 'ERR_MANIFEST_INVALID']);

/** What one blob cost. */
export interface BlobFetch {
  readonly digest: string;
  /** Bytes received from the registry in this call. */
  readonly received: number;
  /** The offset of every request made (0: from the start); empty when the blob was already complete. */
  readonly requests: readonly number[];
}

export interface FetchBlobOptions {
  readonly pace: Pace;
  readonly signal?: AbortSignal | undefined;
  /** Requests per call (default 3): a link that drops again and again fails the call, keeping what came. */
  readonly attempts?: number;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Makes `blob` complete and verified in `store`. */
export async function fetchBlob(reader: BlobRangeReader, repo: Repository, blob: { readonly digest: string; readonly size: number }, store: ContentStore, options: FetchBlobOptions): Promise<BlobFetch> {
  const what = `${repo.host}/${repo.path}@${blob.digest}`;
  const requests: number[] = [];
  let received = 0;
  if ((await store.complete(blob.digest)) === blob.size) return { digest: blob.digest, received, requests };
  const attempts = options.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    let offset = await store.partial(blob.digest);
    if (offset > blob.size) offset = 0;
    if (offset < blob.size) {
      requests.push(offset);
      let fh: FileHandle | undefined;
      try {
        await reader.downloadBlobRange(repo, blob, offset, {
          begin: async (from) => {
            fh = await store.openIngest(blob.digest, from);
          },
          write: async (chunk) => {
            await options.pace.take(chunk.byteLength, options.signal);
            await fh?.write(chunk);
            received += chunk.byteLength;
          },
        }, { signal: options.signal });
      } catch (error) {
        await fh?.close().catch(() => undefined);
        fh = undefined;
        const code = error instanceof ResolverError ? error.code : undefined;
        if (code === undefined || !transient.has(code) || attempt >= attempts || options.signal?.aborted === true) throw error;
        await options.sleep(Math.min(30_000, 1000 * 2 ** (attempt - 1)), options.signal);
        continue;
      }
      await fh?.close();
    }
    await store.commit(blob.digest, blob.size, what);
    return { digest: blob.digest, received, requests };
  }
}
