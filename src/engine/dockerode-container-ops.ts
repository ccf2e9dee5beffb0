/**
 * `ContainerOps` (container-ops.ts) over dockerode: its own connection to the engine, at the negotiated API version
 * (connectDockerode); the container listing is http-engine.ts's. Inspect answers are parsed with container-spec.ts's loose schemas; a refusal is an
 * ERR_CONTAINER_FAILED worded as the docker CLI shows it, a lost engine ERR_ENGINE_UNAVAILABLE.
 */
import type Dockerode from 'dockerode';
import { ResolverError } from '../errors.js';
import { sanitizeRemoteText } from '../http/remote-text.js';
import { ContainerInspect, ImageInspect } from './container-spec.js';
import type { ContainerOps } from './container-ops.js';
import type { EngineEndpoint } from './docker-host.js';
import { connectDockerode, containerError } from './dockerode-engine.js';
import type { EngineProbe } from './engine-probe.js';
import { createHttpEngine } from './http-engine.js';

function statusOf(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null && 'statusCode' in error && typeof error.statusCode === 'number' ? error.statusCode : undefined;
}

/** One request through docker-modem (dockerode's typed calls drop bodies or answers this code needs). */
function dial(docker: Dockerode, options: { path: string; method: string; options?: Record<string, unknown>; statusCodes: Record<number, boolean | string> }): Promise<unknown> {
  return new Promise((resolve, reject) => {
    docker.modem.dial(options, (error: unknown, data: unknown) => {
      if (error instanceof Error) reject(error);
      else resolve(data);
    });
  });
}

/** Connects to the engine at `endpoint` and returns its container operations. */
export async function createDockerodeContainerOps(endpoint: EngineEndpoint, probe: EngineProbe, signal?: AbortSignal): Promise<ContainerOps> {
  // The listing is the engine client's (one HTTP stack); dockerode does the rest.
  const listing = await createHttpEngine(endpoint, probe, signal);
  const docker = await connectDockerode(endpoint, await probe.facts(signal));
  const where = endpoint.display;
  const short = (id: string): string => (/^[0-9a-f]{64}$/.test(id) ? id.slice(0, 12) : id);
  /** One request: a failure with a status in `settled` (already so, or gone) is success; any other is `what`'s container error. */
  const request = async (what: string, send: () => Promise<unknown>, settled: readonly number[] = []): Promise<void> => {
    try {
      await send();
    } catch (error) {
      const status = statusOf(error);
      if (status !== undefined && settled.includes(status)) return;
      throw containerError(error, what, where);
    }
  };

  /** One inspect: undefined when the engine has no such object (404); else `parse` reads the answer. */
  const inspect = async <T>(what: string, send: () => Promise<unknown>, parse: (raw: unknown) => T): Promise<T | undefined> => {
    let raw: unknown;
    try {
      raw = await send();
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw containerError(error, what, where);
    }
    return parse(raw);
  };

  return {
    listContainers: (signal) => listing.listContainers(signal),

    inspectFull: (idOrName) =>
      inspect(`inspecting container ${short(idOrName)}`, () => docker.getContainer(idOrName).inspect(), (raw) => {
        const parsed = ContainerInspect.safeParse(raw);
        if (!parsed.success) throw new ResolverError('ERR_CONTAINER_FAILED', `the engine at ${where} answered an inspect of container ${short(idOrName)} that resolver cannot read: ${sanitizeRemoteText(parsed.error.issues[0]?.message ?? '', 200)}`);
        return parsed.data;
      }),

    inspectImageConfig: (name) =>
      inspect(`inspecting image ${name}`, () => docker.getImage(name).inspect(), (raw) => {
        const parsed = ImageInspect.safeParse(raw);
        if (!parsed.success) throw new ResolverError('ERR_CONTAINER_FAILED', `the engine at ${where} answered an inspect of image ${name} that resolver cannot read`);
        return parsed.data;
      }),

    async createContainer(name, body) {
      try {
        const answer = (await dial(docker, {
          // docker-modem puts `_query` in the query string and `_body` in the body (else every option goes in both).
          path: '/containers/create?', method: 'POST', options: { _query: { name }, _body: body },
          statusCodes: { 200: true, 201: true, 400: 'bad parameter', 404: 'no such image', 409: 'conflict', 500: 'server error' },
        })) as { Id?: unknown } | null;
        if (typeof answer?.Id !== 'string') throw new ResolverError('ERR_CONTAINER_FAILED', `the engine at ${where} created container ${name} but sent no ID`);
        return answer.Id;
      } catch (error) {
        if (error instanceof ResolverError) throw error;
        throw containerError(error, `creating container ${name}`, where);
      }
    },

    connectNetwork: (network, id, endpoint) =>
      request(`connecting container ${short(id)} to network ${network}`, () => docker.getNetwork(network).connect({ Container: id, EndpointConfig: endpoint as Dockerode.EndpointSettings })),
    // 304: already running.
    startContainer: (id) => request(`starting container ${short(id)}`, () => docker.getContainer(id).start(), [304]),
    // 304: already stopped; 404: gone.
    stopContainer: (id, timeoutSeconds) => request(`stopping container ${short(id)}`, () => docker.getContainer(id).stop({ t: Math.max(0, Math.round(timeoutSeconds)) }), [304, 404]),
    renameContainer: (id, name) => request(`renaming container ${short(id)} to ${name}`, () => docker.getContainer(id).rename({ name })),
    // 404: gone; 409: already being removed.
    removeContainer: (id) => request(`removing container ${short(id)}`, () => docker.getContainer(id).remove({ force: true, v: false }), [404, 409]),
    updateRestartPolicy: (id, policy) =>
      request(`updating the restart policy of container ${short(id)}`, () => docker.getContainer(id).update({ RestartPolicy: { Name: policy.Name, ...(policy.MaximumRetryCount === undefined ? {} : { MaximumRetryCount: policy.MaximumRetryCount }) } })),

    close: () => probe.close(),
  };
}
