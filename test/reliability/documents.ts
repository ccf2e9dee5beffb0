/** Small, valid registry documents for the reliability tests' loopback registries (digests computed). */
import { createHash } from 'node:crypto';

export const mediaTypes = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
} as const;

/** `sha256:HEX` of `b`. */
export const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** An image config for `os/architecture`. */
export const configBlob = (architecture = 'amd64', os = 'linux'): Buffer => Buffer.from(JSON.stringify({ architecture, os, rootfs: { type: 'layers', diff_ids: [] } }));

/** An OCI image manifest with that config and no layers. */
export const imageManifest = (config: Buffer = configBlob()): Buffer => Buffer.from(JSON.stringify({
  schemaVersion: 2, mediaType: mediaTypes.manifest,
  config: { mediaType: mediaTypes.config, digest: sha(config), size: config.byteLength }, layers: [],
}));

/** An OCI index with one entry for linux/amd64 (`child` of `mediaType`). */
export const indexOf = (child: Buffer, mediaType: string = mediaTypes.manifest): Buffer => Buffer.from(JSON.stringify({
  schemaVersion: 2, mediaType: mediaTypes.index,
  manifests: [{ mediaType, digest: sha(child), size: child.byteLength, platform: { os: 'linux', architecture: 'amd64' } }],
}));
