/**
 * Builds small but real OCI/Docker images in memory: gzip'd tar layers, image configs, manifests,
 * indexes. Used by the Quick start demo and the test harness to publish multi-arch sample images.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { mediaTypes } from '../../src/manifest/media-types.js';

/** A blob with its digest. */
export interface Blob {
  readonly digest: string;
  readonly bytes: Buffer;
  readonly mediaType: string;
}

/** A file in a layer. */
export interface TarEntry {
  readonly path: string;
  readonly content?: Buffer;
  readonly mode?: number;
  /** Symlink target. */
  readonly link?: string;
  readonly dir?: boolean;
}

function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

function header(entry: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(512, 0);
  const name = entry.dir === true && !entry.path.endsWith('/') ? `${entry.path}/` : entry.path;
  h.write(name, 0, 100, 'utf8');
  h.write(`${(entry.mode ?? (entry.dir === true ? 0o755 : 0o644)).toString(8).padStart(7, '0')}\0`, 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write(`${(0).toString(8).padStart(11, '0')}\0`, 136);
  h.write('        ', 148);
  h.write(entry.link !== undefined ? '2' : entry.dir === true ? '5' : '0', 156);
  if (entry.link !== undefined) h.write(entry.link, 157, 100, 'utf8');
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

/** A ustar archive of the entries. */
export function tar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const content = e.link !== undefined || e.dir === true ? Buffer.alloc(0) : (e.content ?? Buffer.alloc(0));
    parts.push(header(e, content.byteLength), content);
    const pad = (512 - (content.byteLength % 512)) % 512;
    if (pad > 0) parts.push(Buffer.alloc(pad, 0));
  }
  parts.push(Buffer.alloc(1024, 0));
  return Buffer.concat(parts);
}

/** The platform of a sample child. */
export interface SamplePlatform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
  readonly osVersion?: string;
  readonly osFeatures?: readonly string[];
}

/** A built image: its blobs and manifest. */
export interface BuiltImage {
  readonly config: Blob;
  readonly layers: readonly Blob[];
  readonly manifest: Blob;
  readonly platform: SamplePlatform;
}

/** Builds one image. `files` become its single layer; `cmd` its default command. */
export function buildImage(options: {
  platform: SamplePlatform;
  files: readonly TarEntry[];
  cmd?: readonly string[];
  env?: readonly string[];
  label?: string;
  /** More image config fields (Healthcheck, Entrypoint, ExposedPorts …), merged over the defaults. */
  config?: Readonly<Record<string, unknown>>;
  format: 'oci' | 'docker';
}): BuiltImage {
  const raw = tar(options.files);
  const gz = gzipSync(raw, { level: 1 });
  const layerType = options.format === 'oci' ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.docker.image.rootfs.diff.tar.gzip';
  const layer: Blob = { digest: sha256(gz), bytes: gz, mediaType: layerType };
  const p = options.platform;
  const configDoc = {
    architecture: p.architecture,
    os: p.os,
    ...(p.variant === undefined ? {} : { variant: p.variant }),
    ...(p.osVersion === undefined ? {} : { 'os.version': p.osVersion }),
    config: {
      Cmd: options.cmd ?? ['/bin/sh'],
      Env: options.env ?? ['PATH=/bin'],
      Labels: { 'org.opencontainers.image.title': options.label ?? 'resolver sample' },
      ...options.config,
    },
    rootfs: { type: 'layers', diff_ids: [sha256(raw)] },
    history: [{ created_by: 'resolver sandbox' }],
  };
  const configBytes = Buffer.from(JSON.stringify(configDoc));
  const configType = options.format === 'oci' ? 'application/vnd.oci.image.config.v1+json' : 'application/vnd.docker.container.image.v1+json';
  const config: Blob = { digest: sha256(configBytes), bytes: configBytes, mediaType: configType };
  const manifestType = options.format === 'oci' ? mediaTypes.ociManifest : mediaTypes.dockerManifest;
  const manifestDoc = {
    schemaVersion: 2,
    mediaType: manifestType,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.bytes.byteLength },
    layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.bytes.byteLength }],
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifestDoc, null, 2));
  return { config, layers: [layer], manifest: { digest: sha256(manifestBytes), bytes: manifestBytes, mediaType: manifestType }, platform: p };
}

