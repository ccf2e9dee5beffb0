import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { ResolverError } from '../errors.js';
import { classifyManifest, digestOf, verifyDigest } from './classify.js';
import { manifestAccept } from './media-types.js';

const runs = Number.parseInt(process.env['FC_RUNS'] ?? '10000', 10);
const d = (n: number): string => `sha256:${String(n).padStart(64, '0')}`;
const realIndex = Buffer.from(JSON.stringify({
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.index.v1+json',
  manifests: [
    { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d(1), size: 500, platform: { architecture: 'amd64', os: 'linux' } },
    { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d(2), size: 500, platform: { architecture: 'unknown', os: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } },
  ],
}, null, 2));

// A run count bounds each property, not the clock: on a loaded 2-core machine 10,000 runs can take longer than 5 s.
describe('manifest classification properties', { timeout: 120_000 }, () => {
  test.prop([fc.jsonValue(), fc.constantFrom(...manifestAccept, 'application/json', '', 'text/plain', 'application/x-foo')], { numRuns: runs })(
    'any JSON value: a classified document or a typed error, never a crash',
    (value, contentType) => {
      const body = Buffer.from((JSON.stringify(value) as string | undefined) ?? 'null');
      try {
        const c = classifyManifest(body, contentType, digestOf(body), 'doc');
        expect(['index', 'manifest']).toContain(c.kind);
      } catch (error) {
        expect(error).toBeInstanceOf(ResolverError);
      }
    },
  );

  test.prop([fc.uint8Array({ maxLength: 2000 })], { numRuns: runs })('arbitrary bytes: typed errors only', (bytes) => {
    try {
      classifyManifest(bytes, 'application/vnd.oci.image.index.v1+json', digestOf(bytes), 'doc');
    } catch (error) {
      expect(error).toBeInstanceOf(ResolverError);
    }
  });

  test.prop([fc.nat({ max: realIndex.byteLength - 1 }), fc.integer({ min: 1, max: 255 })], { numRuns: runs })('a single flipped byte in a served manifest is always rejected', (at, xor) => {
    const expected = digestOf(realIndex);
    const tampered = Buffer.from(realIndex);
    tampered[at] = (tampered[at] ?? 0) ^ xor;
    expect(() => verifyDigest(tampered, expected, 'index')).toThrow(expect.objectContaining({ code: 'ERR_DIGEST_MISMATCH' }));
  });

  test.prop([fc.nat({ max: realIndex.byteLength - 1 })], { numRuns: 2000 })('any truncation is rejected', (len) => {
    expect(() => verifyDigest(realIndex.subarray(0, len), digestOf(realIndex), 'index')).toThrow(ResolverError);
  });
});

describe('classifyManifest and a byte-order mark (§6 case 8)', () => {
  test('refuses a document that starts with a BOM, as Go json.Unmarshal (and so the engine) does', () => {
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), realIndex]);
    expect(() => classifyManifest(bom, 'application/vnd.oci.image.index.v1+json', digestOf(bom), 'index')).toThrow(/index is not valid UTF-8 JSON/);
    expect(classifyManifest(realIndex, 'application/vnd.oci.image.index.v1+json', digestOf(realIndex), 'index').kind).toBe('index');
  });
});
