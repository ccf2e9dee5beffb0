/**
 * Where the Docker Engine is, read the way the docker CLI reads it: `DOCKER_HOST`
 * (`unix://`, `tcp://`), `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH`, else the default socket.
 */
import { ResolverError } from '../errors.js';

/** An engine endpoint. */
export type EngineEndpoint =
  | { kind: 'unix'; socketPath: string; display: string }
  | { kind: 'tcp'; host: string; port: number; tls: { certPath: string; verify: boolean } | undefined; display: string };

/** The default socket on Linux. */
export const defaultSocket = '/var/run/docker.sock';

/** Parses DOCKER_HOST and the TLS variables. */
export function engineEndpoint(env: Readonly<Record<string, string | undefined>>, homeDir: string): EngineEndpoint {
  const raw = env['DOCKER_HOST'];
  if (raw === undefined || raw === '') return { kind: 'unix', socketPath: defaultSocket, display: `unix://${defaultSocket}` };
  if (raw.startsWith('unix://')) {
    const socketPath = raw.slice('unix://'.length);
    if (socketPath === '') throw new ResolverError('ERR_USAGE', `DOCKER_HOST=${raw} names no socket path`);
    return { kind: 'unix', socketPath, display: raw };
  }
  if (raw.startsWith('tcp://')) {
    let url: URL;
    try {
      url = new URL(raw.replace(/^tcp:/, 'http:'));
    } catch {
      throw new ResolverError('ERR_USAGE', `DOCKER_HOST=${raw} is not a valid tcp://host:port address`);
    }
    const tlsOn = (env['DOCKER_TLS_VERIFY'] ?? '') !== '' || (env['DOCKER_TLS'] ?? '') !== '';
    const port = url.port === '' ? (tlsOn ? 2376 : 2375) : Number.parseInt(url.port, 10);
    const tls = tlsOn ? { certPath: env['DOCKER_CERT_PATH'] ?? `${homeDir}/.docker`, verify: (env['DOCKER_TLS_VERIFY'] ?? '') !== '' } : undefined;
    return { kind: 'tcp', host: url.hostname, port, tls, display: raw };
  }
  throw new ResolverError('ERR_USAGE', `DOCKER_HOST=${raw} uses a scheme resolver does not support`, {
    details: ['use unix:///path/to/docker.sock or tcp://host:port (ssh:// and npipe:// are not supported)'],
  });
}
