/**
 * The one HTTP stack (undici). Every request has explicit deadlines: a connect timeout (undici's
 * abort signal does not cancel a connect), a headers timeout, and an overall deadline (undici's body
 * timeout is per chunk). Redirects are followed here, at most 10 hops, without credentials across
 * origins and never to a private IP literal of another host. No Accept-Encoding is sent, so the
 * bytes read are the bytes served. See shared/spec/reliability.md §2.2, §3.7.
 */
import type { LookupFunction } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { Agent, buildConnector, EnvHttpProxyAgent, request, type Dispatcher } from 'undici';
import { ResolverError, redactUrl } from '../errors.js';
import { deadlineSignal } from '../limit/deadline.js';
import { isPrivateIpLiteral, normalizeIp } from './ip.js';
import { bypassesProxy } from './no-proxy.js';

export { isPrivateIpLiteral } from './ip.js';

/** Timeouts and identity for a client. */
export interface HttpOptions {
  readonly connectTimeoutMs?: number;
  readonly headersTimeoutMs?: number;
  readonly bodyTimeoutMs?: number;
  readonly userAgent?: string;
  /** Connect to this Unix socket instead of TCP (the Docker Engine). */
  readonly socketPath?: string;
  /** TLS material for a TCP engine or a registry (PEM). */
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string };
  /**
   * The environment whose HTTP(S)_PROXY / NO_PROXY apply (registries yes, the engine socket no).
   * A proxy agent is built only when one of the proxy variables is set.
   */
  readonly proxyEnv?: Readonly<Record<string, string | undefined>>;
  /**
   * Called with the target of every new connection before it is opened; throwing refuses it. Tests use it
   * to record connect attempts (a guard must refuse before anything connects).
   */
  readonly onConnect?: (target: { readonly hostname: string; readonly port: string; readonly protocol: string }) => void;
  /** What answers at the other end, for the hints of connection errors (default `registry`; `receiver`: a notification sink). */
  readonly peer?: Peer;
  /** The DNS lookup of every connection (node's `dns.lookup` by default); tests inject `EAI_AGAIN` with it. */
  readonly lookup?: LookupFunction;
}

/**
 * TLS material of one registry host (a hosts.toml `ca` and `client`; docs/mirrors.md), PEM text. Requests with the
 * same `id` share a connection pool; a different `id` gets its own undici Agent.
 */
export interface RequestTls {
  /** Identifies the material (e.g. the files it was read from), never its content. */
  readonly id: string;
  /** CA certificates added to the system roots; with any, the host is verified even when it is otherwise insecure. */
  readonly ca: readonly string[];
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
}

/** One request. */
export interface HttpRequest {
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  /** A body in memory, or a stream opened afresh for every attempt (large blobs; `length` is sent as Content-Length). */
  readonly body?: string | Uint8Array | StreamBody;
  readonly signal?: AbortSignal | undefined;
  /**
   * Hands a 2xx response body to this function chunk by chunk instead of keeping it in memory (blob
   * copies); `maxBytes` still applies. Called once per attempt, so it must start afresh each time.
   */
  readonly receive?: (chunks: AsyncIterable<Buffer>, response?: ReceivedResponse) => Promise<void>;
  /** Overall deadline for this request, body included. */
  readonly deadlineMs: number;
  /** Largest body accepted; larger bodies fail before they are fully read. */
  readonly maxBytes: number;
  /** Skip TLS certificate verification (insecure registries only, as dockerd does). */
  readonly insecureTls?: boolean;
  /** The host's own CA certificates and client certificate (hosts.toml), if any. */
  readonly tls?: RequestTls | undefined;
  /** Follow redirects (default true). */
  readonly followRedirects?: boolean;
  /** This request's wait for the response headers, over the client's (an engine's pull answers once it found the image). */
  readonly headersTimeoutMs?: number | undefined;
  /** This request's longest pause between body chunks, over the client's; 0: none (a stream with its own watchdog). */
  readonly bodyTimeoutMs?: number | undefined;
}

/** The status and headers of the response whose body `receive` reads (a 206 to a `Range` request, say). */
export interface ReceivedResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
}

/** A request body read from a stream, reopened for each attempt (a retry or the HTTPS → HTTP probe). */
export interface StreamBody {
  readonly length: number;
  /** False when `open` can give the stream only once (bytes piped from a download): no retries then. */
  readonly replayable?: boolean;
  open(): Readable;
}

