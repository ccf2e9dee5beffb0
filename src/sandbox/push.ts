/**
 * Pushes blobs and manifests to a registry (monolithic uploads) for the sandbox and tests.
 * The publishing command of a later issue replaces this with cross-repository mounts.
 */
import { ResolverError } from '../errors.js';
import type { HttpClient } from '../http/http.js';
import { parseWwwAuthenticate, preferredChallenge } from '../registry/www-authenticate.js';
import type { Blob, BuiltImage } from './oci-builder.js';

/** Where and as whom to push. */
export interface PushTarget {
  readonly http: HttpClient;
  /** `host:port`, reached over plain HTTP (sandbox registries are loopback). */
  readonly host: string;
  readonly repository: string;
  readonly username?: string;
  readonly password?: string;
}

async function authHeader(t: PushTarget): Promise<string | undefined> {
  const ping = await t.http.send({ method: 'GET', url: new URL(`http://${t.host}/v2/`), deadlineMs: 10_000, maxBytes: 1 << 16 });
  if (ping.status === 200) return undefined;
  const ch = preferredChallenge(parseWwwAuthenticate(ping.headers['www-authenticate'] ?? ''));
  const basic = t.username === undefined ? undefined : `Basic ${Buffer.from(`${t.username}:${t.password ?? ''}`).toString('base64')}`;
  if (ch?.scheme === 'basic') return basic;
  if (ch?.scheme !== 'bearer' || ch.params['realm'] === undefined) throw new ResolverError('ERR_REGISTRY_AUTH', `${t.host}: unexpected challenge`);
  const url = new URL(ch.params['realm']);
  if (ch.params['service'] !== undefined) url.searchParams.set('service', ch.params['service']);
  url.searchParams.set('scope', `repository:${t.repository}:pull,push`);
  const res = await t.http.send({ method: 'GET', url, headers: basic === undefined ? {} : { authorization: basic }, deadlineMs: 10_000, maxBytes: 1 << 20 });
  const json = JSON.parse(res.body.toString('utf8')) as { token?: string; access_token?: string };
  const token = json.access_token ?? json.token;
  if (res.status !== 200 || token === undefined) throw new ResolverError('ERR_REGISTRY_AUTH', `${t.host}: token for push refused (${res.status})`);
  return `Bearer ${token}`;
}

/** Pushes a set of blobs and manifests; returns nothing, throws on any refusal. */
export class Pusher {
  readonly #t: PushTarget;
  #auth: Promise<string | undefined> | undefined;

  constructor(target: PushTarget) {
    this.#t = target;
  }

  async #headers(extra: Record<string, string> = {}): Promise<Record<string, string>> {
    this.#auth ??= authHeader(this.#t);
    const a = await this.#auth;
    return a === undefined ? extra : { ...extra, authorization: a };
  }

  /** Uploads a blob unless the registry has it. */
  async blob(blob: Blob): Promise<void> {
    const { http, host, repository } = this.#t;
    const base = `http://${host}/v2/${repository}`;
    const head = await http.send({ method: 'HEAD', url: new URL(`${base}/blobs/${blob.digest}`), headers: await this.#headers(), deadlineMs: 30_000, maxBytes: 0 });
    if (head.status === 200) return;
    const start = await http.send({ method: 'POST', url: new URL(`${base}/blobs/uploads/`), headers: await this.#headers(), deadlineMs: 30_000, maxBytes: 1 << 16, followRedirects: false });
    const location = start.headers['location'];
    if (start.status !== 202 || location === undefined) throw new ResolverError('ERR_REGISTRY_HTTP', `${host}: upload start for ${repository} answered ${start.status}`);
    const url = new URL(location, `http://${host}`);
    url.searchParams.set('digest', blob.digest);
    const put = await http.send({
      method: 'PUT', url, body: blob.bytes, deadlineMs: 60_000, maxBytes: 1 << 16, followRedirects: false,
      headers: await this.#headers({ 'content-type': 'application/octet-stream', 'content-length': String(blob.bytes.byteLength) }),
    });
    if (put.status !== 201) throw new ResolverError('ERR_REGISTRY_HTTP', `${host}: blob upload ${blob.digest} answered ${put.status}: ${put.body.toString('utf8').slice(0, 200)}`);
  }

  /** Puts a manifest or index under a tag or its digest. */
  async manifest(blob: Blob, reference: string = blob.digest): Promise<void> {
    const { http, host, repository } = this.#t;
    const res = await http.send({
      method: 'PUT', url: new URL(`http://${host}/v2/${repository}/manifests/${reference}`), body: blob.bytes, deadlineMs: 30_000, maxBytes: 1 << 16,
      headers: await this.#headers({ 'content-type': blob.mediaType }),
    });
    if (res.status !== 201) throw new ResolverError('ERR_REGISTRY_HTTP', `${host}: manifest put ${repository}:${reference} answered ${res.status}: ${res.body.toString('utf8').slice(0, 300)}`);
  }

  /** Pushes an image's blobs and manifest (by digest). */
  async image(image: BuiltImage): Promise<void> {
    for (const layer of image.layers) await this.blob(layer);
    await this.blob(image.config);
    await this.manifest(image.manifest);
  }
}
