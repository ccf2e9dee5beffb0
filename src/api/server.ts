/**
 * The daemon's HTTP endpoint: `/healthz` (open), `/readyz`, `/metrics` and the /v1 API (`GET /v1/status`,
 * `POST /v1/check`, `GET /v1/events`), over a small `ApiBackend` the daemon implements; this folder knows
 * nothing of the daemon (docs/api.md). With a token, every path but `/healthz` needs
 * `Authorization: Bearer TOKEN` (401 otherwise, before any routing, so a stranger learns no path); with
 * `tls`, it is HTTPS. A bind failure or an unreadable token or TLS file is a config error naming the key and
 * the file, never a stack trace, and nothing here prints the token.
 */
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { z } from 'zod';
import { ResolverError } from '../errors.js';
import { parseJson } from '../json/parse-json.js';
import { BearerAuth, readToken } from './auth.js';
import type { ApiConfig } from './config.js';

/** An answer of /healthz or /readyz. */
export interface Probe {
  readonly ok: boolean;
  readonly detail: unknown;
}

/** What `POST /v1/check` (and the control socket's `check`) asks for: every entry, or one image (at one platform). */
export interface CheckSelector {
  readonly image?: string | undefined;
  readonly platform?: string | undefined;
  readonly dryRun: boolean;
}

/** What a check request started. */
export interface CheckStarted {
  /** The entries that will run (`{key, image, platform}`). */
  readonly accepted: readonly unknown[];
  /** Keys of those that joined a check-now already queued or running (no second run is queued). */
  readonly joined: readonly string[];
  /** Settles with the statuses when every accepted entry has run. */
  readonly done: Promise<unknown>;
}

/** Filters of `GET /v1/events`. */
export interface EventsQuery {
  /** Only events with a sequence number above this. */
  readonly since: number | undefined;
  /** At most this many (the newest). */
  readonly limit: number | undefined;
  /** Only these event types. */
  readonly types: readonly string[] | undefined;
}

/** What the endpoint serves; the daemon implements it. */
export interface ApiBackend {
  live(): Probe;
  ready(): Promise<Probe>;
  /** The Prometheus text exposition. */
  metrics(): string;
  /** The `resolver status --json` document. */
  status(): unknown;
  events(query: EventsQuery): unknown;
  /** @throws ResolverError ERR_NOT_FOUND for an image (and platform) that is not configured. */
  check(selector: CheckSelector): CheckStarted;
}

/** The listening endpoint. */
export interface ApiServer {
  /** `http` or `https`. */
  readonly protocol: 'http' | 'https';
  readonly port: number;
  close(): Promise<void>;
}

/** Parses `host:port` / `[::1]:port`; a port outside 1–65535 is a config error. */
export function parseListen(listen: string): { host: string; port: number } {
  const colon = listen.lastIndexOf(':');
  const host = listen.slice(0, colon).replace(/^\[|\]$/g, '');
  const portText = listen.slice(colon + 1);
  const port = Number(portText);
  if (colon <= 0 || !/^\d+$/.test(portText) || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ResolverError('ERR_CONFIG_INVALID', `metrics.listen ${listen}: the port must be a number from 1 to 65535`, { details: ['e.g. metrics.listen: 127.0.0.1:9464'] });
  }
  return { host, port };
}