function isStreamBody(body: HttpRequest['body']): body is StreamBody {
  return typeof body === 'object' && !(body instanceof Uint8Array);
}

/** A request whose connection is taken over once the peer agreed to switch protocols. */
export interface UpgradeRequest {
  readonly method: 'POST' | 'GET';
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  /** The `Upgrade:` protocol, e.g. `tcp`. */
  readonly protocol: string;
  readonly signal?: AbortSignal | undefined;
  /** Until the `101` answer. */
  readonly deadlineMs: number;
  readonly insecureTls?: boolean;
}

/** A fully read response. Header names are lower-case. */
export interface HttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** The URL that answered, after redirects. */
  readonly url: URL;
}

/** Sends requests. */
export interface HttpClient {
  send(req: HttpRequest): Promise<HttpResponse>;
  /**
   * Sends a request with `Connection: Upgrade` and `Upgrade: protocol` and, once the peer answered `101`,
   * hands over the connection (the Docker Engine's hijacked attach). Any other answer fails with ERR_NETWORK.
   */
  upgrade(req: UpgradeRequest): Promise<Duplex>;
  close(): Promise<void>;
}

const tlsCodes = new Set([
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'EPROTO',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

function codeOf(error: unknown): string | undefined {
  let e: unknown = error;
  for (let i = 0; i < 4 && typeof e === 'object' && e !== null; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string'
    ? ((error as { code: string }).code)
    : undefined;
}

/** Codes of a TCP connection that was never made: no byte reached the host:port. */
const noConnectionCodes = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * How a request failed to connect: `timeout` (no answer to the SYN within the connect timeout: a blackhole),
 * `refused` (refused, unreachable, or no address), or undefined when a connection was made (or for any other
 * error). The registry client neither falls back to HTTP on the same port after either, nor retries a timeout.
 */
export function connectFailure(error: unknown): 'timeout' | 'refused' | undefined {
  if (!(error instanceof ResolverError) || error.code !== 'ERR_NETWORK') return undefined;
  const code = codeOf(error.cause);
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'timeout';
  return code !== undefined && noConnectionCodes.has(code) ? 'refused' : undefined;
}

/** True when a transport error is a TLS failure (used for the HTTPS → HTTP fallback on insecure hosts). */
export function isTlsError(error: unknown): boolean {
  return error instanceof ResolverError && error.code === 'ERR_TLS';
}

/** The proxy a request went through: its variable and host (never its userinfo), for connection errors. */
interface ProxyUsed {
  readonly variable: string;
  readonly host: string;
}

/** Connection errors that, behind a proxy, are the proxy's: the client connects only to the proxy. */
const connectCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/** What answers at the other end of a client: the hints of its connection errors name it. */
export type Peer = 'registry' | 'engine' | 'receiver';

const peerName: Record<Peer, string> = { registry: 'registry name', engine: 'engine host', receiver: 'receiver URL' };

function transportError(error: unknown, url: URL, deadlineMs: number, deadlinePassed: boolean, caller: AbortSignal | undefined, peer: Peer, proxy: ProxyUsed | undefined): ResolverError {
  const where = url.host;
  if (caller?.aborted === true) return new ResolverError('ERR_ABORTED', `request to ${where} was cancelled`, { cause: error });
  if (deadlinePassed) {
    return new ResolverError('ERR_NETWORK', `${where} did not answer completely within ${deadlineMs / 1000} s`, { cause: error });
  }
  const code = codeOf(error) ?? 'unknown';
  const message = error instanceof Error ? error.message : String(error);
  if (proxy !== undefined && connectCodes.has(code)) {
    const what: Record<string, string> = { ECONNREFUSED: 'refused the connection', ECONNRESET: 'reset the connection', ENOTFOUND: 'has a name DNS does not know', EAI_AGAIN: 'could not be looked up (EAI_AGAIN)', UND_ERR_CONNECT_TIMEOUT: 'did not accept the connection in time' };
    return new ResolverError('ERR_NETWORK', `the proxy ${proxy.host} (${proxy.variable}) for ${where} ${what[code] ?? `is unreachable (${code})`}`, {
      cause: error,
      details: [`check that the proxy is running, or correct ${proxy.variable} (NO_PROXY lists hosts reached directly)`],
    });
  }
  if (tlsCodes.has(code) || /ssl|tls|certificate/i.test(message)) {
    const hint = code === 'CERT_NOT_YET_VALID' ? 'the system clock looks wrong'
      : peer === 'registry' ? 'check the registry certificate, or mark a loopback/test registry insecure'
      : `check the ${peer === 'engine' ? 'engine' : 'receiver'}'s certificate`;
    return new ResolverError('ERR_TLS', `TLS connection to ${where} failed (${code}): ${message}`, { cause: error, details: [hint] });
  }
  const text: Record<string, string> = {
    ECONNREFUSED: peer === 'engine' ? `connection to ${where} refused` : `connection to ${where} refused: is the ${peer} running and the port right?`,
    ECONNRESET: `connection to ${where} was reset`,
    ENOTFOUND: `DNS lookup of ${url.hostname} failed (ENOTFOUND): check the ${peerName[peer]}`,
    EAI_AGAIN: `DNS lookup of ${url.hostname} failed temporarily (EAI_AGAIN)`,
    UND_ERR_CONNECT_TIMEOUT: `connecting to ${where} timed out`,
    UND_ERR_HEADERS_TIMEOUT: `${where} sent no response headers in time`,
    UND_ERR_BODY_TIMEOUT: `${where} stopped sending the response body`,
    ENOENT: 'the socket does not exist (ENOENT)',
    EACCES: 'permission denied on the socket (EACCES)',
    EHOSTUNREACH: `${where} is unreachable`,
    ENETUNREACH: `network unreachable for ${where}`,
  };
  return new ResolverError('ERR_NETWORK', text[code] ?? `request to ${where} failed (${code}): ${message}`, { cause: error });
}

function headerRecord(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/** True when the environment names an HTTP(S) proxy. */
export function usesProxy(env: Readonly<Record<string, string | undefined>> | undefined): boolean {
  if (env === undefined) return false;
  return ['http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY'].some((k) => (env[k] ?? '') !== '');
}

/** Builds a client. Call only from a composition root. */
export function createHttpClient(options: HttpOptions = {}): HttpClient {
  const connect = {
    timeout: options.connectTimeoutMs ?? 5_000,
    ...(options.socketPath === undefined ? {} : { socketPath: options.socketPath }),
    ...(options.lookup === undefined ? {} : { lookup: options.lookup }),
    ...(options.tls ?? {}),
  };
  const agentOptions = {
    connect,
    headersTimeout: options.headersTimeoutMs ?? 15_000,
    bodyTimeout: options.bodyTimeoutMs ?? 15_000,
  };
  const env = options.proxyEnv;
  const proxyConfigured = env !== undefined && usesProxy(env);
  // Lower case wins when both are set, as in EnvHttpProxyAgent itself; passed explicitly (empty when unset)
  // so the environment given, not process.env, decides.
  const pick = (name: string): string => env?.[name.toLowerCase()] ?? env?.[name.toUpperCase()] ?? '';
  const noProxy = pick('no_proxy');
  const hook = options.onConnect;
  const makeAgent = (insecure: boolean, proxied: boolean, tls: RequestTls | undefined): Dispatcher => {
    // The host's own material: its CAs on top of the system roots (as containerd's SystemCertPool + AppendCertsFromPEM),
    // its client certificate.
    const own = tls === undefined ? {} : {
      ...(tls.ca.length === 0 ? {} : { ca: [...rootCertificates, ...tls.ca] }),
      ...(tls.cert === undefined ? {} : { cert: tls.cert }), ...(tls.key === undefined ? {} : { key: tls.key }),
    };
    // Unverified TLS needs no CA store; an empty list spares loading ~140 root certificates (~28 ms).
    const opts = insecure ? { ...agentOptions, connect: { ...connect, ...own, rejectUnauthorized: false, ca: [] } } : { ...agentOptions, connect: { ...connect, ...own } };
    if (!proxied || env === undefined) {
      if (hook === undefined) return new Agent(opts);
      const base = buildConnector(opts.connect);
      return new Agent({
        ...opts,
        connect: (target, callback) => {
          try {
            hook({ hostname: target.hostname, port: target.port, protocol: target.protocol });
          } catch (error) {
            callback(error instanceof Error ? error : new Error(String(error)), null);
            return;
          }
          base(target, callback);
        },
      });
    }
    return new EnvHttpProxyAgent({
      ...opts,
      // Plain-HTTP targets go in absolute form, as Go's ProxyFromEnvironment (dockerd) and curl send
      // them; many proxies refuse CONNECT to non-TLS ports. HTTPS targets are tunnelled with CONNECT.
      proxyTunnel: false,
      // The registry's TLS inside the tunnel: ProxyAgent ignores `connect` for it and verifies with the
      // defaults, so without this an insecure registry or a certs.d CA failed behind an HTTPS proxy.
      requestTls: { ...(options.tls ?? {}), ...own, ...(insecure ? { rejectUnauthorized: false, ca: [] } : {}) },
      httpProxy: pick('http_proxy'),
      httpsProxy: pick('https_proxy'),
      // NO_PROXY is decided before this agent is chosen (bypassesProxy).
      noProxy: '',
    });
  };
  const proxyUsed = (url: URL): ProxyUsed | undefined => {
    if (!proxyConfigured || bypassesProxy(url, noProxy)) return undefined;
    const name = url.protocol === 'https:' ? 'https_proxy' : 'http_proxy';
    const variable = (env[name] ?? '') !== '' ? name : name.toUpperCase();
    const value = pick(name);
    if (value === '') return undefined;
    try {
      return { variable, host: new URL(value.includes('://') ? value : `http://${value}`).host };
    } catch {
      return { variable, host: '(unparsable)' };
    }
  };
  const agents = new Map<string, Dispatcher>();
  const agentFor = (url: URL, insecure: boolean, tls: RequestTls | undefined): Dispatcher => {
    // Loopback never goes through a proxy (13.19), as Go's ProxyFromEnvironment (dockerd) decides;
    // NO_PROXY is honoured by EnvHttpProxyAgent for everything else.
    const proxied = proxyConfigured && !bypassesProxy(url, noProxy);
    // Plain HTTP has no TLS: the host's material would only split the pool.
    const material = url.protocol === 'https:' ? tls : undefined;
    const key = `${String(insecure)} ${String(proxied)} ${material?.id ?? ''}`;
    let agent = agents.get(key);
    if (agent === undefined) {
      agent = makeAgent(insecure, proxied, material);
      agents.set(key, agent);
    }
    return agent;
  };
  const userAgent = options.userAgent ?? 'resolver/0.1';

  async function once(req: HttpRequest, url: URL, headers: Record<string, string>, signal: AbortSignal): Promise<HttpResponse> {
    // Redirects to another host (blob storage) leave the host's TLS material behind.
    const dispatcher = agentFor(url, req.insecureTls === true, url.host === req.url.host ? req.tls : undefined);
    const body = req.body === undefined ? null : isStreamBody(req.body) ? req.body.open() : req.body;
    const sent = isStreamBody(req.body) ? { ...headers, 'content-length': String(req.body.length) } : headers;
    // undici closes the connection after every HEAD unless told otherwise (a guard against servers that
    // send a body anyway, undici#258). Registries do not, and the daemon's budget is one HEAD per tag and
    // check: a new TCP + TLS connection for each cost ~2.5x the CPU (bench/README.md). A broken response
    // fails that one request, which is retried on a new connection.
    const res = await request(url, {
      method: req.method, headers: sent, body, signal, dispatcher, ...(req.method === 'HEAD' ? { reset: false } : {}),
      ...(req.headersTimeoutMs === undefined ? {} : { headersTimeout: req.headersTimeoutMs }),
      ...(req.bodyTimeoutMs === undefined ? {} : { bodyTimeout: req.bodyTimeoutMs }),
    });
    const declared = Number.parseInt(String(res.headers['content-length'] ?? ''), 10);
    if (Number.isFinite(declared) && declared > req.maxBytes && req.method !== 'HEAD') {
      res.body.destroy();
      throw new ResolverError('ERR_MANIFEST_INVALID', `${url.host} announced ${declared} bytes for ${redactUrl(url)}, more than the ${req.maxBytes}-byte limit`);
    }
    if (req.receive !== undefined && res.statusCode >= 200 && res.statusCode < 300) {
      let total = 0;
      const limited = async function* (): AsyncGenerator<Buffer> {
        for await (const chunk of res.body) {
          const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
          total += buf.byteLength;
          if (total > req.maxBytes) throw new ResolverError('ERR_MANIFEST_INVALID', `${url.host} sent more than ${req.maxBytes} bytes for ${redactUrl(url)}`);
          yield buf;
        }
      };
      try {
        await req.receive(limited(), { status: res.statusCode, headers: headerRecord(res.headers) });
      } finally {
        res.body.destroy();
      }
      return { status: res.statusCode, headers: headerRecord(res.headers), body: Buffer.alloc(0), url };
    }
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of res.body) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      total += buf.byteLength;
      if (total > req.maxBytes) {
        res.body.destroy();
        throw new ResolverError('ERR_MANIFEST_INVALID', `${url.host} sent more than ${req.maxBytes} bytes for ${redactUrl(url)}`);
      }
      chunks.push(buf);
    }
    return { status: res.statusCode, headers: headerRecord(res.headers), body: Buffer.concat(chunks), url };
  }

  return {
    async send(req) {
      // A deadline signal that clears its timer and unlinks its listener, not AbortSignal.timeout/any: a daemon
      // sends hundreds of requests a second under one long-lived shutdown signal, and those pile up until they
      // expire. Its DeadlineError is what a body read cut by the deadline throws: worded as transportError's.
      const where = req.url.host;
      const deadline = deadlineSignal(req.deadlineMs, { what: where, code: 'ERR_NETWORK', message: `${where} did not answer completely within ${req.deadlineMs / 1000} s`, signal: req.signal });
      try {
        return await sendWithin(req, deadline.signal, () => deadline.expired);
      } finally {
        deadline.clear();
      }
    },
    async upgrade(req) {
      const where = req.url.host;
      const deadline = deadlineSignal(req.deadlineMs, { what: where, code: 'ERR_NETWORK', message: `${where} did not answer within ${req.deadlineMs / 1000} s`, signal: req.signal });
      try {
        const dispatcher = agentFor(req.url, req.insecureTls === true, undefined);
        // Agent.dispatch needs the origin beside the path.
        const options = { origin: req.url.origin, path: `${req.url.pathname}${req.url.search}`, method: req.method, headers: { 'user-agent': userAgent, ...req.headers }, protocol: req.protocol, signal: deadline.signal };
        const { socket } = await dispatcher.upgrade(options);
        return socket;
      } catch (error) {
        if (error instanceof ResolverError) throw error;
        throw transportError(error, req.url, req.deadlineMs, deadline.expired, req.signal, options.peer ?? 'registry', proxyUsed(req.url));
      } finally {
        deadline.clear();
      }
    },
    async close() {
      await Promise.all([...agents.values()].map((a) => a.close()));
    },
  };

  async function sendWithin(req: HttpRequest, signal: AbortSignal, deadlinePassed: () => boolean): Promise<HttpResponse> {
    let url = req.url;
    let headers: Record<string, string> = { 'user-agent': userAgent, ...req.headers };
    const origin = req.url.origin;
    for (let hop = 0; ; hop++) {
      let res: HttpResponse;
      try {
        res = await once(req, url, headers, signal);
      } catch (error) {
        if (error instanceof ResolverError) throw error;
        throw transportError(error, url, req.deadlineMs, deadlinePassed(), req.signal, options.peer ?? 'registry', proxyUsed(url));
      }
      const location = res.headers['location'];
      if (req.followRedirects === false || ![301, 302, 303, 307, 308].includes(res.status) || location === undefined) return res;
      if (hop >= 10) throw new ResolverError('ERR_REGISTRY_HTTP', `too many redirects from ${redactUrl(req.url)}`);
      const next = new URL(location, url);
      if (next.protocol !== 'https:' && next.protocol !== 'http:') {
        throw new ResolverError('ERR_REGISTRY_HTTP', `${url.host} redirected to an unsupported URL scheme ${next.protocol}`);
      }
      // Judged on the normalised address (13.4): `[::ffff:7f00:2]` and `[64:ff9b::7f00:2]` are 127.0.0.2.
      if ((normalizeIp(next.hostname) ?? next.hostname) !== (normalizeIp(req.url.hostname) ?? req.url.hostname) && isPrivateIpLiteral(next.hostname)) {
        throw new ResolverError('ERR_REGISTRY_HTTP', `${url.host} redirected to the private address ${next.host}; refused`);
      }
      if (next.origin !== origin) {
        // Never carry credentials to another origin (distribution-spec; undici's fetch does the same).
        const { authorization: _a, cookie: _c, ...rest } = headers;
        headers = rest;
      }
      url = next;
    }
  }
}