/**
 * Builds an image of several layers, bottom first (each a list of files, gzip'd at `level`), so that two
 * images can share their lower layers (ChainIDs) as real base images do. `buildImage` is the one-layer case.
 */
export function buildLayeredImage(options: {
  platform: SamplePlatform;
  layers: readonly (readonly TarEntry[])[];
  label?: string;
  format: 'oci' | 'docker';
  level?: number;
}): BuiltImage {
  const layerType = options.format === 'oci' ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.docker.image.rootfs.diff.tar.gzip';
  const raws = options.layers.map((files) => tar(files));
  const layers: Blob[] = raws.map((raw) => {
    const gz = gzipSync(raw, { level: options.level ?? 1 });
    return { digest: sha256(gz), bytes: gz, mediaType: layerType };
  });
  const p = options.platform;
  const configDoc = {
    architecture: p.architecture,
    os: p.os,
    ...(p.variant === undefined ? {} : { variant: p.variant }),
    config: { Cmd: ['/bin/sh'], Env: ['PATH=/bin'], Labels: { 'org.opencontainers.image.title': options.label ?? 'resolver sample' } },
    rootfs: { type: 'layers', diff_ids: raws.map((raw) => sha256(raw)) },
    history: raws.map(() => ({ created_by: 'resolver sandbox' })),
  };
  const configBytes = Buffer.from(JSON.stringify(configDoc));
  const configType = options.format === 'oci' ? 'application/vnd.oci.image.config.v1+json' : 'application/vnd.docker.container.image.v1+json';
  const config: Blob = { digest: sha256(configBytes), bytes: configBytes, mediaType: configType };
  const manifestType = options.format === 'oci' ? mediaTypes.ociManifest : mediaTypes.dockerManifest;
  const manifestDoc = {
    schemaVersion: 2,
    mediaType: manifestType,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.bytes.byteLength },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.bytes.byteLength })),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifestDoc, null, 2));
  return { config, layers, manifest: { digest: sha256(manifestBytes), bytes: manifestBytes, mediaType: manifestType }, platform: p };
}

/** An index entry: an image, a nested index, or an arbitrary descriptor (attestations, odd platforms). */
export interface IndexEntry {
  readonly manifest: Blob;
  /** `undefined` leaves the platform key out; `{}` writes an empty object. */
  readonly platform: Record<string, unknown> | undefined;
  readonly annotations?: Record<string, string>;
}

/** Builds an index (OCI) or manifest list (Docker) document. */
export function buildIndex(entries: readonly IndexEntry[], format: 'oci' | 'docker'): Blob {
  const mediaType = format === 'oci' ? mediaTypes.ociIndex : mediaTypes.dockerList;
  const doc = {
    schemaVersion: 2,
    mediaType,
    manifests: entries.map((e) => ({
      mediaType: e.manifest.mediaType,
      digest: e.manifest.digest,
      size: e.manifest.bytes.byteLength,
      ...(e.platform === undefined ? {} : { platform: e.platform }),
      ...(e.annotations === undefined ? {} : { annotations: e.annotations }),
    })),
  };
  const bytes = Buffer.from(JSON.stringify(doc, null, 2));
  return { digest: sha256(bytes), bytes, mediaType };
}

/** The index `platform` object of a sample platform. */
export function platformObject(p: SamplePlatform): Record<string, unknown> {
  return {
    architecture: p.architecture,
    os: p.os,
    ...(p.variant === undefined ? {} : { variant: p.variant }),
    ...(p.osVersion === undefined ? {} : { 'os.version': p.osVersion }),
    ...(p.osFeatures === undefined ? {} : { 'os.features': p.osFeatures }),
  };
}

/** A BuildKit-style attestation manifest for `subject`. */
export function buildAttestation(subject: Blob, format: 'oci' | 'docker'): { image: BuiltImage; entry: IndexEntry } {
  const image = buildImage({
    platform: { os: 'unknown', architecture: 'unknown' },
    files: [{ path: 'provenance.json', content: Buffer.from(JSON.stringify({ subject: subject.digest })) }],
    format,
  });
  return {
    image,
    entry: {
      manifest: image.manifest,
      platform: { architecture: 'unknown', os: 'unknown' },
      annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': subject.digest },
    },
  };
}
