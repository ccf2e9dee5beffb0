/**
 * Sample multi-arch images: the seed article's `super-golang` (a runnable linux/amd64 child built
 * from busybox-static, plus arm64/v8, arm/v7 and arm/v6 children and an attestation), and a helper
 * to publish any set of children under one tag.
 */
import { readFile } from 'node:fs/promises';
import { buildAttestation, buildImage, buildIndex, platformObject, type Blob, type BuiltImage, type IndexEntry, type SamplePlatform, type TarEntry } from './oci-builder.js';
import type { Pusher } from './push.js';

/** One child of a sample index. */
export interface SampleChild {
  readonly platform: SamplePlatform;
  /** Files of the child's layer; default: a text file naming the platform. */
  readonly files?: readonly TarEntry[];
  readonly cmd?: readonly string[];
  /** Write no `platform` key (`'none'`) or `{}` (`'empty'`) in the index entry. */
  readonly indexPlatform?: 'none' | 'empty';
}

/** What was published. */
export interface PublishedIndex {
  readonly tag: string;
  readonly index: Blob;
  readonly children: readonly BuiltImage[];
  /** Digest of the attestation entries added. */
  readonly attestations: readonly string[];
}

function platformText(p: SamplePlatform): string {
  return [p.os, p.architecture, p.variant].filter((x) => x !== undefined && x !== '').join('/');
}

/** Builds and pushes children, then the index under `tag`. */
export async function publishIndex(pusher: Pusher, options: { tag: string; children: readonly SampleChild[]; format: 'oci' | 'docker'; attestations?: boolean; label?: string }): Promise<PublishedIndex> {
  const entries: IndexEntry[] = [];
  const children: BuiltImage[] = [];
  const attestations: string[] = [];
  for (const child of options.children) {
    const image = buildImage({
      platform: child.platform,
      files: child.files ?? [{ path: 'platform.txt', content: Buffer.from(`${platformText(child.platform)} ${options.label ?? options.tag}\n`) }],
      cmd: child.cmd ?? ['/bin/sh'],
      label: `${options.label ?? options.tag} ${platformText(child.platform)}`,
      format: options.format,
    });
    await pusher.image(image);
    children.push(image);
    entries.push({
      manifest: image.manifest,
      platform: child.indexPlatform === 'none' ? undefined : child.indexPlatform === 'empty' ? {} : platformObject(child.platform),
    });
  }
  if (options.attestations === true) {
    for (const image of [...children]) {
      const att = buildAttestation(image.manifest, 'oci');
      await pusher.image(att.image);
      entries.push(att.entry);
      attestations.push(att.image.manifest.digest);
    }
  }
  const index = buildIndex(entries, options.format);
  await pusher.manifest(index, options.tag);
  return { tag: options.tag, index, children, attestations };
}

/** The files of a runnable busybox-static root: /bin/busybox and the applets a demo needs. */
export async function busyboxRoot(busyboxPath = '/bin/busybox'): Promise<TarEntry[]> {
  const busybox = await readFile(busyboxPath);
  return [
    { path: 'bin', dir: true },
    { path: 'bin/busybox', content: busybox, mode: 0o755 },
    ...['sh', 'echo', 'uname', 'cat', 'sleep', 'env', 'true', 'false'].map((applet) => ({ path: `bin/${applet}`, link: '/bin/busybox' })),
  ];
}

/** The seed article's `super-golang`: amd64 runs here; the ARM children are built but not runnable here. */
export async function superGolangChildren(busyboxPath?: string): Promise<SampleChild[]> {
  const root = await busyboxRoot(busyboxPath);
  const say = (p: string): readonly string[] => ['/bin/sh', '-c', `echo "super-golang: the ${p} child, running on $(uname -m)"`];
  return [
    { platform: { os: 'linux', architecture: 'amd64' }, files: root, cmd: say('linux/amd64') },
    { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, cmd: say('linux/arm64/v8') },
    { platform: { os: 'linux', architecture: 'arm', variant: 'v7' }, cmd: say('linux/arm/v7') },
    { platform: { os: 'linux', architecture: 'arm', variant: 'v6' }, cmd: say('linux/arm/v6') },
  ];
}
