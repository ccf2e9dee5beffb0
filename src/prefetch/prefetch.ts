/**
 * The resolver-side prefetch (issue 12 §5, docs/prefetch.md): before the engine pulls a child, resolver fetches
 * the child's manifest, config and layers into a content store under the state folder, resuming each blob with
 * `Range` across failed and cancelled pulls and restarts, at a capped rate, verifying every digest; then it
 * serves them on a loopback registry the engine pulls from. Docker's classic store re-downloads a layer from
 * byte 0 after a failed or cancelled pull (measured in docs/prefetch.md); through the prefetch it fetches
 * each byte from the registry once.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ResolverError } from '../errors.js';
import { classifyManifest } from '../manifest/classify.js';
import { formatReference, type Reference } from '../reference/reference.js';
import { repositoryOf } from '../reference/repository.js';
import type { BlobRangeReader, RegistryReader } from '../registry/registry.js';
import { ContentStore } from './content-store.js';
import { fetchBlob, type BlobFetch } from './fetch-blob.js';
import { startLoopbackRegistry, type LoopbackRegistry } from './loopback-registry.js';
import { tokenBucket, unpaced, type Pace } from './pace.js';

/** A child whose blobs are in the content store and served on loopback. */
export interface StagedChild {
  /** `127.0.0.1:PORT/path`: the repository the engine pulls the child from. */
  readonly repository: string;
  /** What each blob cost this time (config first, then the layers). */
  readonly fetched: readonly BlobFetch[];
  /** Stops serving it; `pulled`: the engine holds the child now, so its blobs leave the store. */
  release(pulled: boolean): Promise<void>;
}

/** What the pull use case needs of the prefetch. */
export interface Prefetch {
  /** Fetches the child (by digest and size, from `ref`'s repository) and serves it; throws what the fetch met, keeping the partial blobs. */
  stage(ref: Reference, child: { readonly digest: string; readonly size: number }, signal?: AbortSignal, window?: PrefetchWindow): Promise<StagedChild>;
  /** Names a child pulled through the loopback registry is known by (the presence check and prune use them). */
  aliases(ref: Reference): Promise<readonly string[]>;
}

/** The rollout's `prefetchWindow` (local minutes of the day, `end` exclusive; may wrap midnight). */
export interface PrefetchWindow {
  readonly startMinute: number;
  readonly endMinute: number;
}

/** `prefetch` whose every stage stops at the end of `window` (undefined: the prefetch itself). */
export function windowed(prefetch: Prefetch | undefined, window: PrefetchWindow | undefined): Prefetch | undefined {
  if (prefetch === undefined || window === undefined) return prefetch;
  return { aliases: (ref) => prefetch.aliases(ref), stage: (ref, child, signal) => prefetch.stage(ref, child, signal, window) };
}

