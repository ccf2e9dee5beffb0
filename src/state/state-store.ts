/**
 * The local record of what was pulled, per reference and platform: index digest, child digest, image
 * ID, time, registry. Shared by `pull`, `run` (offline fallback) and the daemon. One JSON file, written
 * with writeFileDurable only when its content changes; a corrupt file is moved aside, never discarded.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ResolverError } from '../errors.js';
import { parseJson } from '../json/parse-json.js';
import { removeOrphans, writeFileDurable } from './durable-file.js';

/** One pulled image. */
export const ImageRecord = z.object({
  reference: z.string(),
  platform: z.string(),
  registry: z.string(),
  indexDigest: z.string().nullable(),
  childDigest: z.string(),
  imageId: z.string(),
  pulledAt: z.string(),
  checkedAt: z.string(),
  /** Earlier children of this tag still kept for rollback, newest first. */
  previousChildren: z.array(z.string()).default([]),
  /**
   * Which hosts answered when the record was written (docs/mirrors.md): `resolve` the tag, `content` the child
   * (the host the engine pulled it from, else the one that served the manifests). An unchanged check writes nothing.
   */
  servedBy: z.object({ resolve: z.string().optional(), content: z.string().optional() }).optional(),
});
export type ImageRecord = z.infer<typeof ImageRecord>;

/** The file. */
export const StateFile = z.object({
  version: z.literal(1),
  images: z.record(z.string(), ImageRecord),
});
export type StateFile = z.infer<typeof StateFile>;

const empty: StateFile = { version: 1, images: {} };

/** Key of a record. */
export function recordKey(reference: string, platform: string): string {
  return `${reference} ${platform}`;
}

/** A state file that cannot be read, found by a read-only store (which leaves it where it is). */
export class UnreadableStateError extends Error {
  readonly path: string;
  constructor(path: string, what: string | undefined) {
    super(`the state file ${path} is unreadable${what === undefined ? '' : ` (${what}, not a regular file)`}`);
    this.name = 'UnreadableStateError';
    this.path = path;
  }
}

/** An update waiting for the write that holds it. */
interface Pending {
  /** A change, or a record to put (puts of one batch share one copy of the records). */
  readonly change: ((s: StateFile) => StateFile) | ImageRecord;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** Reads and updates the state file. Updates within a process are serialised. */
export class StateStore {
  readonly path: string;
  readonly #warn: (message: string) => void;
  /** Read-only (`status`): creates no folder, removes no temp file, moves nothing aside, writes nothing. */
  readonly #readOnly: boolean;
  #current: StateFile | undefined;
  /**
   * A SHA-256 of the file's text as last read or written (to skip a write that changes nothing), not the
   * text itself: at 1,000 tags that text is ~680 KB the daemon would hold for its whole life (bench/README.md).
   */
  #digest: string | undefined;
  #seen: string | undefined;
  #prepared = false;
  #chain: Promise<unknown> = Promise.resolve();
  /** Updates waiting for the next write (a group commit: update). */
  #pending: Pending[] = [];
  #writes = 0;

  constructor(dir: string, warn: (message: string) => void, options: { readonly readOnly?: boolean } = {}) {
    this.path = join(dir, 'state.json');
    this.#warn = warn;
    this.#readOnly = options.readOnly === true;
  }

