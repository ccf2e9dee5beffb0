/**
 * Disk preflight (issue 12 §4): before a pull, the bytes the child adds to the engine's data root (its new
 * layers, estimate.ts) are compared with the free space there (statfs of `DockerRootDir` from `/info`)
 * minus a watermark. Not enough room throws a DiskSpaceError naming the bytes and the path, and nothing is
 * pulled, so the engine's images and tags stay as they were; the daemon holds the entry (reconcile.ts).
 *
 * It reads the disk only where this process sees the engine's file system: an engine behind tcp:// is
 * remote and the preflight is skipped (verdict `skipped`, with the reason), as when the data root is not
 * visible here (resolver in a container without it mounted: set `preflight.path`). docs/preflight.md.
 */
import { statfs } from 'node:fs/promises';
import { DiskSpaceError } from '../errors.js';
import type { EngineFacts } from '../platform/engine-facts.js';
import { watermarkBytes, type PreflightSettings } from './config.js';
import { chainIds, copiesParents, estimateFootprint, type ChildLayers, type Footprint } from './estimate.js';

export type { ChildLayers, Footprint } from './estimate.js';

/** What the preflight asks of the engine: three of src/engine's ImageEngine (preflight/ is below engine/, so it names them itself). */
export interface EngineView {
  facts(signal?: AbortSignal): Promise<EngineFacts>;
  listImages(): Promise<readonly { readonly id: string }[]>;
  /** `layers`: the image's `RootFS.Layers` (diff IDs). */
  inspectImage(name: string): Promise<{ readonly layers?: readonly string[] | undefined } | undefined>;
}

/** Free and total bytes of a file system (for an unprivileged writer: `bavail`). */
export interface FileSystemSpace {
  readonly free: number;
  readonly total: number;
}

/** Reads the space of the file system holding `path`. */
export type SpaceProbe = (path: string) => Promise<FileSystemSpace>;

/** statfs(2) of `path`. */
export const statfsSpace: SpaceProbe = async (path) => {
  const s = await statfs(path);
  return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
};

/** What a preflight found. A pull that does not fit is a DiskSpaceError instead. */
export type PreflightVerdict =
  | { readonly kind: 'fits'; readonly path: string; readonly free: number; readonly minFree: number; readonly footprint: Footprint; readonly release: () => void }
  | { readonly kind: 'skipped'; readonly reason: string }
  | { readonly kind: 'off' };

/** Checks that a child fits before it is pulled. */
export interface DiskPreflight {
  readonly settings: PreflightSettings;
  /**
   * `what` names the pull in messages; `child` fetches the child's layers (called only when the disk can be
   * read). A `fits` verdict reserves its bytes against concurrent pulls until `release()`.
   */
  check(what: string, child: (signal?: AbortSignal) => Promise<ChildLayers>, engine: EngineView, signal?: AbortSignal): Promise<PreflightVerdict>;
}

const units = ['B', 'kB', 'MB', 'GB', 'TB'] as const;

/** Bytes as docker prints sizes (decimal units, 3 significant digits). */
export function humanBytes(n: number): string {
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? String(Math.round(v)) : v.toPrecision(3)} ${units[i] ?? 'B'}`;
}

function errnoOf(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : error instanceof Error ? error.message : String(error);
}

/** Builds the preflight for a composition root. */
export function createDiskPreflight(settings: PreflightSettings, options: { readonly space?: SpaceProbe } = {}): DiskPreflight {
  const space = options.space ?? statfsSpace;
  // Image ID → ChainIDs: an ID is a content digest, so its layers never change.
  const chainsById = new Map<string, readonly string[]>();
  let reserved = 0;

  async function presentChains(engine: EngineView): Promise<Set<string>> {
    const images = await engine.listImages();
    const live = new Set(images.map((i) => i.id));
    for (const id of chainsById.keys()) if (!live.has(id)) chainsById.delete(id);
    const present = new Set<string>();
    for (const { id } of images) {
      let chains = chainsById.get(id);
      if (chains === undefined) {
        const info = await engine.inspectImage(id);
        chains = chainIds(info?.layers ?? []);
        if (info !== undefined) chainsById.set(id, chains);
      }
      for (const c of chains) present.add(c);
    }
    return present;
  }

  return {
    settings,
    async check(what, child, engine, signal) {
      if (!settings.enabled) return { kind: 'off' };
      const facts = await engine.facts(signal);
      if (!facts.local && settings.path === undefined) {
        return { kind: 'skipped', reason: `the engine at ${facts.endpoint} is remote: its free disk space cannot be read from here` };
      }
      const path = settings.path ?? facts.dataRoot;
      if (path === undefined || path === '') return { kind: 'skipped', reason: `the engine at ${facts.endpoint} does not report its data root (DockerRootDir)` };
      let fs: FileSystemSpace;
      try {
        fs = await space(path);
      } catch (error) {
        return { kind: 'skipped', reason: `cannot read the free space of ${path} (${errnoOf(error)}); if resolver runs in a container, mount the engine's data root and set preflight.path` };
      }
      const [layers, present] = await Promise.all([child(signal), presentChains(engine)]);
      const footprint = estimateFootprint(layers, present, { expansion: settings.expansion, copiesParents: copiesParents(facts.driver) });
      const minFree = watermarkBytes(settings.minFree, fs.total);
      const free = fs.free - reserved;
      if (footprint.newLayers > 0 && free - footprint.needed < minFree) {
        const keep = settings.minFree.kind === 'percent' ? `${settings.minFree.value}% (${humanBytes(minFree)})` : humanBytes(minFree);
        throw new DiskSpaceError(
          `not enough disk space to pull ${what}: it needs about ${humanBytes(footprint.needed)} (${footprint.newLayers} new of ${footprint.totalLayers} layers, ${humanBytes(footprint.download)} to download) and ${keep} must stay free, but ${path} has ${humanBytes(free)} free`,
          { needed: footprint.needed, free, minFree, path },
          [
            'nothing was pulled; the current image is kept',
            'free space on the engine (docker image prune, docker system df), or lower preflight.minFree (RESOLVER_PREFLIGHT_MIN_FREE for pull and run)',
          ],
        );
      }
      reserved += footprint.needed;
      let released = false;
      return {
        kind: 'fits', path, free, minFree, footprint,
        release: () => {
          if (released) return;
          released = true;
          reserved -= footprint.needed;
        },
      };
    },
  };
}
