/**
 * A real docker-registry (no auth) in `dir` behind a counting proxy at full speed: tests point the daemon at
 * `proxy.host` and count what reached the registry in `proxy.requests`.
 */
import { startSlowProxy, type SlowProxy } from '../harness/slow-proxy.js';
import { startRegistry, type RunningRegistry } from '../sandbox/registry-server.js';

export interface CountingRegistry {
  readonly registry: RunningRegistry;
  readonly proxy: SlowProxy;
  /** Stops the proxy, then the registry. */
  stop(): Promise<void>;
}

export async function startCountingRegistry(dir: string): Promise<CountingRegistry> {
  const registry = await startRegistry({ dir, auth: { kind: 'none' } });
  const proxy = await startSlowProxy(registry.host, Number.POSITIVE_INFINITY);
  return {
    registry, proxy,
    stop: async () => {
      await proxy.stop();
      await registry.stop();
    },
  };
}