const maxBody = 4096;

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(`${JSON.stringify(body)}\n`);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBody) {
        reject(new ResolverError('ERR_USAGE', `the request body is larger than ${maxBody} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const truthy = (v: string | null): boolean => v !== null && /^(1|true|yes)$/i.test(v);

/** A check request's JSON body: every field optional (null as absent); other fields are ignored. */
const CheckBody = z.looseObject({
  image: z.string('image must be a string').nullish(),
  platform: z.string('platform must be a string').nullish(),
  dryRun: z.boolean('dryRun must be true or false').nullish(),
  wait: z.boolean('wait must be true or false').nullish(),
});

/** The check a request asks for: JSON body fields win over query parameters. */
async function checkSelector(req: IncomingMessage, url: URL): Promise<CheckSelector & { wait: boolean }> {
  const text = await readBody(req);
  let body: z.infer<typeof CheckBody> = {};
  if (text.trim() !== '') {
    const parsed = parseJson(CheckBody, text);
    const field = parsed.success ? undefined : parsed.reason === 'schema' ? parsed.issues[0] : undefined;
    if (field?.path.length === 1) throw new ResolverError('ERR_USAGE', field.message);
    if (!parsed.success) throw new ResolverError('ERR_USAGE', 'the request body is not a JSON object', { details: ['e.g. {"image": "nginx:1.27", "platform": "linux/arm64"}, or an empty body for every image'] });
    body = parsed.data;
  }
  const field = (name: 'image' | 'platform'): string | undefined => {
    const v = body[name] ?? url.searchParams.get(name) ?? undefined;
    return v === '' ? undefined : v;
  };
  const flag = (name: 'dryRun' | 'wait'): boolean => body[name] ?? truthy(url.searchParams.get(name));
  return { image: field('image'), platform: field('platform'), dryRun: flag('dryRun'), wait: flag('wait') };
}

function eventsQuery(url: URL): EventsQuery {
  const int = (name: string): number | undefined => {
    const v = url.searchParams.get(name);
    if (v === null || v === '') return undefined;
    if (!/^\d{1,15}$/.test(v)) throw new ResolverError('ERR_USAGE', `${name} must be a whole number`);
    return Number(v);
  };
  const types = url.searchParams.getAll('type').flatMap((t) => t.split(',')).filter((t) => t !== '');
  return { since: int('since'), limit: int('limit'), types: types.length === 0 ? undefined : types };
}

const statusOf = (error: unknown): number => {
  if (!(error instanceof ResolverError)) return 500;
  return error.code === 'ERR_NOT_FOUND' ? 404 : error.code === 'ERR_USAGE' ? 400 : error.code === 'ERR_ABORTED' ? 503 : 500;
};

/** The request handler (exported for unit tests). */
export function apiHandler(backend: ApiBackend, auth: BearerAuth | undefined): (req: IncomingMessage, res: ServerResponse) => void {
  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://resolver');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const read = method === 'GET' || method === 'HEAD';
    const only = (allowed: string): boolean => {
      if (allowed.split(', ').includes(method)) return true;
      json(res, 405, { error: `${method} is not allowed on ${path}` }, { allow: allowed });
      return false;
    };
    if (path === '/healthz') {
      if (!only('GET, HEAD')) return;
      const p = backend.live();
      json(res, p.ok ? 200 : 503, p.detail);
      return;
    }
    if (auth !== undefined && !auth.allows(req.headers.authorization)) {
      json(res, 401, { error: 'a bearer token is required: Authorization: Bearer TOKEN' }, { 'www-authenticate': 'Bearer realm="resolver"' });
      return;
    }
    switch (path) {
      case '/readyz': {
        if (!only('GET, HEAD')) return;
        const p = await backend.ready().catch((): Probe => ({ ok: false, detail: { status: 'not ready', reason: 'readiness probe failed' } }));
        json(res, p.ok ? 200 : 503, p.detail);
        return;
      }
      case '/metrics':
        if (!only('GET, HEAD')) return;
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(backend.metrics());
        return;
      case '/v1/status':
        if (only('GET, HEAD')) json(res, 200, backend.status());
        return;
      case '/v1/events':
        if (only('GET, HEAD')) json(res, 200, backend.events(eventsQuery(url)));
        return;
      case '/v1/check': {
        if (!only('POST')) return;
        const selector = await checkSelector(req, url);
        const started = backend.check(selector);
        if (selector.wait) {
          json(res, 200, await started.done);
          return;
        }
        started.done.catch(() => undefined);
        json(res, 202, { accepted: started.accepted, joined: started.joined, dryRun: selector.dryRun }, { location: '/v1/status' });
        return;
      }
      default:
        if (read || method === 'POST') json(res, 404, { error: `no such path: ${path}`, paths: ['/healthz', '/readyz', '/metrics', '/v1/status', '/v1/check', '/v1/events'] });
        else json(res, 405, { error: `${method} is not allowed` }, { allow: 'GET, HEAD, POST' });
    }
  };
  return (req, res) => {
    route(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const status = statusOf(error);
      json(res, status, { error: status === 500 && !(error instanceof ResolverError) ? 'internal error' : error instanceof Error ? error.message : String(error), ...(error instanceof ResolverError && error.details.length > 0 ? { details: error.details } : {}) });
    });
  };
}

async function readPem(path: string, key: 'cert' | 'key'): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new ResolverError('ERR_CONFIG_INVALID', `metrics.tls.${key}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/**
 * Reads the token and TLS files of `config` and serves the endpoint. @throws ResolverError
 * ERR_CONFIG_INVALID for an unreadable or short token, unreadable or invalid TLS files, or a failed bind.
 */
export async function serveApi(config: ApiConfig, backend: ApiBackend, deps: { readonly env: Readonly<Record<string, string | undefined>> }): Promise<ApiServer> {
  const { host, port } = parseListen(config.listen);
  const auth = config.token === undefined ? undefined : new BearerAuth(await readToken(config.token, deps.env));
  const handler = apiHandler(backend, auth);
  let server: Server;
  if (config.tls === undefined) server = createHttpServer(handler);
  else {
    const [cert, key] = await Promise.all([readPem(config.tls.cert, 'cert'), readPem(config.tls.key, 'key')]);
    try {
      server = createHttpsServer({ cert, key }, handler);
    } catch (error) {
      throw new ResolverError('ERR_CONFIG_INVALID', `metrics.tls: ${config.tls.cert} and ${config.tls.key} are not a usable PEM certificate and key (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const why = error.code === 'EADDRINUSE' ? 'the address is already in use' : error.code === 'EADDRNOTAVAIL' ? 'no such local address' : error.code === 'EACCES' ? 'permission denied' : (error.code ?? error.message);
      reject(new ResolverError('ERR_CONFIG_INVALID', `cannot serve metrics on ${config.listen}: ${why}`, { details: ['choose another metrics.listen port, or stop what uses it'] }));
    });
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return {
    protocol: config.tls === undefined ? 'http' : 'https',
    port: typeof address === 'object' && address !== null ? address.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
