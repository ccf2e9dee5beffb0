/**
 * A light read-only view of the Docker Engine (`GET /version`, `GET /info`) over the one HTTP stack,
 * so that `resolver which` never loads dockerode. Its connection (engine-connection.ts) is the engine client's.
 */
import { z } from 'zod';
import { ResolverError } from '../errors.js';
import { parseJson } from '../json/parse-json.js';
import { PromiseMemo } from '../memo/promise-memo.js';
import type { EngineFacts } from '../platform/engine-facts.js';
import type { EngineEndpoint } from './docker-host.js';
import { engineConnection, type EngineConnection } from './engine-connection.js';

const VersionResponse = z.object({
  Version: z.string(),
  ApiVersion: z.string(),
  MinAPIVersion: z.string().optional(),
  Os: z.string(),
  Arch: z.string(),
  KernelVersion: z.string().optional(),
  Components: z.array(z.looseObject({ Name: z.string(), Version: z.string().optional() })).nullable().optional(),
});

const InfoResponse = z.object({
  OSType: z.string().optional(),
  Architecture: z.string().optional(),
  KernelVersion: z.string().optional(),
  OSVersion: z.string().optional(),
  OperatingSystem: z.string().optional(),
  Driver: z.string().optional(),
  DockerRootDir: z.string().optional(),
  DriverStatus: z.array(z.array(z.string())).nullable().optional(),
});

/** Reads the engine's /version and /info. */
export interface EngineProbe {
  facts(signal?: AbortSignal): Promise<EngineFacts>;
  /** The HTTP connection the probe uses, for the engine client to share (built on first use). */
  connection(): EngineConnection;
  close(): Promise<void>;
}

/** Builds a probe for an endpoint. Call only from a composition root. */
export function createEngineProbe(endpoint: EngineEndpoint): EngineProbe {
  let connection: EngineConnection | undefined;
  const client = (): EngineConnection => (connection ??= engineConnection(endpoint));

  /** The engine's JSON answer to `GET path`: its data, or undefined when it has another shape. */
  const get = async <S extends z.ZodType>(path: string, schema: S, signal?: AbortSignal): Promise<z.output<S> | undefined> => {
    const { http: h, base, insecureTls } = client();
    let res;
    try {
      res = await h.send({ method: 'GET', url: new URL(path, base), signal, deadlineMs: 10_000, maxBytes: 1 << 20, followRedirects: false, insecureTls });
    } catch (error) {
      const code = error instanceof ResolverError ? error.code : 'unknown';
      const why = error instanceof Error ? error.message : String(error);
      throw new ResolverError('ERR_ENGINE_UNAVAILABLE', `cannot reach the Docker Engine at ${endpoint.display}${endpoint.context === undefined || endpoint.context === 'default' ? '' : ` from ${endpoint.source ?? ''}`}: ${why}`, {
        cause: error,
        details: [
          code === 'ERR_NETWORK' && endpoint.kind === 'unix'
            ? `is dockerd running, and may this user open the socket (docker group)? (endpoint from ${endpoint.source ?? 'DOCKER_HOST'}; --host, DOCKER_HOST or --context choose another engine)`
            : `check that the engine is running (endpoint from ${endpoint.source ?? 'DOCKER_HOST'})`,
        ],
      });
    }
    if (res.status !== 200) throw new ResolverError('ERR_ENGINE_UNAVAILABLE', `the Docker Engine at ${endpoint.display} answered HTTP ${res.status} to GET ${path}`);
    const json = parseJson(schema, res.body.toString('utf8'));
    if (!json.success && json.reason === 'syntax') throw new ResolverError('ERR_ENGINE_UNAVAILABLE', `the Docker Engine at ${endpoint.display} sent invalid JSON for ${path}`);
    return json.success ? json.data : undefined;
  };

  // A failed read is forgotten: the next command or check asks the engine again.
  const cached = new PromiseMemo<'facts', EngineFacts>();
  const read = async (signal?: AbortSignal): Promise<EngineFacts> => {
      const [version, info] = await Promise.all([get('/version', VersionResponse, signal), get('/info', InfoResponse, signal)]);
      if (version === undefined) throw new ResolverError('ERR_ENGINE_UNAVAILABLE', `the Docker Engine at ${endpoint.display} sent an unexpected /version answer`);
      // /info only refines the facts: an answer of another shape is read as empty.
      const i = info ?? {};
      const snapshotter = (i.DriverStatus ?? []).some((row) => row[0] === 'driver-type' && row[1] === 'io.containerd.snapshotter.v1');
      return {
        endpoint: endpoint.display,
        local: endpoint.kind === 'unix',
        version: version.Version,
        apiVersion: version.ApiVersion,
        os: version.Os,
        arch: version.Arch,
        kernelArch: i.Architecture,
        kernelVersion: i.KernelVersion ?? version.KernelVersion,
        osVersion: i.OSVersion,
        store: snapshotter ? 'containerd' : 'classic',
        driver: i.Driver,
        dataRoot: i.DockerRootDir,
        product: (version.Components ?? []).some((c) => c.Name === 'Podman Engine') ? 'podman' : 'docker',
      };
  };
  return {
    // One /version + /info per process: detection and the engine client share it.
    facts(signal) {
      return cached.get('facts', () => read(signal));
    },
    connection: client,
    async close() {
      await connection?.http.close();
    },
  };
}
