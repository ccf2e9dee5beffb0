/**
 * The container-running half of the Engine over dockerode (create, attach, start, wait, kill, remove, resize):
 * `resolver run` and nothing else; the image half and the container listing are http-engine.ts's, on the one
 * HTTP stack. dockerode is imported lazily, at the API version negotiated from `/version` (dockerode does
 * not negotiate): a daemon that only resolves and pre-pulls never loads it.
 */
import type Dockerode from 'dockerode';
import { ResolverError } from '../errors.js';
import { sanitizeRemoteText } from '../http/remote-text.js';
import { settleWithin } from '../limit/deadline.js';
import type { EngineEndpoint, EngineTls } from './docker-host.js';
import type { ContainerIo, ContainerRunner, RunAttachedOptions } from './engine.js';
import { containerFailureCode } from './engine.js';
import type { EngineFacts } from '../platform/engine-facts.js';
import { negotiateApiVersion } from './api-version.js';

interface DockerodeError {
  statusCode?: number;
  json?: { message?: string } | null;
  reason?: string;
  code?: string;
  message?: string;
}

/** An engine failure as a ResolverError (a lost engine, a cancellation, or the engine's message). */
export function engineError(error: unknown, what: string, endpoint: string): ResolverError {
  const e = (typeof error === 'object' && error !== null ? error : {}) as DockerodeError;
  if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === 'EACCES' || e.code === 'ECONNRESET' || e.code === 'EPIPE') {
    return new ResolverError('ERR_ENGINE_UNAVAILABLE', `lost the Docker Engine at ${endpoint} during ${what} (${e.code})`, { cause: error });
  }
  if (e.code === 'ABORT_ERR' || (error instanceof Error && error.name === 'AbortError')) {
    return new ResolverError('ERR_ABORTED', `${what} was cancelled`, { cause: error });
  }
  const message = sanitizeRemoteText(e.json?.message ?? e.reason ?? e.message ?? String(error), 1000);
  return new ResolverError('ERR_PULL_FAILED', `${what} failed: ${message}`, { cause: error });
}

/**
 * A refusal to create or start a container, worded as the docker CLI shows it ("Error response from
 * daemon: …") and coded for `docker run`'s exit status (containerFailureCode). A lost engine stays
 * ERR_ENGINE_UNAVAILABLE.
 */
export function containerError(error: unknown, what: string, endpoint: string): ResolverError {
  const e = (typeof error === 'object' && error !== null ? error : {}) as DockerodeError;
  if (e.statusCode === undefined) return engineError(error, what, endpoint);
  // dockerode words a failed hijacked attach "(HTTP code 409) unexpected - <engine message>" (Podman).
  const message = sanitizeRemoteText(e.json?.message ?? (e.message ?? String(error)).replace(/^\(HTTP code \d+\) [^-]*- /, ''), 1000);
  return new ResolverError(containerFailureCode(message), `Error response from daemon: ${message}`, { cause: error });
}

function destroyStream(stream: NodeJS.ReadWriteStream | undefined): void {
  if (stream !== undefined && 'destroy' in stream && typeof stream.destroy === 'function') (stream as unknown as { destroy(): void }).destroy();
}

/** dockerode's TLS options for an endpoint's material; skip-verify goes through an agent (docker-modem passes no rejectUnauthorized). */
async function tlsOptions(tls: EngineTls): Promise<{ ca?: Buffer; cert?: Buffer; key?: Buffer; agent?: import('node:https').Agent }> {
  const pem = { ...(tls.ca === undefined ? {} : { ca: tls.ca }), ...(tls.cert === undefined ? {} : { cert: tls.cert }), ...(tls.key === undefined ? {} : { key: tls.key }) };
  if (tls.verify) return pem;
  const { Agent } = await import('node:https');
  return { ...pem, agent: new Agent({ ...pem, rejectUnauthorized: false }) };
}

/** A dockerode client for the endpoint, at the API version negotiated from the engine's `/version` (`facts`). */
export async function connectDockerode(endpoint: EngineEndpoint, facts: EngineFacts): Promise<Dockerode> {
  const version = `v${negotiateApiVersion(facts.apiVersion)}`;
  const { default: Docker } = await import('dockerode');
  const docker: Dockerode =
    endpoint.kind === 'unix'
      ? new Docker({ socketPath: endpoint.socketPath, version })
      : new Docker({
          host: endpoint.host, port: endpoint.port, version,
          protocol: endpoint.tls === undefined ? 'http' : 'https',
          ...(endpoint.tls === undefined ? {} : await tlsOptions(endpoint.tls)),
        });
  return docker;
}

