/**
 * The mirror layer (docs/mirrors.md; docs/registry-client.md): between retry and auth, it sends a read to
 * the namespace's hosts in order (containerd hosts.toml semantics, src/mirror/) and falls back to the next
 * one on a connect error, a timeout, a TLS failure, any non-2xx answer (404, 401/403, 429, 5xx…), or bytes
 * that do not hash to the digest asked for: a mirror that serves other bytes is skipped, never a result.
 *
 * - Tags go to hosts with `resolve` (by default only the origin); content by digest to hosts with `pull`.
 * - Writes (a push scope), the ping and absolute URLs pass through to the origin untouched.
 * - A mirror is its own entry in the HostTable (scheme, challenge) and gets the credentials stored under its
 *   own host in config.json, never the origin's. Requests to a mirror carry `?ns=NAMESPACE`, as containerd's.
 * - Each host's hosts.toml settings (`skip_verify`, `ca`, `client`, `header`) are put in the HostTable the first
 *   time its namespace is used, so that every request to that host (the server's writes too) carries them.
 */
import { createHash } from 'node:crypto';
import { ResolverError } from '../errors.js';
import { endpointsFor, isOrigin, namespaceOf, type Endpoint, type NamespaceHosts, type Operation } from '../mirror/hosts.js';
import type { MirrorTable } from '../mirror/read.js';
import type { HostTable, Layer, RegistryRequest, RegistryResponse } from './layers.js';

/** Which host answered a read, for state, status, logs and metrics. */
export interface MirrorAnswer {
  readonly namespace: string;
  readonly operation: Operation;
  /** The host that answered (`host[:port]`). */
  readonly host: string;
  /** True when it is the namespace's own registry. */
  readonly origin: boolean;
  readonly what: string;
}

/** A host that was tried and skipped, with why. */
export interface MirrorSkip {
  readonly namespace: string;
  readonly host: string;
  readonly reason: string;
  readonly what: string;
}

/** What the layer needs. */
export interface MirrorLayerOptions {
  readonly table: MirrorTable;
  readonly hosts: HostTable;
  /** Hosts to reach without TLS verification (`skip_verify = true`); the client's HostTable consults it. */
  readonly skipVerify: Set<string>;
  readonly onAnswer?: (answer: MirrorAnswer) => void;
  readonly onSkip?: (skip: MirrorSkip) => void;
}

const readPath = /^\/v2\/(.+)\/(manifests|blobs)\/([^/?]+)$/;

/** The operation of a read, or undefined for requests that always go to the origin. */
export function operationOf(req: RegistryRequest): { operation: Operation; digest: string | undefined } | undefined {
  if (req.method !== 'GET' && req.method !== 'HEAD') return undefined;
  if (req.scopes.some((s) => /:(?:[^:]*,)?push(?:,|$)/.test(s))) return undefined;
  const m = readPath.exec(req.path);
  if (m?.[1] !== req.repo.path) return undefined;
  const reference = m[3] ?? '';
  const digest = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(reference) ? reference : undefined;
  return { operation: digest === undefined ? 'resolve' : 'pull', digest };
}

function sha256(body: Buffer): string {
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}

/** Why a failure moves on to the next host, or undefined when it must not (an abort, a one-shot body). */
function skippable(error: unknown, req: RegistryRequest): string | undefined {
  if (!(error instanceof ResolverError)) return undefined;
  if (error.code === 'ERR_ABORTED') return undefined;
  // A sink that cannot start over has already taken the bad bytes: the caller must see the failure.
  if (error.code === 'ERR_DIGEST_MISMATCH' && req.noRetry) return undefined;
  return ['ERR_NETWORK', 'ERR_TLS', 'ERR_REGISTRY_AUTH', 'ERR_REGISTRY_HTTP', 'ERR_DIGEST_MISMATCH', 'ERR_RATE_LIMITED'].includes(error.code) ? error.message : undefined;
}

function toEndpoint(req: RegistryRequest, e: Endpoint, namespace: string): RegistryRequest {
  const sep = req.path.includes('?') ? '&' : '?';
  return {
    ...req,
    repo: { host: e.host, path: req.repo.path, credentialKey: e.host },
    path: `${e.path}${req.path.slice('/v2'.length)}${sep}ns=${encodeURIComponent(namespace)}`,
  };
}

/** Puts each endpoint's TLS settings and headers in the HostTable (once per hosts object). */
function register(o: MirrorLayerOptions, done: WeakSet<NamespaceHosts>, configured: NamespaceHosts): void {
  if (done.has(configured)) return;
  done.add(configured);
  for (const e of configured.endpoints) {
    const state = o.hosts.state(e.host);
    if (e.skipVerify) o.skipVerify.add(e.host);
    if (e.tls !== undefined) {
      state.tls = e.tls;
      // A host given a CA is verified against it, loopback too (containerd verifies every https host).
      state.verify = e.tls.ca.length > 0 && !e.skipVerify;
    }
    const names = Object.keys(e.headers);
    if (names.length > 0) state.headers = Object.fromEntries(names.map((n) => [n, (e.headers[n] ?? []).join(', ')]));
  }
}

/** The layer. With no hosts configured for a namespace it costs one map lookup. */
export function mirrorLayer(o: MirrorLayerOptions): Layer {
  const registered = new WeakSet<NamespaceHosts>();
  return (next) => async (req) => {
    const namespace = namespaceOf(req.repo.host);
    const configured = await o.table.hostsFor(namespace);
    if (configured === undefined) return next(req);
    register(o, registered, configured);
    const op = operationOf(req);
    if (op === undefined) return next(req);
    const endpoints = endpointsFor(configured, op.operation);
    if (endpoints.length === 0) {
      throw new ResolverError('ERR_CONFIG_INVALID', `no host configured for ${namespace} may ${op.operation} (${configured.endpoints[0]?.source ?? 'mirrors'})`, {
        details: [`give one host capabilities = ["${op.operation}"], or leave server out so that ${namespace} itself is used`],
      });
    }
    for (const [i, e] of endpoints.entries()) {
      const last = i === endpoints.length - 1;
      const origin = isOrigin(e, namespace) && e.host === req.repo.host;
      if (!origin && e.scheme !== undefined) o.hosts.state(e.host).scheme = e.scheme;
      const target = origin ? req : toEndpoint(req, e, namespace);
      const skip = (reason: string): void => o.onSkip?.({ namespace, host: e.host, reason, what: req.what });
      let res: RegistryResponse;
      try {
        res = await next(target);
      } catch (error) {
        const reason = skippable(error, req);
        if (last || reason === undefined) throw error;
        skip(reason);
        continue;
      }
      if (res.status >= 200 && res.status < 300) {
        // Content by digest is verified here, so that a lying mirror is skipped rather than returned. The
        // client verifies again what it is given (the origin's bytes included).
        if (!origin && op.digest !== undefined && req.method === 'GET' && req.receive === undefined && op.digest.startsWith('sha256:')) {
          const got = sha256(res.body);
          if (got !== op.digest) {
            if (last) throw new ResolverError('ERR_DIGEST_MISMATCH', `${req.what}: ${e.host} served bytes hashing to ${got}`);
            skip(`served ${res.body.byteLength} bytes hashing to ${got}, not ${op.digest}`);
            continue;
          }
        }
        o.onAnswer?.({ namespace, operation: op.operation, host: e.host, origin, what: req.what });
        return { ...res, servedBy: e.host };
      }
      if (last) return res;
      skip(`HTTP ${res.status}`);
    }
    /* c8 ignore next */
    throw new ResolverError('ERR_CONFIG_INVALID', `no host for ${namespace}`);
  };
}
