/**
 * The repository a reference names, in the coordinates a registry client talks to: the API host, the path and
 * the docker config.json key its credentials are stored under. Pure: no IO.
 */
import { credentialKey, registryHost, type Reference } from './reference.js';

/** A repository on a registry. */
export interface Repository {
  /** API host, `registry-1.docker.io` for Docker Hub. */
  readonly host: string;
  /** Repository path, e.g. `library/alpine`. */
  readonly path: string;
  /** config.json key for credentials. */
  readonly credentialKey: string;
}

/** The repository coordinates of a reference. */
export function repositoryOf(ref: Reference): Repository {
  return { host: registryHost(ref), path: ref.path, credentialKey: credentialKey(ref) };
}
