/**
 * The Engine API version resolver speaks, negotiated from the engine's `/version` as the docker CLI does
 * (the lower of the engine's and this code's); neither undici nor dockerode negotiates.
 */
import { ResolverError } from '../errors.js';

/** Highest Engine API version this code was written against; older engines are spoken to at theirs. */
export const maxApiVersion = '1.47';
/** Oldest Engine API accepted (Docker 19.03). */
export const minApiVersion = '1.40';

function compareApi(a: string, b: string): number {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am - bm || an - bn;
}

/** The API version to use with an engine whose maximum is `engineMax`. */
export function negotiateApiVersion(engineMax: string): string {
  if (compareApi(engineMax, minApiVersion) < 0) {
    throw new ResolverError('ERR_ENGINE_UNAVAILABLE', `the Docker Engine speaks API ${engineMax}; resolver needs ${minApiVersion} or newer (Docker 19.03+)`, {
      details: ['upgrade the Docker Engine'],
    });
  }
  return compareApi(engineMax, maxApiVersion) < 0 ? engineMax : maxApiVersion;
}
