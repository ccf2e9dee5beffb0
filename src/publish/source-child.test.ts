import { describe, expect, it } from 'vitest';
import { mediaTypes } from '../manifest/media-types.js';
import type { Descriptor, ImageIndex } from '../manifest/schema.js';
import { platform } from '../platform/platform.js';
import { isAttestationEntry, pickSourceChild } from './source-child.js';

const d = (n: number): string => `sha256:${String(n).padStart(64, '0')}`;
const image = (n: number, p?: Descriptor['platform']): Descriptor => ({ mediaType: mediaTypes.ociManifest, digest: d(n), size: 100 + n, ...(p === undefined ? {} : { platform: p }) });
const attestation = (n: number, subject: number): Descriptor => ({
  mediaType: mediaTypes.ociManifest, digest: d(n), size: 50, platform: { architecture: 'unknown', os: 'unknown' },
  annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': d(subject) },
});
const index = (...manifests: Descriptor[]): ImageIndex => ({ schemaVersion: 2, mediaType: mediaTypes.ociIndex, manifests });

describe('pickSourceChild', () => {
  it("takes buildx's single-platform output: the image and only its own attestation", () => {
    const src = index(image(1, { architecture: 'arm64', os: 'linux' }), attestation(2, 1), attestation(3, 99));
    const got = pickSourceChild(src, undefined, 'e');
    expect(got.image.digest).toBe(d(1));
    expect(got.attestations.map((a) => a.digest)).toEqual([d(2)]);
  });

  it('needs platform: for a multi-platform source, then picks by normalised platform', () => {
    const src = index(image(1, { architecture: 'amd64', os: 'linux' }), image(2, { architecture: 'arm64', os: 'linux' }), attestation(3, 2), attestation(4, 1));
    expect(() => pickSourceChild(src, undefined, 'manifests[0] (x)')).toThrow(/manifests\[0\] \(x\) is a multi-platform index \(linux\/amd64, linux\/arm64\)/);
    const arm = pickSourceChild(src, platform('linux', 'arm64', 'v8'), 'e');
    expect(arm.image.digest).toBe(d(2));
    expect(arm.attestations.map((a) => a.digest)).toEqual([d(3)]);
    expect(() => pickSourceChild(src, platform('linux', 'arm', 'v7'), 'e')).toThrow(/without linux\/arm\/v7/);
  });

  it('a given platform does not filter a single-image source (the config check decides later)', () => {
    expect(pickSourceChild(index(image(1)), platform('linux', 'riscv64'), 'e').image.digest).toBe(d(1));
  });

  it('refuses nested indexes, empty indexes and duplicate platforms', () => {
    expect(() => pickSourceChild(index({ mediaType: mediaTypes.ociIndex, digest: d(1), size: 1 }), undefined, 'e')).toThrow(/index of indexes/);
    expect(() => pickSourceChild(index(attestation(2, 1)), undefined, 'e')).toThrow(/no image in it/);
    const twice = index(image(1, { architecture: 'amd64', os: 'linux' }), image(2, { architecture: 'amd64', os: 'linux' }));
    expect(() => pickSourceChild(twice, platform('linux', 'amd64'), 'e')).toThrow(/more than once/);
  });

  it('knows attestation entries by their annotation only', () => {
    expect(isAttestationEntry(attestation(1, 2))).toBe(true);
    expect(isAttestationEntry(image(1, { architecture: 'unknown', os: 'unknown' }))).toBe(false);
  });
});
