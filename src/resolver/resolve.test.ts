import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseReference } from '../reference/reference.js';
import type { RegistryReader } from '../registry/registry.js';
import { targetFor } from '../../test/fakes/daemon-rig.js';
import { FakeEngine } from '../../test/fakes/fake-engine.js';
import { FakeRegistry } from '../../test/fakes/fake-registry.js';
import { resolveImage } from './resolve.js';

const manifestType = 'application/vnd.oci.image.manifest.v1+json';
const digestOf = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('resolveImage: the size of the chosen image (the pulled event, issue 11)', () => {
  it('a single-platform tag: config + layers from the manifest it read', async () => {
    const body = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: manifestType,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'1'.repeat(64)}`, size: 1234 },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${'2'.repeat(64)}`, size: 1_000_000 }, { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${'3'.repeat(64)}`, size: 56 }],
    }));
    const digest = digestOf(body);
    const reader: Pick<RegistryReader, 'resolveTag' | 'getManifest'> = {
      resolveTag: () => Promise.resolve({ digest, mediaType: manifestType, size: body.byteLength }),
      getManifest: () => Promise.resolve({ digest, contentType: manifestType, body }),
    };
    const r = await resolveImage(reader as RegistryReader, parseReference('localhost:5001/single:1'), await targetFor(new FakeEngine()));
    expect(r.chosen).toMatchObject({ digest, contentBytes: 1234 + 1_000_000 + 56 });
  });

  it("an index's child: unknown (its manifest is the engine's to fetch; one more GET would count against pull limits)", async () => {
    const registry = new FakeRegistry();
    registry.publish('localhost:5001/multi:1', [{ architecture: 'amd64', label: 'a' }]);
    const r = await resolveImage(registry.asClient(), parseReference('localhost:5001/multi:1'), await targetFor(new FakeEngine()));
    expect(r.chosen.contentBytes).toBeUndefined();
  });
});
