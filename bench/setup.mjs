// Shared by the engine benchmarks: the built modules, and a private registry plus a private dockerd
// (Debian 12's, vfs) in a temporary folder, removed by `stop()`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const root = resolve(new URL('..', import.meta.url).pathname);
export const dist = (p) => join(root, 'dist', p);
/** The test sandbox (registry/dockerd launchers, image builder, pusher), built by scripts/build-sandbox.mjs. */
export const sandbox = (p) => join(root, '.tmp', 'sandbox', p);

/** Starts the services; `name` prefixes the temporary folder. */
export async function startBenchServices(name) {
  const { startRegistry } = await import(sandbox('registry-server.js'));
  const { startDockerd, unmountUnder } = await import(sandbox('dockerd.js'));
  const { createHttpClient } = await import(dist('http/http.js'));
  const tmp = mkdtempSync(join(tmpdir(), `resolver-${name}-`));
  const http = createHttpClient();
  const registry = await startRegistry({ dir: join(tmp, 'reg'), auth: { kind: 'none' } });
  const engine = await startDockerd({ binary: '/usr/sbin/dockerd', dir: join(tmp, 'engine') });
  return {
    tmp, http, registry, engine,
    async stop() {
      await http.close();
      await registry.stop();
      await engine.stop();
      await unmountUnder(tmp);
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/**
 * Pushes one OCI index of three tiny children (linux/amd64, linux/arm64/v8, linux/arm/v7) to the services'
 * registry as fleet/app, and returns `tag(from, to)`, which tags it t<from> … t<to - 1>.
 */
export async function fleetIndex({ http, registry }) {
  const { Pusher } = await import(sandbox('push.js'));
  const { buildImage, buildIndex, platformObject } = await import(sandbox('oci-builder.js'));
  const pusher = new Pusher({ http, host: registry.host, repository: 'fleet/app' });
  const children = [['amd64'], ['arm64', 'v8'], ['arm', 'v7']].map(([a, v]) => buildImage({ platform: { os: 'linux', architecture: a, ...(v ? { variant: v } : {}) }, files: [{ path: 'x', content: Buffer.from(a) }], format: 'oci' }));
  for (const c of children) await pusher.image(c);
  const index = buildIndex(children.map((c) => ({ manifest: c.manifest, platform: platformObject(c.platform) })), 'oci');
  return async (from, to) => {
    for (let i = from; i < to; i++) await pusher.manifest(index, `t${i}`);
  };
}
