/**
 * An in-memory registry with the part of `RegistryClient` a check uses (HEAD a tag, GET a manifest by
 * digest), for unit tests of faults a real registry cannot produce on demand: a request that never
 * answers, a 429 with Retry-After, a host that fails. Manifests are real OCI JSON with real digests,
 * so the resolver's own parsing and selection run unchanged.
 */
import { RegistryHttpError, ResolverError } from '../../src/errors.js';
import { digestOf } from '../../src/manifest/classify.js';
import type { RateLimit, RegistryClient, Repository, TagDescriptor, FetchedManifest } from '../../src/registry/client.js';

const indexType = 'application/vnd.oci.image.index.v1+json';
const manifestType = 'application/vnd.oci.image.manifest.v1+json';

/** A child to publish. */
export interface FakeChild {
  readonly os?: string;
  readonly architecture: string;
  readonly variant?: string;
  /** Makes the child's digest unique (a rebuild). */
  readonly label: string;
  /** Compressed sizes of its layers (descriptors only, no blobs); none by default. */
  readonly layerSizes?: readonly number[];
}

/** Runs before each request; throw to fail it, await to hold it. */
export type RequestHook = (repo: Repository, what: 'HEAD' | 'GET', signal: AbortSignal | undefined) => Promise<void> | void;

/** A published index and its children's digests, in the order given. */
export interface Published {
  readonly index: string;
  readonly children: readonly string[];
}

/** The fake. */
export class FakeRegistry {
  readonly #tags = new Map<string, { digest: string; mediaType: string; size: number }>();
  readonly #blobs = new Map<string, { body: Buffer; mediaType: string }>();
  readonly rateLimits = new Map<string, RateLimit>();
  readonly requests = { HEAD: 0, GET: 0 };
  /** Blob GETs (configs for the disk preflight). */
  blobGets = 0;
  /** `HEAD host/path:tag` and `GET host/path@digest`, in order. */
  readonly log: string[] = [];
  /** Per-host hook (by `Repository.host`). */
  readonly hooks = new Map<string, RequestHook>();

