/**
 * `ContainerOps` (container-ops.ts) over dockerode: its own connection to the engine, at the negotiated API version
 * (connectDockerode). Inspect answers are parsed with container-spec.ts's loose schemas; a refusal is an
 * ERR_CONTAINER_FAILED worded as the docker CLI shows it, a lost engine ERR_ENGINE_UNAVAILABLE.
 */
import type Dockerode from 'dockerode';
import { ResolverError } from '../errors.js';
import { sanitizeRemoteText } from '../http/remote-text.js';
import { ContainerInspect, ImageInspect } from './container-spec.js';
import type { ContainerOps } from './container-ops.js';
import type { EngineEndpoint } from './docker-host.js';
import { dockerodeContainers } from './dockerode-containers.js';
import { connectDockerode, containerError } from './dockerode-engine.js';
import type { EngineProbe } from './engine-probe.js';

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
  const { docker } = await connectDockerode(endpoint, probe, signal);
  const where = endpoint.display;
  const listing = dockerodeContainers(docker, where, containerError);
  const short = (id: string): string => (/^[0-9a-f]{64}$/.test(id) ? id.slice(0, 12) : id);

  return {
    listContainers: (signal) => listing.listContainers(signal),

    async inspectFull(idOrName) {
      let raw: unknown;
      try {
        raw = await docker.getContainer(idOrName).inspect();
      } catch (error) {
        if (statusOf(error) === 404) return undefined;
        throw containerError(error, `inspecting container ${short(idOrName)}`, where);
      }
      const parsed = ContainerInspect.safeParse(raw);
      if (!parsed.success) throw new ResolverError('ERR_CONTAINER_FAILED', `the engine at ${where} answered an inspect of container ${short(idOrName)} that resolver cannot read: ${sanitizeRemoteText(parsed.error.issues[0]?.message ?? '', 200)}`);
      return parsed.data;
    },

    async inspectImageConfig(name) {
      let raw: unknown;
      try {
        raw = await docker.getImage(name).inspect();
      } catch (error) {
        if (statusOf(error) === 404) return undefined;
        throw containerError(error, `inspecting image ${name}`, where);
      }
      const parsed = ImageInspect.safeParse(raw);
      if (!parsed.success) throw new ResolverError('ERR_CONTAINER_FAILED', `the engine at ${where} answered an inspect of image ${name} that resolver cannot read`);
      return parsed.data;
    },

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

    async connectNetwork(network, id, endpoint) {
      try {
        await docker.getNetwork(network).connect({ Container: id, EndpointConfig: endpoint as Dockerode.EndpointSettings });
      } catch (error) {
        throw containerError(error, `connecting container ${short(id)} to network ${network}`, where);
      }
    },

    async startContainer(id) {
      try {
        await docker.getContainer(id).start();
      } catch (error) {
        // 304: already running.
        if (statusOf(error) === 304) return;
        throw containerError(error, `starting container ${short(id)}`, where);
      }
    },

    async stopContainer(id, timeoutSeconds) {
      try {
        await docker.getContainer(id).stop({ t: Math.max(0, Math.round(timeoutSeconds)) });
      } catch (error) {
        // 304: already stopped; 404: gone.
        const status = statusOf(error);
        if (status === 304 || status === 404) return;
        throw containerError(error, `stopping container ${short(id)}`, where);
      }
    },

    async renameContainer(id, name) {
      try {
        await docker.getContainer(id).rename({ name });
      } catch (error) {
        throw containerError(error, `renaming container ${short(id)} to ${name}`, where);
      }
    },

    async removeContainer(id) {
      try {
        await docker.getContainer(id).remove({ force: true, v: false });
      } catch (error) {
        const status = statusOf(error);
        if (status === 404 || status === 409) return;
        throw containerError(error, `removing container ${short(id)}`, where);
      }
    },

    async updateRestartPolicy(id, policy) {
      try {
        await docker.getContainer(id).update({ RestartPolicy: { Name: policy.Name, ...(policy.MaximumRetryCount === undefined ? {} : { MaximumRetryCount: policy.MaximumRetryCount }) } });
      } catch (error) {
        throw containerError(error, `updating the restart policy of container ${short(id)}`, where);
      }
    },

    close: () => probe.close(),
  };
}
