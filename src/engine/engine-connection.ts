/**
 * The one HTTP connection to the Docker Engine: the undici client of src/http/http.ts on the Unix socket, or
 * on TCP with the endpoint's TLS material. The probe (`/version`, `/info`) and the engine client
 * (http-engine.ts) share it, so that a process talks to the engine and the registries over one HTTP stack;
 * dockerode (node:http) loads only to re-create containers (activation; bench/README.md).
 */
import { z } from 'zod';
import { createHttpClient, type HttpClient, type HttpResponse } from '../http/http.js';
import { sanitizeRemoteText } from '../http/remote-text.js';
import { parseJson } from '../json/parse-json.js';
import type { EngineEndpoint } from './docker-host.js';

/** Where engine requests go and how. */
export interface EngineConnection {
  readonly http: HttpClient;
  /** The origin of every request: `http://localhost` on a socket, `http(s)://host:port` on TCP. */
  readonly base: string;
  /** `--tls` without `--tlsverify` (docker's SkipTLSVerify). */
  readonly insecureTls: boolean;
}

/** Builds the connection for an endpoint (no socket is opened until the first request). */
export function engineConnection(endpoint: EngineEndpoint): EngineConnection {
  if (endpoint.kind === 'unix') {
    return { http: createHttpClient({ socketPath: endpoint.socketPath, connectTimeoutMs: 2_000, headersTimeoutMs: 5_000, peer: 'engine' }), base: 'http://localhost', insecureTls: false };
  }
  const tls = endpoint.tls === undefined ? undefined : { ca: endpoint.tls.ca?.toString('utf8'), cert: endpoint.tls.cert?.toString('utf8'), key: endpoint.tls.key?.toString('utf8') };
  const pem = tls === undefined ? undefined : Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined));
  const http = createHttpClient({ connectTimeoutMs: 3_000, headersTimeoutMs: 5_000, peer: 'engine', ...(pem === undefined ? {} : { tls: pem }) });
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  return { http, base: `${tls === undefined ? 'http' : 'https'}://${host}:${endpoint.port}`, insecureTls: endpoint.tls?.verify === false };
}

/** A path segment as the docker CLI sends it (Go's URL.EscapedPath): `/`, `:` and `@` stay, `?`, `#`, `%` and spaces are escaped. */
export function pathSegment(name: string): string {
  return encodeURI(name).replace(/[?#]/g, (c) => encodeURIComponent(c));
}

/** True for a 2xx answer. */
export function answeredOk(res: HttpResponse): boolean {
  return res.status >= 200 && res.status < 300;
}

/** The engine's `{"message": …}` of a refusal. */
const ErrorBody = z.object({ message: z.string() });

/** The engine's message in a refusal, sanitised (its text, or `HTTP <status>` when it sent none). */
export function engineMessage(res: HttpResponse): string {
  const text = res.body.toString('utf8');
  const parsed = parseJson(ErrorBody, text);
  return sanitizeRemoteText(parsed.success ? parsed.data.message : text.trim() === '' ? `HTTP ${res.status}` : text, 1000);
}
