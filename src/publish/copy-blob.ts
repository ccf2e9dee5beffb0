/**
 * Copies one blob between repositories that cannot share it by a mount (another registry, or a registry
 * that refused the mount): streamed to a temporary file while its sha256 and size are checked, then
 * uploaded from that file, so memory stays flat for layers of any size and a retried upload re-reads the
 * file instead of downloading again.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Descriptor } from '../manifest/schema.js';
import type { RegistryClient, Repository } from '../registry/client.js';

/** A folder for spooled blobs, made on first use and removed by `close`. */
export class BlobSpool {
  #dir: string | undefined;
  readonly #parent: string;

  constructor(parent: string = tmpdir()) {
    this.#parent = parent;
  }

  /** Copies `blob` from `from` to `to`. */
  async copy(registry: RegistryClient, from: Repository, to: Repository, blob: Pick<Descriptor, 'digest' | 'size'>, signal?: AbortSignal): Promise<void> {
    this.#dir ??= await mkdtemp(join(this.#parent, 'resolver-copy-'));
    const file = join(this.#dir, blob.digest.replace(':', '-'));
    let handle: FileHandle | undefined;
    try {
      await registry.downloadBlob(from, blob.digest, blob.size, async (chunk) => {
        await handle?.write(chunk);
      }, async () => {
        await handle?.close();
        handle = await open(file, 'w', 0o600);
      }, signal);
      await handle?.close();
      handle = undefined;
      await registry.pushBlob(to, blob.digest, { length: blob.size, open: () => createReadStream(file) }, signal);
    } finally {
      await handle?.close();
      await rm(file, { force: true });
    }
  }

  /** Removes the folder. */
  async close(): Promise<void> {
    if (this.#dir !== undefined) await rm(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
  }
}
