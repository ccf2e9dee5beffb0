/**
 * The prefetch's content store under the state folder (docs/prefetch.md), laid out as containerd's:
 * `blobs/sha256/HEX` holds verified blobs, `ingest/HEX` the partial download of one, kept across failed and
 * cancelled pulls and daemon restarts so the next attempt resumes with `Range` from its size. A blob enters
 * `blobs/` only by `commit`, after its size and sha256 matched (a rename, so it is never seen half-written).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ResolverError } from '../errors.js';

const hexOf = (digest: string): string => {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (m?.[1] === undefined) throw new ResolverError('ERR_MANIFEST_INVALID', `${digest}: only sha256 digests can be prefetched`);
  return m[1];
};

const sizeOf = async (path: string): Promise<number | undefined> => {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
};

/** A folder of blobs by digest. */
export class ContentStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  blobPath(digest: string): string {
    return join(this.dir, 'blobs', 'sha256', hexOf(digest));
  }

  ingestPath(digest: string): string {
    return join(this.dir, 'ingest', hexOf(digest));
  }

  /** The size of the verified blob, undefined when it is not (yet) in the store. */
  complete(digest: string): Promise<number | undefined> {
    return sizeOf(this.blobPath(digest));
  }

  /** Bytes of a partial download kept for `digest` (0: none). */
  async partial(digest: string): Promise<number> {
    return (await sizeOf(this.ingestPath(digest))) ?? 0;
  }

  /** Opens the partial file for writing from `from` on (what lies beyond is cut off: 0 starts afresh). */
  async openIngest(digest: string, from: number): Promise<FileHandle> {
    await mkdir(join(this.dir, 'ingest'), { recursive: true, mode: 0o700 });
    const fh = await open(this.ingestPath(digest), 'a+', 0o600);
    try {
      await fh.truncate(from);
    } catch (error) {
      await fh.close();
      throw error;
    }
    return fh;
  }

  /**
   * Verifies the partial file against `digest` and `size` and moves it into `blobs/`. A mismatch removes it
   * (the next attempt starts from byte 0) and throws ERR_DIGEST_MISMATCH.
   */
  async commit(digest: string, size: number, what: string): Promise<void> {
    const path = this.ingestPath(digest);
    const hash = createHash('sha256');
    let total = 0;
    for await (const chunk of createReadStream(path)) {
      const b = chunk as Buffer;
      hash.update(b);
      total += b.byteLength;
    }
    const got = `sha256:${hash.digest('hex')}`;
    if (total !== size || got !== digest) {
      await rm(path, { force: true });
      throw new ResolverError('ERR_DIGEST_MISMATCH', `${what}: the registry served ${total} bytes hashing to ${got}; expected ${size} bytes`, {
        details: ['the partial download was removed; the next attempt fetches the blob from its start'],
      });
    }
    await mkdir(join(this.dir, 'blobs', 'sha256'), { recursive: true, mode: 0o700 });
    await rename(path, this.blobPath(digest));
  }

  /** Stores a small blob already verified in memory (a manifest). */
  async put(digest: string, bytes: Buffer): Promise<void> {
    const fh = await this.openIngest(digest, 0);
    try {
      await fh.write(bytes, 0, bytes.byteLength, 0);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await this.commit(digest, bytes.byteLength, digest);
  }

  /** Removes blobs (complete and partial). */
  async remove(digests: readonly string[]): Promise<void> {
    for (const d of digests) {
      await rm(this.blobPath(d), { force: true });
      await rm(this.ingestPath(d), { force: true });
    }
  }
}