/** The container-running half for the engine at `endpoint` (whose `/version` gave `facts`). */
export async function createDockerodeRunner(endpoint: EngineEndpoint, facts: EngineFacts): Promise<ContainerRunner> {
  const docker = await connectDockerode(endpoint, facts);
  const where = endpoint.display;

  return {
    async createContainer(spec) {
      // modem.dial, not docker.createContainer: that one drops the answer's Warnings.
      const body = {
        Image: spec.image,
        ...(spec.cmd === undefined ? {} : { Cmd: [...spec.cmd] }),
        Env: [...spec.env],
        Tty: spec.tty,
        OpenStdin: spec.stdin,
        StdinOnce: spec.stdin,
        AttachStdin: spec.stdin,
        AttachStdout: true,
        AttachStderr: true,
        HostConfig: { ...(spec.networkMode === undefined ? {} : { NetworkMode: spec.networkMode }), Binds: [...spec.binds], AutoRemove: spec.autoRemove },
      };
      try {
        const answer = await new Promise<{ Id?: unknown; Warnings?: unknown }>((resolve, reject) => {
          docker.modem.dial({
            // The name and platform go in the query, the rest in the body (docker-modem's _query/_body).
            path: '/containers/create?', method: 'POST',
            options: { _query: { ...(spec.name === undefined ? {} : { name: spec.name }), ...(spec.platform === undefined ? {} : { platform: spec.platform }) }, _body: body },
            statusCodes: { 200: true, 201: true, 400: 'bad parameter', 404: 'no such image', 406: 'impossible to attach', 409: 'conflict', 500: 'server error' },
          }, (error: unknown, data: unknown) => {
            // docker-modem's errors are Errors carrying statusCode and json (containerError reads them).
            if (error instanceof Error) reject(error);
            else resolve((typeof data === 'object' && data !== null ? data : {}));
          });
        });
        if (typeof answer.Id !== 'string') throw new ResolverError('ERR_CONTAINER_FAILED', `the engine at ${where} created a container but sent no ID`);
        const warnings = Array.isArray(answer.Warnings) ? answer.Warnings.filter((w): w is string => typeof w === 'string' && w !== '') : [];
        return { id: answer.Id, warnings };
      } catch (error) {
        if (error instanceof ResolverError) throw error;
        throw containerError(error, `creating a container from ${spec.image}`, where);
      }
    },

    async runAttached(id, io: ContainerIo, options: RunAttachedOptions) {
      const container = docker.getContainer(id);
      // Closes the wait request if the start fails (a container that never ran never answers it).
      const waitAbort = new AbortController();
      let stream: NodeJS.ReadWriteStream | undefined;
      try {
        stream = await container.attach({ stream: true, stdout: true, stderr: true, stdin: options.stdin, hijack: options.stdin });
        const attached = stream;
        const ended = new Promise<void>((resolve) => {
          attached.on('end', resolve);
          attached.on('close', resolve);
          attached.on('error', () => resolve());
        });
        if (options.tty) attached.pipe(io.stdout, { end: false });
        else docker.modem.demuxStream(attached, io.stdout, io.stderr);
        if (options.stdin && io.stdin !== undefined) io.stdin.pipe(attached);
        // Waiting before start needs condition=next-exit (as the docker CLI does): the default,
        // not-running, is already true of a created container and answers 0 at once. With AutoRemove the
        // docker CLI waits for `removed` instead; so does this, to return once the container is gone, but
        // the code comes from next-exit: Podman 4.3 answers `removed` with StatusCode 0 whatever the exit.
        const waiting = container.wait({ condition: 'next-exit', abortSignal: waitAbort.signal }) as Promise<{ StatusCode: number }>;
        const removed = options.autoRemove ? (container.wait({ condition: 'removed', abortSignal: waitAbort.signal }) as Promise<unknown>) : undefined;
        waiting.catch(() => undefined);
        removed?.catch(() => undefined);
        await container.start();
        options.onStarted?.();
        const result = await waiting;
        if (removed !== undefined) await settleWithin(removed.catch(() => undefined), 10_000);
        // The engine closes the attach stream once it has sent the container's last bytes (the docker CLI
        // waits for that without a deadline); on a loaded machine that can take more than a moment.
        await settleWithin(ended, 10_000);
        return result.StatusCode;
      } catch (error) {
        waitAbort.abort();
        destroyStream(stream);
        throw containerError(error, `running container ${id.slice(0, 12)}`, where);
      } finally {
        waitAbort.abort();
        if (stream !== undefined) io.stdin?.unpipe(stream);
      }
    },

    async start(id) {
      try {
        await docker.getContainer(id).start();
      } catch (error) {
        throw containerError(error, `starting container ${id.slice(0, 12)}`, where);
      }
    },

    async kill(id, sig) {
      try {
        await docker.getContainer(id).kill({ signal: sig });
      } catch (error) {
        const status = (error as DockerodeError).statusCode;
        if (status === 404 || status === 409) return;
        throw engineError(error, `signalling container ${id.slice(0, 12)}`, where);
      }
    },

    async remove(id) {
      try {
        await docker.getContainer(id).remove({ force: true, v: true });
      } catch (error) {
        // 404: already gone; 409: the engine is removing it already (AutoRemove).
        const status = (error as DockerodeError).statusCode;
        if (status === 404 || status === 409) return;
        throw engineError(error, `removing container ${id.slice(0, 12)}`, where);
      }
    },

    async resize(id, rows, columns) {
      try {
        await docker.getContainer(id).resize({ h: rows, w: columns });
      } catch {
        // Resizing is best effort (the container may have exited).
      }
    },
  };
}
