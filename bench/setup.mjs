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
