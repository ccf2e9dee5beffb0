/** The probe against a fake Engine API answering with /version bodies recorded from real engines. */
import { mkdtemp } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { expectResolverError } from '../../test/fakes/expect-error.js';
import { createEngineProbe } from './engine-probe.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => { s.closeAllConnections(); s.close(r); })));
});

async function probe(version: unknown, info: unknown, raw = false): Promise<ReturnType<ReturnType<typeof createEngineProbe>['facts']>> {
  const dir = await mkdtemp(join(tmpdir(), 'probe-'));
  const socketPath = join(dir, 'engine.sock');
  const server = createServer((req, res) => res.end(((body: unknown) => (raw ? String(body) : JSON.stringify(body)))(req.url?.endsWith('/version') ? version : info)));
  servers.push(server);
  await new Promise<void>((r) => server.listen(socketPath, r));
  const p = createEngineProbe({ kind: 'unix', socketPath, display: `unix://${socketPath}` });
  try {
    return await p.facts();
  } finally {
    await p.close();
  }
}

// `podman system service` 4.3.1 (Debian 12), abridged to the fields read.
const podmanVersion = {
  Platform: { Name: 'linux/amd64/debian-12' },
  Components: [
    { Name: 'Podman Engine', Version: '4.3.1', Details: { APIVersion: '4.3.1', Arch: 'amd64', MinAPIVersion: '4.0.0', Os: 'linux' } },
    { Name: 'Conmon', Version: 'conmon version 2.1.6, commit: unknown', Details: { Package: 'conmon_2.1.6+ds1-1_amd64' } },
  ],
  Version: '4.3.1', ApiVersion: '1.41', MinAPIVersion: '1.24', Os: 'linux', Arch: 'amd64', KernelVersion: '6.1.0',
};
// dockerd 26.1.5 (Debian 13) with the containerd image store.
const dockerVersion = {
  Platform: { Name: '' },
  Components: [{ Name: 'Engine', Version: '26.1.5+dfsg1', Details: { ApiVersion: '1.45' } }, { Name: 'containerd', Version: '1.6.20~ds1' }],
  Version: '26.1.5+dfsg1', ApiVersion: '1.45', MinAPIVersion: '1.24', Os: 'linux', Arch: 'amd64',
};

describe('engine probe', () => {
  it('recognises Podman by its "Podman Engine" component', async () => {
    const f = await probe(podmanVersion, { Architecture: 'amd64', Driver: 'vfs', DriverStatus: null });
    expect(f).toMatchObject({ product: 'podman', version: '4.3.1', apiVersion: '1.41', store: 'classic' });
  });

  it('Docker stays Docker; the containerd store is read from DriverStatus', async () => {
    const f = await probe(dockerVersion, { Architecture: 'x86_64', Driver: 'native', DriverStatus: [['driver-type', 'io.containerd.snapshotter.v1']] });
    expect(f).toMatchObject({ product: 'docker', version: '26.1.5+dfsg1', store: 'containerd' });
    expect((await probe({ ...dockerVersion, Components: null }, {})).product).toBe('docker');
  });

  it.each([
    ['/version not JSON', 'Version: 26', '{}', 'sent invalid JSON for /version'],
    ['/version of another shape', '{"Version": 26, "Os": ["linux"]}', '{}', 'sent an unexpected /version answer'],
    ['/info not JSON', JSON.stringify(dockerVersion), '<html>', 'sent invalid JSON for /info'],
  ])('an engine that sends %s: ERR_ENGINE_UNAVAILABLE naming it', async (_what, version, info, message) => {
    const e = await expectResolverError(probe(version, info, true), 'ERR_ENGINE_UNAVAILABLE');
    expect(e.message).toMatch(new RegExp(`^the Docker Engine at unix://.* ${message}$`));
  });

  it('an /info of another shape is read as empty: the facts come from /version alone', async () => {
    expect(await probe(JSON.stringify(dockerVersion), '[1, 2]', true)).toMatchObject({ product: 'docker', version: '26.1.5+dfsg1', kernelArch: undefined, store: 'classic' });
  });
});