  #put(body: Buffer, mediaType: string): string {
    const digest = digestOf(body);
    this.#blobs.set(digest, { body, mediaType });
    return digest;
  }

  /** Publishes an index of `children` as `host/path:tag`. */
  publish(image: string, children: readonly FakeChild[]): Published {
    const [name, tag = 'latest'] = splitTag(image);
    const entries = children.map((c) => {
      // Layers are descriptors only (no blobs): their sizes feed the disk preflight; diff IDs derive from the label.
      const layers = (c.layerSizes ?? []).map((size, i) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digestOf(Buffer.from(`${c.label} layer ${i}`)), size }));
      const diffIds = layers.map((_, i) => digestOf(Buffer.from(`${c.label} diff ${i}`)));
      const config = Buffer.from(JSON.stringify({ architecture: c.architecture, os: c.os ?? 'linux', ...(c.variant === undefined ? {} : { variant: c.variant }), label: c.label, ...(layers.length === 0 ? {} : { rootfs: { type: 'layers', diff_ids: diffIds } }) }));
      this.#put(config, 'application/vnd.oci.image.config.v1+json');
      const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: manifestType, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: config.byteLength }, layers }));
      const digest = this.#put(body, manifestType);
      return { mediaType: manifestType, digest, size: body.byteLength, platform: { os: c.os ?? 'linux', architecture: c.architecture, ...(c.variant === undefined ? {} : { variant: c.variant }) } };
    });
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: indexType, manifests: entries }));
    const index = this.#put(body, indexType);
    this.#tags.set(`${name}:${tag}`, { digest: index, mediaType: indexType, size: body.byteLength });
    return { index, children: entries.map((e) => e.digest) };
  }

  /** Tags a single-platform image (no index): its manifest digest. */
  publishSingle(image: string, child: FakeChild): string {
    const [name, tag = 'latest'] = splitTag(image);
    const config = Buffer.from(JSON.stringify({ architecture: child.architecture, os: child.os ?? 'linux', ...(child.variant === undefined ? {} : { variant: child.variant }), label: child.label }));
    this.#put(config, 'application/vnd.oci.image.config.v1+json');
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: manifestType, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: config.byteLength }, layers: [] }));
    const digest = this.#put(body, manifestType);
    this.#tags.set(`${name}:${tag}`, { digest, mediaType: manifestType, size: body.byteLength });
    return digest;
  }

  async #hook(repo: Repository, what: 'HEAD' | 'GET', signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted === true) throw new ResolverError('ERR_ABORTED', 'cancelled');
    await this.hooks.get(repo.host)?.(repo, what, signal);
  }

  /** As `RegistryClient.resolveTag`. */
  async resolveTag(repo: Repository, reference: string, signal?: AbortSignal): Promise<TagDescriptor> {
    this.requests.HEAD++;
    this.log.push(`HEAD ${repo.host}/${repo.path}:${reference}`);
    await this.#hook(repo, 'HEAD', signal);
    const t = this.#tags.get(`${repo.host}/${repo.path}:${reference}`);
    if (t === undefined) throw new RegistryHttpError('ERR_NOT_FOUND', `${repo.host}/${repo.path}:${reference}: not found`, { status: 404, method: 'HEAD', url: `http://${repo.host}/v2/${repo.path}/manifests/${reference}` });
    return { ...t };
  }

  /** As `RegistryClient.getManifest`. */
  async getManifest(repo: Repository, digest: string, signal?: AbortSignal): Promise<FetchedManifest> {
    this.requests.GET++;
    this.log.push(`GET ${repo.host}/${repo.path}@${digest}`);
    await this.#hook(repo, 'GET', signal);
    const b = this.#blobs.get(digest);
    if (b === undefined) throw new RegistryHttpError('ERR_NOT_FOUND', `${digest}: not found`, { status: 404, method: 'GET', url: `http://${repo.host}/v2/${repo.path}/manifests/${digest}` });
    return { digest, contentType: b.mediaType, body: b.body };
  }

  /** As `RegistryClient.getBlob` (image configs); counted in `blobGets`, not in `requests`. */
  async getBlob(repo: Repository, digest: string, signal?: AbortSignal): Promise<Buffer> {
    this.blobGets++;
    this.log.push(`GET blob ${repo.host}/${repo.path}@${digest}`);
    await this.#hook(repo, 'GET', signal);
    const b = this.#blobs.get(digest);
    if (b === undefined) throw new RegistryHttpError('ERR_NOT_FOUND', `${digest}: blob unknown`, { status: 404, method: 'GET', url: `http://${repo.host}/v2/${repo.path}/blobs/${digest}` });
    return b.body;
  }

  /** As `RegistryClient.hasBlob`: blobs are content-addressed here, so any repository has every blob. */
  hasBlob(repo: Repository, digest: string): Promise<boolean> {
    this.log.push(`HEAD blob ${repo.host}/${repo.path}@${digest}`);
    return Promise.resolve(this.#blobs.has(digest));
  }

  /** As `RegistryClient.mountBlob`. */
  mountBlob(target: Repository, digest: string): Promise<boolean> {
    this.log.push(`MOUNT ${target.host}/${target.path}@${digest}`);
    return Promise.resolve(this.#blobs.has(digest));
  }

  /** As `RegistryClient.pushBlob` (a Buffer only). */
  pushBlob(target: Repository, digest: string, bytes: unknown): Promise<void> {
    this.log.push(`PUT blob ${target.host}/${target.path}@${digest}`);
    if (!Buffer.isBuffer(bytes)) return Promise.reject(new Error('FakeRegistry: pushBlob takes a Buffer'));
    this.#put(bytes, 'application/octet-stream');
    return Promise.resolve();
  }

  /** As `RegistryClient.putManifest`: by tag, the tag then points to it. */
  putManifest(target: Repository, reference: string, mediaType: string, body: Buffer): Promise<void> {
    this.log.push(`PUT ${target.host}/${target.path}:${reference}`);
    const digest = this.#put(body, mediaType);
    if (!reference.startsWith('sha256:')) this.#tags.set(`${target.host}/${target.path}:${reference}`, { digest, mediaType, size: body.byteLength });
    return Promise.resolve();
  }

  /** The fake where a `RegistryClient` is expected (a check calls only the methods above). */
  asClient(): RegistryClient {
    return this as unknown as RegistryClient;
  }
}

function splitTag(image: string): [string, string | undefined] {
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return colon > slash ? [image.slice(0, colon), image.slice(colon + 1)] : [image, undefined];
}

/** A hook that never answers until the request's signal aborts (a dead registry that accepts connections). */
export const neverAnswers: RequestHook = (_repo, _what, signal) =>
  new Promise<void>((_resolve, reject) => {
    signal?.addEventListener('abort', () => reject(new ResolverError('ERR_ABORTED', 'cancelled')), { once: true });
  });
