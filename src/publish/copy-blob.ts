/**
 * Copies one blob between repositories that cannot share it by a mount (another registry, or a registry
 * that refused the mount). First as skopeo and crane do: the download piped straight into the upload, its
 * sha256 and size checked on the way, the upload finished only after they verified (and the target
 * registry checks the digest again). A one-shot pipe cannot be retried, so when it fails on the network or
 * with a 5xx or 429, the blob is copied again through a temporary file: downloaded with retries, then uploaded
 * with retries from the file. Memory stays flat for layers of any size either way.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ResolverError } from '../errors.js';
import { linkAbort } from '../limit/abort.js';
import type { Descriptor } from '../manifest/schema.js';
import type { Registry, Repository } from '../registry/registry.js';

type Blob = Pick<Descriptor, 'digest' | 'size'>;

/** How the last copy went (for tests and the summary). */
export type CopyPath = 'streamed' | 'spooled';

/** Copies blobs; spooled copies go to a folder made on first use and removed by `close`. */
export class BlobCopier {
  #dir: string | undefined;
  readonly #parent: string;
  readonly #registry: Registry;

  constructor(registry: Registry, parent: string = tmpdir()) {
    this.#registry = registry;
    this.#parent = parent;
  }

  /** Copies `blob` from `from` to `to`. */
  async copy(from: Repository, to: Repository, blob: Blob, signal?: AbortSignal): Promise<CopyPath> {
    try {
      await this.#stream(from, to, blob, signal);
      return 'streamed';
    } catch (error) {
      const retryable = error instanceof ResolverError && (error.code === 'ERR_NETWORK' || error.code === 'ERR_REGISTRY_HTTP' || error.code === 'ERR_RATE_LIMITED');
      if (!retryable || signal?.aborted === true) throw error;
    }
    await this.#spool(from, to, blob, signal);
    return 'spooled';
  }

  async #stream(from: Repository, to: Repository, blob: Blob, signal?: AbortSignal): Promise<void> {
    const pipe = new PassThrough();
    // Failures are reported through the two promises; an 'error' event with no listener would crash.
    pipe.on('error', () => undefined);
    const stop = new AbortController();
    const unlink = linkAbort(signal, stop);
    let opened = false;
    const upload = this.#registry.pushBlob(to, blob.digest, {
      length: blob.size,
      replayable: false,
      open: () => {
        if (opened) throw new ResolverError('ERR_NETWORK', 'a piped blob cannot be sent twice');
        opened = true;
        return pipe;
      },
    }, stop.signal).catch((error: unknown) => {
      pipe.destroy();
      stop.abort(error);
      throw error;
    });
    const download = this.#registry.downloadBlob(from, blob, {
      start: () => Promise.resolve(),
      write: (chunk) => {
        if (pipe.destroyed) return Promise.reject(new ResolverError('ERR_NETWORK', `the upload of ${blob.digest} stopped`));
        if (pipe.write(chunk)) return Promise.resolve();
        return new Promise((resolve, reject) => {
          const settle = (ok: boolean): void => {
            pipe.off('drain', drained);
            pipe.off('close', closed);
            if (ok) resolve();
            else reject(new ResolverError('ERR_NETWORK', `the upload of ${blob.digest} stopped`));
          };
          const drained = (): void => settle(true);
          const closed = (): void => settle(false);
          pipe.once('drain', drained);
          pipe.once('close', closed);
        });
      },
      end: () => {
        pipe.end();
        return Promise.resolve();
      },
    }, { signal: stop.signal, retry: false }).catch((error: unknown) => {
      pipe.destroy(error instanceof Error ? error : undefined);
      throw error;
    });
    try {
      const [up, down] = await Promise.allSettled([upload, download]);
      // A bad source blob is named by the download (the upload it cut short only saw the pipe close); a
      // download stopped because the upload failed is named by the upload.
      const badSource = down.status === 'rejected' && down.reason instanceof ResolverError && down.reason.code === 'ERR_DIGEST_MISMATCH';
      if (up.status === 'rejected' && !badSource) throw up.reason;
      if (down.status === 'rejected') throw down.reason;
    } finally {
      unlink();
    }
  }

  async #spool(from: Repository, to: Repository, blob: Blob, signal?: AbortSignal): Promise<void> {
    this.#dir ??= await mkdtemp(join(this.#parent, 'resolver-copy-'));
    const file = join(this.#dir, blob.digest.replace(':', '-'));
    let handle: FileHandle | undefined;
    try {
      await this.#registry.downloadBlob(from, blob, {
        start: async () => {
          await handle?.close();
          handle = await open(file, 'w', 0o600);
        },
        write: async (chunk) => {
          await handle?.write(chunk);
        },
        end: async () => {
          await handle?.close();
          handle = undefined;
        },
      }, { signal });
      await this.#registry.pushBlob(to, blob.digest, { length: blob.size, open: () => createReadStream(file) }, signal);
    } finally {
      await handle?.close();
      await rm(file, { force: true });
    }
  }

  /** Removes the spool folder. */
  async close(): Promise<void> {
    if (this.#dir !== undefined) await rm(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
  }
}
