/**
 * dockerode for activation's container operations (dockerode-container-ops.ts: create from an inspect-derived
 * body, connect networks, stop, rename, update): a client at the API version negotiated from `/version`
 * (dockerode does not negotiate), loaded lazily, and its errors as ResolverErrors. Everything else talks to the
 * engine over the one undici stack (http-engine.ts).
 */
import type Dockerode from 'dockerode';
import { ResolverError } from '../errors.js';
import { sanitizeRemoteText } from '../http/remote-text.js';
import type { EngineEndpoint, EngineTls } from './docker-host.js';
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
