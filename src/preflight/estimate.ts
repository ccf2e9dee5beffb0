/**
 * How many bytes a pull adds to the engine's data root (issue 12 §4), from the child's manifest and config
 * and the layers the engine already has. Pure.
 *
 * A layer is present when its ChainID is: the classic store keys its layers by ChainID (moby
 * layer/layer.go), and containerd's snapshots are keyed by it too (its unpacker names a snapshot by the
 * chain). Both stores answer image inspect with `RootFS.Layers` (the diff IDs, measured on Docker 20.10
 * classic and 26.1.5 with the containerd snapshotter), so one comparison serves both. A diff ID alone is not
 * enough: the same layer on another parent is another layer on disk.
 *
 * The size of a new layer on disk is its compressed size times `expansion` (the manifest gives compressed
 * sizes only), plus the compressed bytes themselves: the containerd store keeps them in its content store,
 * and the classic store holds them in a temporary file until the layer is extracted. Drivers that copy the
 * parent for every layer (`vfs`, containerd's `native`) store each layer as the whole tree below it.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { parseJson } from '../json/parse-json.js';

/** The layers of a child, from its manifest (sizes, compressed) and its config (`rootfs.diff_ids`). */
export interface ChildLayers {
  readonly layers: readonly { readonly digest: string; readonly size: number }[];
  readonly configSize: number;
  readonly diffIds: readonly string[];
}

/** The estimate. */
export interface Footprint {
  /** Bytes the pull is expected to add to the data root. */
  readonly needed: number;
  /** Compressed bytes of the layers to fetch. */
  readonly download: number;
  readonly newLayers: number;
  readonly totalLayers: number;
}

/** ChainIDs of a stack of diff IDs, bottom first (OCI image-spec config.md: ChainID). */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  let chain: string | undefined;
  for (const diff of diffIds) {
    chain = chain === undefined ? diff : `sha256:${createHash('sha256').update(`${chain} ${diff}`).digest('hex')}`;
    out.push(chain);
  }
  return out;
}

/** The part of an image config the estimate reads. */
const ConfigRootfs = z.object({ rootfs: z.object({ diff_ids: z.array(z.string().regex(/^sha256:[0-9a-f]{64}$/)) }) });

/** `rootfs.diff_ids` of an image config; empty when the config has none (every layer then counts as new). */
export function parseDiffIds(config: Uint8Array): string[] {
  const doc = parseJson(ConfigRootfs, Buffer.from(config).toString('utf8'));
  return doc.success ? doc.data.rootfs.diff_ids : [];
}

/** Storage drivers and snapshotters that copy the parent's tree into every layer. */
export function copiesParents(driver: string | undefined): boolean {
  return driver === 'vfs' || driver === 'native';
}

/** Bytes the child adds, given the ChainIDs the engine has. */
export function estimateFootprint(child: ChildLayers, present: ReadonlySet<string>, options: { readonly expansion: number; readonly copiesParents: boolean }): Footprint {
  // Diff IDs that do not line up with the layers (a broken or foreign config) tell nothing: all is new.
  const chains = child.diffIds.length === child.layers.length ? chainIds(child.diffIds) : [];
  let needed = child.configSize;
  let download = 0;
  let below = 0;
  let newLayers = 0;
  for (const [i, layer] of child.layers.entries()) {
    const onDisk = layer.size * options.expansion;
    below += onDisk;
    const chain = chains[i];
    if (chain !== undefined && present.has(chain)) continue;
    newLayers++;
    download += layer.size;
    needed += layer.size + (options.copiesParents ? below : onDisk);
  }
  return { needed: Math.ceil(needed), download, newLayers, totalLayers: child.layers.length };
}
