/**
 * Pushes built images (blobs, manifests, indexes) to a sandbox registry for the demo, tests and
 * benchmarks, through the same registry client and auth as `resolver manifest push`.
 */
import type { HttpClient } from '../../src/http/http.js';
import { TokenCache } from '../../src/registry/auth.js';
import { RegistryClient, type Repository } from '../../src/registry/client.js';
import { Secret } from '../../src/secret/secret.js';
import type { Blob, BuiltImage } from './oci-builder.js';

/** Where and as whom to push. */
export interface PushTarget {
  readonly http: HttpClient;
  /** `host:port` (sandbox registries are loopback: HTTPS is tried, then HTTP, as for any loopback host). */
  readonly host: string;
  readonly repository: string;
  readonly username?: string;
  readonly password?: string;
}

/** Pushes a set of blobs and manifests; throws on any refusal. */
export class Pusher {
  readonly #client: RegistryClient;
  readonly #repo: Repository;

  constructor(target: PushTarget) {
    const clock = (): number => performance.now();
    const credentials = target.username === undefined
      ? undefined
      : { username: target.username, password: new Secret(target.password ?? ''), identityToken: undefined, registryToken: undefined, source: 'sandbox' };
    this.#client = new RegistryClient({ http: target.http, tokens: new TokenCache(target.http, clock), clock, credentials: { get: () => Promise.resolve(credentials) } });
    this.#repo = { host: target.host, path: target.repository, credentialKey: target.host };
  }

  /** Uploads a blob unless the repository has it. */
  async blob(blob: Blob): Promise<void> {
    if (await this.#client.hasBlob(this.#repo, blob.digest)) return;
    await this.#client.pushBlob(this.#repo, blob.digest, blob.bytes);
  }

  /** Puts a manifest or index under a tag or its digest. */
  async manifest(blob: Blob, reference: string = blob.digest): Promise<void> {
    await this.#client.putManifest(this.#repo, reference, blob.mediaType, blob.bytes);
  }

  /** Pushes an image's blobs and manifest (by digest). */
  async image(image: BuiltImage): Promise<void> {
    for (const layer of image.layers) await this.blob(layer);
    await this.blob(image.config);
    await this.manifest(image.manifest);
  }
}