  /**
   * Loads the file. The first load creates the folder and removes temp files that killed writers left;
   * later loads re-read only when the file changed on disk. A corrupt file is moved aside with a warning;
   * a read-only store throws UnreadableStateError instead and changes nothing.
   */
  async load(): Promise<StateFile> {
    if (!this.#prepared && !this.#readOnly) {
      await mkdir(join(this.path, '..'), { recursive: true, mode: 0o700 });
      await removeOrphans(this.path);
      this.#prepared = true;
    }
    const info = await lstat(this.path).catch(() => undefined);
    const seen = info === undefined ? 'missing' : `${info.mtimeMs}:${info.size}:${info.ino}:${info.isFile()}`;
    if (this.#current !== undefined && seen === this.#seen) return this.#current;
    const read = await readRegular(this.path);
    if (read.kind === 'missing') {
      this.#current = empty;
      this.#digest = undefined;
      this.#seen = seen;
      return empty;
    }
    const text = read.kind === 'text' ? read.text : '';
    const r = parseJson(StateFile, text);
    const parsed: StateFile | undefined = r.success ? r.data : undefined;
    if (parsed === undefined) {
      if (this.#readOnly) throw new UnreadableStateError(this.path, read.kind === 'irregular' ? read.what : undefined);
      const aside = `${this.path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      await rename(this.path, aside);
      this.#warn(`the state file ${this.path} was unreadable${read.kind === 'irregular' ? ` (${read.what}, not a regular file)` : ''}; moved aside to ${aside} and starting empty`);
      this.#current = empty;
      this.#digest = undefined;
      this.#seen = 'missing';
      return empty;
    }
    this.#current = { ...parsed, images: dictionary(parsed.images) };
    this.#digest = digestOf(text);
    this.#seen = seen;
    return this.#current;
  }

  /** The record for a reference and platform, if any. */
  async get(reference: string, platform: string): Promise<ImageRecord | undefined> {
    const s = this.#current ?? (await this.load());
    return s.images[recordKey(reference, platform)];
  }

  /**
   * Applies a change and writes the file if its content changed; resolves once the file holding the change is
   * durable. Updates are serialised, and the ones that arrive while a write is under way share the next write
   * (a group commit): a first cycle of 1,000 tags made 1,000 updates, each of which serialised and fsynced the
   * whole file (~680 KB at 1,000 tags), one after another. A change that throws rejects its own update only;
   * a failed write rejects every update it held, and the file and the store stay as they were.
   */
  update(change: (s: StateFile) => StateFile): Promise<void> {
    return this.#enqueue(change);
  }

  #enqueue(change: Pending['change']): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ change, resolve, reject });
      if (this.#pending.length > 1) return;
      const run = this.#chain.then(() => this.#commit());
      this.#chain = run.catch(() => undefined);
    });
  }

  /** Writes every pending update at once (see update). */
  async #commit(): Promise<void> {
    const batch = this.#pending.splice(0);
    try {
      if (this.#readOnly) throw new Error(`${this.path}: the store is read-only`);
      let next = await this.load();
      const applied: Pending[] = [];
      // The records copied for this batch: not seen outside the store before the write, so puts add to it.
      let own: Record<string, ImageRecord> | undefined;
      for (const p of batch) {
        try {
          if (typeof p.change === 'function') next = p.change(next);
          else {
            if (next.images !== own) {
              own = dictionary(next.images);
              next = { ...next, images: own };
            }
            own[recordKey(p.change.reference, p.change.platform)] = p.change;
          }
          applied.push(p);
        } catch (error) {
          p.reject(error);
        }
      }
      if (applied.length === 0) return;
      const text = `${JSON.stringify(next, null, 2)}\n`;
      const digest = digestOf(text);
      if (digest !== this.#digest) {
        await writeFileDurable(this.path, text);
        const info = await stat(this.path);
        this.#current = next;
        this.#digest = digest;
        this.#seen = `${info.mtimeMs}:${info.size}:${info.ino}:true`;
        this.#writes += 1;
      }
      for (const p of applied) p.resolve();
    } catch (error) {
      for (const p of batch) p.reject(error);
    }
  }

  /** How many times this store has written the file (tests; the group commit). */
  get writes(): number {
    return this.#writes;
  }

  /** Records a pulled image. */
  put(record: ImageRecord): Promise<void> {
    return this.#enqueue(record);
  }
}

/**
 * A copy of the records in an object without a prototype, which V8 keeps in dictionary mode. A
 * plain object built key by key (zod's parse, `{ ...images, [key]: record }`) stays in fast mode below ~1,020
 * keys and gets a hidden class per key added: at 1,000 tags the daemon held ~12,000 such classes and their
 * descriptor arrays (~1.6 MB of its heap, bench/README.md) for one record map.
 */
function dictionary(images: Readonly<Record<string, ImageRecord>>): Record<string, ImageRecord> {
  return Object.assign(Object.create(null) as Record<string, ImageRecord>, images);
}

const digestOf = (text: string): string => createHash('sha256').update(text).digest('base64');

/** What reading the state file found. */
type Read = { kind: 'missing' } | { kind: 'text'; text: string } | { kind: 'irregular'; what: string };

/**
 * Reads a file only if it is a regular one (issue 13.20): opened with O_NONBLOCK and O_NOFOLLOW, so a FIFO
 * in its place cannot block the daemon (or a SIGTERM) and a symlink is not followed; fstat then decides.
 */
async function readRegular(path: string): Promise<Read> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'missing' };
    if (code === 'ELOOP') return { kind: 'irregular', what: 'a symbolic link' };
    if (code === 'ENXIO' || code === 'EISDIR') return { kind: 'irregular', what: code === 'ENXIO' ? 'a socket' : 'a directory' };
    throw new ResolverError('ERR_USAGE', `cannot read the state file ${path}: ${code ?? String(error)}`);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) {
      const what = info.isDirectory() ? 'a directory' : info.isFIFO() ? 'a FIFO' : info.isSocket() ? 'a socket' : info.isCharacterDevice() || info.isBlockDevice() ? 'a device' : 'not a file';
      return { kind: 'irregular', what };
    }
    return { kind: 'text', text: await handle.readFile('utf8') };
  } finally {
    await handle.close();
  }
}

/** The default state folder: $RESOLVER_STATE_DIR, /var/lib/resolver for root, else $XDG_STATE_HOME/resolver. */
export function defaultStateDir(env: Readonly<Record<string, string | undefined>>, home: string, isRoot: boolean): string {
  if (env['RESOLVER_STATE_DIR'] !== undefined && env['RESOLVER_STATE_DIR'] !== '') return env['RESOLVER_STATE_DIR'];
  if (env['STATE_DIRECTORY'] !== undefined && env['STATE_DIRECTORY'] !== '') return env['STATE_DIRECTORY'].split(':')[0] ?? env['STATE_DIRECTORY'];
  if (isRoot) return '/var/lib/resolver';
  return join(env['XDG_STATE_HOME'] ?? join(home, '.local', 'state'), 'resolver');
}