const day = 24 * 60;
const hhmm = (minute: number): string => `${String(Math.floor(minute / 60) % 24).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;

/** Ms from `now` to the end of `window` when `now` is inside it; undefined outside it (the gate let the pull start: no end to keep). */
export function msToWindowEnd(now: number, window: PrefetchWindow, utcOffsetMinutes: number): number | undefined {
  const m = (((Math.floor(now / 60_000) + utcOffsetMinutes) % day) + day) % day;
  const { startMinute: a, endMinute: b } = window;
  const inside = a <= b ? m >= a && m < b : m >= a || m < b;
  if (!inside || a === b) return undefined;
  return Math.floor(now / 60_000) * 60_000 + ((b - m + day) % day) * 60_000 - now;
}

export interface PrefetchDeps {
  readonly reader: RegistryReader & BlobRangeReader;
  /** The content store's folder (`STATE/prefetch`). */
  readonly dir: string;
  /** Bytes per second from the registry, all blobs together; undefined: no cap. */
  readonly rateBytesPerSecond?: number | undefined;
  /** The loopback registry's port; 0 or undefined: picked once and kept in `dir/port`, so the engine's RepoDigests stay valid. */
  readonly port?: number | undefined;
  /** Requests per blob per stage (default 3). */
  readonly attempts?: number | undefined;
  readonly now: () => number;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Wall-clock ms (the window is local time of day); default Date.now. `now` above may be monotonic. */
  readonly wallNow?: (() => number) | undefined;
  /** The local offset from UTC in minutes at `t`; default the process's time zone. */
  readonly utcOffsetMinutes?: ((t: number) => number) | undefined;
  /** Hears a stage stopped at the end of its window (the info line; the partial blobs are kept). */
  readonly onPaused?: ((message: string) => void) | undefined;
  /** Hears every staged child (for the log). */
  readonly onStaged?: ((what: string, fetched: readonly BlobFetch[]) => void) | undefined;
}

/** The prefetch over a content store in `deps.dir`. */
export function createPrefetch(deps: PrefetchDeps): Prefetch {
  const store = new ContentStore(deps.dir);
  const pace: Pace = deps.rateBytesPerSecond === undefined ? unpaced : tokenBucket(deps.rateBytesPerSecond, { now: deps.now, sleep: deps.sleep });
  const mediaTypes = new Map<string, string>();
  const inflight = new Map<string, Promise<BlobFetch>>();
  // Staged children per blob: a layer two children share leaves the store when the last of them is handed over.
  const holders = new Map<string, number>();
  const portFile = join(deps.dir, 'port');
  const blobsOf = new Map<string, readonly { readonly digest: string; readonly size: number }[]>();
  let server: Promise<LoopbackRegistry> | undefined;
  let users = 0;

  const keptPort = async (): Promise<number | undefined> => {
    if (deps.port !== undefined && deps.port > 0) return deps.port;
    const text = await readFile(portFile, 'utf8').catch(() => '');
    const n = Number.parseInt(text.trim(), 10);
    return Number.isInteger(n) && n > 0 && n < 65536 ? n : undefined;
  };

  const listen = async (): Promise<LoopbackRegistry> => {
    const want = await keptPort();
    let registry: LoopbackRegistry;
    try {
      registry = await startLoopbackRegistry(store, mediaTypes, want ?? 0);
    } catch (error) {
      // The kept port is taken: another one (the engine's references under the old name stay valid by digest).
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || (deps.port !== undefined && deps.port > 0)) throw error;
      registry = await startLoopbackRegistry(store, mediaTypes, 0);
    }
    if (registry.port !== want) {
      await mkdir(deps.dir, { recursive: true, mode: 0o700 });
      await writeFile(`${portFile}.tmp`, `${registry.port}\n`, { mode: 0o600 });
      await rename(`${portFile}.tmp`, portFile);
    }
    return registry;
  };

  return {
    async aliases(ref) {
      const port = await keptPort();
      return port === undefined ? [] : [`127.0.0.1:${port}/${repositoryOf(ref).path}`];
    },

    async stage(ref, child, outer, window) {
      const repo = repositoryOf(ref);
      const what = `${repo.host}/${repo.path}@${child.digest}`;
      // The window's end aborts the fetch (timed on the clock seam's sleep); what came stays in ingest/.
      const wallNow = deps.wallNow ?? Date.now;
      const started = wallNow();
      const offset = (deps.utcOffsetMinutes ?? ((t: number) => -new Date(t).getTimezoneOffset()))(started);
      const untilEnd = window === undefined ? undefined : msToWindowEnd(started, window, offset);
      const closing = new AbortController();
      const closed = new AbortController();
      const signal = untilEnd === undefined ? outer : outer === undefined ? closed.signal : AbortSignal.any([outer, closed.signal]);
      if (untilEnd !== undefined) {
        deps.sleep(untilEnd, closing.signal).then(() => closed.abort(new ResolverError('ERR_ABORTED', `the prefetch window of ${what} closed`)), () => undefined);
      }
      try {
        return await stageWithin(child, signal, repo, what);
      } catch (error) {
        if (!closed.signal.aborted || outer?.aborted === true || window === undefined) throw error;
        const image = formatReference(ref);
        const { kept, total } = await heldOf(child.digest);
        const message = `prefetch of ${image} paused at the end of its window ${hhmm(window.endMinute)}; ${kept} of ${total} bytes kept, resumes at ${hhmm(window.startMinute)}`;
        deps.onPaused?.(message);
        throw new ResolverError('ERR_ABORTED', message);
      } finally {
        closing.abort();
      }
    },
  };

  /** Bytes of the child's blobs in the store (complete or partial) and their total, from the manifest read this stage. */
  async function heldOf(digest: string): Promise<{ kept: number; total: number }> {
    const blobs = blobsOf.get(digest) ?? [];
    let kept = 0;
    for (const b of blobs) kept += (await store.complete(b.digest)) ?? Math.min(b.size, await store.partial(b.digest));
    return { kept, total: blobs.reduce((n, b) => n + b.size, 0) };
  }

  async function stageWithin(child: { readonly digest: string; readonly size: number }, signal: AbortSignal | undefined, repo: ReturnType<typeof repositoryOf>, what: string): Promise<StagedChild> {
    {
      const m = await deps.reader.getManifest(repo, child.digest, signal, child.size);
      const image = classifyManifest(m.body, m.contentType, child.digest, what);
      if (image.kind !== 'manifest') throw new ResolverError('ERR_MANIFEST_INVALID', `${what} is an index, not an image: nothing to prefetch`);
      const blobs = [image.manifest.config, ...image.manifest.layers].map((b) => ({ digest: b.digest, size: b.size }));
      blobsOf.set(child.digest, blobs);
      const fetched: BlobFetch[] = [];
      for (const blob of blobs) {
        // Two children fetched at once may share a layer: one fetch per blob, the other waits and finds it complete.
        for (let other = inflight.get(blob.digest); other !== undefined; other = inflight.get(blob.digest)) await other.catch(() => undefined);
        const one = fetchBlob(deps.reader, repo, blob, store, { pace, signal, attempts: deps.attempts, sleep: deps.sleep });
        inflight.set(blob.digest, one);
        try {
          fetched.push(await one);
        } finally {
          inflight.delete(blob.digest);
        }
      }
      await store.put(child.digest, m.body);
      mediaTypes.set(child.digest, image.mediaType);
      const held = [child.digest, ...blobs.map((b) => b.digest)];
      for (const d of held) holders.set(d, (holders.get(d) ?? 0) + 1);
      users++;
      let registry: LoopbackRegistry;
      try {
        server ??= listen();
        registry = await server;
      } catch (error) {
        users--;
        server = undefined;
        throw error;
      }
      deps.onStaged?.(what, fetched);
      let released = false;
      return {
        repository: `127.0.0.1:${registry.port}/${repo.path}`,
        fetched,
        async release(pulled) {
          if (released) return;
          released = true;
          users--;
          const free = held.filter((d) => {
            const n = (holders.get(d) ?? 1) - 1;
            if (n > 0) holders.set(d, n);
            else holders.delete(d);
            return n <= 0;
          });
          if (pulled) await store.remove(free);
          if (users === 0) {
            const s = server;
            server = undefined;
            await (await s)?.close();
          }
        },
      };
    }
  }
}
