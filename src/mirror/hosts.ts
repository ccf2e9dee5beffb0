/**
 * Registry mirrors with containerd's `hosts.toml` semantics (containerd docs/hosts.md; docs/mirrors.md), pure:
 * a hosts file (TOML text, or the same fields from resolver's YAML) becomes an ordered list of endpoints for a
 * registry namespace, and `endpointsFor` picks the ones allowed to do an operation.
 *
 * - `[host."URL"]` entries are tried first, in file order; `server` (default: the namespace's own registry) last.
 * - `capabilities` (default `["pull","resolve","push"]`): only hosts with `resolve` answer tags; `pull` hosts
 *   serve content by digest; writes go to hosts with `push` (in practice the origin).
 * - A URL without a scheme is https; its path is the API root (`/v2` appended unless `override_path`).
 * - `skip_verify` skips TLS verification for that host; `ca` (a file or a list) adds CA certificates to the system
 *   roots for it, and a host with one is verified (loopback too); `client` names client certificate and key files
 *   (a path, a list of paths, or a list of [cert, key] pairs; an empty key: the key is in the certificate's file);
 *   `[header]` (the server's) and `[host."URL".header]` add request headers (a string or a list of strings each).
 *   Paths are resolved relative to the hosts file's folder; read.ts loads the files.
 *
 * The TOML is parsed by smol-toml (a complete TOML 1.0 parser, 13 KB minified, no dependencies); this file then
 * checks the hosts.toml fields strictly: a wrong type or an unknown capability is an error naming the file and
 * key; a key this client does not use (`proxy`, `dial_timeout`, or one it does not know) is a warning, since the
 * engine may still use it. Header values never appear in a message (they may be secrets).
 */
import { parse as parseToml, TomlError } from 'smol-toml';
import { ResolverError } from '../errors.js';
import type { RequestTls } from '../http/http.js';

/** What a host may be used for. */
export type Capability = 'pull' | 'resolve' | 'push';
export const capabilities: readonly Capability[] = ['pull', 'resolve', 'push'];

/** One place a registry namespace's content can come from. */
export interface Endpoint {
  /** undefined: the namespace's own registry, reached on the scheme the client picks for it (insecure hosts: HTTPS, then HTTP). */
  readonly scheme: 'https' | 'http' | undefined;
  /** `host` or `host:port`. */
  readonly host: string;
  /** API root (`/v2`, or the URL's path with `/v2` appended, or as given with `override_path`). */
  readonly path: string;
  readonly capabilities: readonly Capability[];
  readonly skipVerify: boolean;
  /** CA files (absolute, or relative to the hosts file's folder once resolved). */
  readonly ca: readonly string[];
  /** Client certificate and key files; an empty key: the key is in the certificate's file. */
  readonly client: readonly (readonly [cert: string, key: string])[];
  /** Extra request headers (lower-case names); values may be secrets and are never logged. */
  readonly headers: Readonly<Record<string, readonly string[]>>;
  /** The `ca` and `client` files as loaded (read.ts); undefined when the endpoint names none or they are not loaded yet. */
  readonly tls?: RequestTls | undefined;
  /** True for the `server` entry (the upstream, tried last). */
  readonly upstream: boolean;
  /** Where it was configured, for messages: a file path, `daemon.json registry-mirrors`, or `resolver.yaml mirrors.hosts`. */
  readonly source: string;
}

/** The endpoints of one namespace, in the order they are tried (server last). */
export interface NamespaceHosts {
  readonly namespace: string;
  readonly endpoints: readonly Endpoint[];
  /** Keys this client does not use, as `file: key: why`. */
  readonly warnings: readonly string[];
}

/** The fields of a hosts file as parsed (TOML table or YAML mapping). */
export type HostsObject = Readonly<Record<string, unknown>>;

const ignoredKeys: Readonly<Record<string, string>> = {
  proxy: 'resolver uses the HTTP(S)_PROXY environment for every host',
  dial_timeout: 'resolver uses its own connect timeout (5 s)',
};
const hostKeys = new Set(['capabilities', 'skip_verify', 'ca', 'client', 'header', 'override_path', ...Object.keys(ignoredKeys)]);

function invalid(source: string, key: string, message: string): ResolverError {
  return new ResolverError('ERR_CONFIG_INVALID', `${source}: ${key}: ${message}`, {
    details: ['see containerd docs/hosts.md for the format, or docs/mirrors.md'],
  });
}

/** The namespace's own registry host (`docker.io` is served at registry-1.docker.io). */
export function apiHostOf(namespace: string): string {
  return namespace === 'docker.io' ? 'registry-1.docker.io' : namespace;
}

/** The namespace of an API host (the inverse of `apiHostOf`). */
export function namespaceOf(apiHost: string): string {
  return apiHost === 'registry-1.docker.io' || apiHost === 'index.docker.io' ? 'docker.io' : apiHost;
}

/**
 * The directory names under a hosts root that may hold a namespace's `hosts.toml`, in containerd's order:
 * `host_port_`, `host:port` (for a host with a port), the host itself, then `_default`.
 */
export function namespaceDirs(namespace: string): string[] {
  const i = namespace.lastIndexOf(':');
  const withPort = i > 0 && !namespace.endsWith(']');
  return [...(withPort ? [`${namespace.slice(0, i)}_${namespace.slice(i + 1)}_`] : []), namespace, '_default'];
}

/** Parses a host URL (`https://mirror.lan:5000`, `mirror.lan`, `http://10.0.0.1:5000/base`). */
export function parseHostUrl(value: string, source: string, key: string, overridePath: boolean): Pick<Endpoint, 'scheme' | 'host' | 'path'> {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `https://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw invalid(source, key, `"${value}" is not a host URL (https://HOST[:PORT][/PATH])`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid(source, key, `"${value}": the scheme must be http or https`);
  if (url.username !== '' || url.password !== '') throw invalid(source, key.replace(/\/\/[^/@]*@/, '//…@'), 'a host URL must not carry a user or password (put credentials in config.json under the mirror\'s host)');
  if (url.search !== '' || url.hash !== '') throw invalid(source, key, `"${value}": a host URL has no query or fragment`);
  if (url.host === '') throw invalid(source, key, `"${value}" has no host`);
  let path = url.pathname.replace(/\/+$/, '');
  if (!overridePath && !path.endsWith('/v2')) path = `${path}/v2`;
  return { scheme: url.protocol === 'http:' ? 'http' : 'https', host: url.host, path };
}

function stringList(value: unknown, source: string, key: string): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((v): v is string => typeof v === 'string')) return value;
  throw invalid(source, key, 'expected a string or an array of strings');
}

function bool(value: unknown, source: string, key: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw invalid(source, key, 'expected true or false');
  return value;
}

function capabilityList(value: unknown, source: string, key: string): Capability[] {
  if (value === undefined) return [...capabilities];
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) throw invalid(source, key, 'expected an array such as ["pull", "resolve"]');
  const out: Capability[] = [];
  for (const c of value) {
    const lower = c.toLowerCase();
    if (!(capabilities as readonly string[]).includes(lower)) throw invalid(source, key, `unknown capability "${c}" (pull, resolve or push)`);
    if (!out.includes(lower as Capability)) out.push(lower as Capability);
  }
  return out;
}

/** `client`: a path, a list of paths, or a list of [cert, key] pairs (containerd docs/hosts.md). */
function clientList(value: unknown, source: string, key: string, dir: string | undefined): [string, string][] {
  if (value === undefined) return [];
  const items = typeof value === 'string' ? [value] : value;
  const usage = 'expected a path, a list of paths, or a list of [cert, key] pairs';
  if (!Array.isArray(items)) throw invalid(source, key, usage);
  return items.map((item: unknown): [string, string] => {
    if (typeof item === 'string' && item !== '') return [relativeTo(dir, item), ''];
    if (Array.isArray(item) && item.length === 2 && typeof item[0] === 'string' && item[0] !== '' && typeof item[1] === 'string') {
      return [relativeTo(dir, item[0]), item[1] === '' ? '' : relativeTo(dir, item[1])];
    }
    throw invalid(source, key, usage);
  });
}

/** An HTTP header name (RFC 9110 token). */
const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers resolver sets itself: a hosts file may not replace them. */
const reservedHeaders = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'te', 'trailer', 'keep-alive', 'proxy-connection']);

/** `[header]`: name = "value" or ["value", …]. The message names the header, never its value. */
function headerTable(value: unknown, source: string, key: string): Record<string, string[]> {
  if (value === undefined) return {};
  if (!isTable(value)) throw invalid(source, key, 'expected a table such as [header] x-custom = "value"');
  const out: Record<string, string[]> = {};
  for (const [name, v] of Object.entries(value)) {
    if (!headerName.test(name)) throw invalid(source, `${key}.${name.replace(/[^\x20-\x7e]/g, '?')}`, 'not a valid HTTP header name');
    const lower = name.toLowerCase();
    if (reservedHeaders.has(lower)) throw invalid(source, `${key}.${name}`, 'resolver sets this header itself');
    const values = typeof v === 'string' ? [v] : Array.isArray(v) && v.every((x): x is string => typeof x === 'string') ? v : undefined;
    if (values === undefined) throw invalid(source, `${key}.${name}`, 'expected a string or an array of strings (the value is not shown)');
    if (values.some((x) => /[\r\n\0]/.test(x))) throw invalid(source, `${key}.${name}`, 'a value holds a line break or NUL (the value is not shown)');
    out[lower] = [...(out[lower] ?? []), ...values];
  }
  return out;
}

function isTable(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function relativeTo(dir: string | undefined, file: string): string {
  return dir === undefined || file.startsWith('/') ? file : `${dir.replace(/\/+$/, '')}/${file}`;
}

function endpointOf(url: string | undefined, table: Readonly<Record<string, unknown>>, ctx: { source: string; key: string; dir: string | undefined; upstream: boolean; namespace: string }, warnings: string[]): Endpoint {
  const overridePath = bool(table['override_path'], ctx.source, `${ctx.key}override_path`);
  const where = url === undefined
    ? { scheme: undefined, host: apiHostOf(ctx.namespace), path: '/v2' }
    : parseHostUrl(url, ctx.source, ctx.key === '' ? 'server' : ctx.key.replace(/\.$/, ''), overridePath);
  for (const key of Object.keys(table)) {
    const why = ignoredKeys[key];
    if (why !== undefined) warnings.push(`${ctx.source}: ${ctx.key}${key}: not used (${why}); the engine may still use it`);
  }
  return {
    ...where,
    capabilities: capabilityList(table['capabilities'], ctx.source, `${ctx.key}capabilities`),
    skipVerify: bool(table['skip_verify'], ctx.source, `${ctx.key}skip_verify`),
    ca: table['ca'] === undefined ? [] : stringList(table['ca'], ctx.source, `${ctx.key}ca`).map((f) => relativeTo(ctx.dir, f)),
    client: clientList(table['client'], ctx.source, `${ctx.key}client`, ctx.dir),
    headers: headerTable(table['header'], ctx.source, `${ctx.key}header`),
    upstream: ctx.upstream,
    source: ctx.source,
  };
}

/**
 * The endpoints a hosts file names for `namespace`: its `[host."URL"]` entries in order, then `server` (or the
 * namespace's own registry). `dir` resolves relative `ca` paths (the folder of the hosts.toml).
 */
export function hostsFromObject(namespace: string, object: HostsObject, source: string, dir?: string): NamespaceHosts {
  const warnings: string[] = [];
  for (const key of Object.keys(object)) {
    if (key !== 'server' && key !== 'host' && !hostKeys.has(key)) warnings.push(`${source}: ${key}: unknown key, ignored`);
  }
  const server = object['server'];
  if (server !== undefined && typeof server !== 'string') throw invalid(source, 'server', 'expected a URL string such as "https://registry-1.docker.io"');
  const host = object['host'] ?? {};
  if (!isTable(host)) throw invalid(source, 'host', 'expected tables such as [host."https://mirror.lan"]');
  const endpoints: Endpoint[] = [];
  for (const [url, table] of Object.entries(host)) {
    // A URL with userinfo is refused; the message must not repeat the password.
    const shown = url.replace(/\/\/[^/@]*@/, '//…@');
    const key = `host."${shown}".`;
    if (!isTable(table)) throw invalid(source, `host."${shown}"`, 'expected a table of settings (capabilities, skip_verify, ...)');
    for (const k of Object.keys(table)) {
      if (!hostKeys.has(k)) warnings.push(`${source}: ${key}${k}: unknown key, ignored`);
    }
    endpoints.push(endpointOf(url, table, { source, key, dir, upstream: false, namespace }, warnings));
  }
  endpoints.push(endpointOf(server === '' ? undefined : server, object, { source, key: '', dir, upstream: true, namespace }, warnings));
  return { namespace, endpoints, warnings };
}

/** Parses the text of a `hosts.toml` for `namespace`; `source` (its path) names it in errors. */
export function parseHostsToml(namespace: string, text: string, source: string, dir?: string): NamespaceHosts {
  let object: HostsObject;
  try {
    object = parseToml(text);
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    const first = error.message.split('\n')[0] ?? 'invalid TOML';
    throw new ResolverError('ERR_CONFIG_INVALID', `${source}:${error.line}:${error.column}: ${first.replace(/^Invalid TOML document: /, '')}`, {
      details: ['fix the TOML (containerd would ignore this file too and use the registry itself)'],
    });
  }
  return hostsFromObject(namespace, object, source, dir);
}

/** `registry-mirrors` of daemon.json as Docker Hub endpoints (pull only: dockerd uses them for Hub alone). */
export function daemonJsonMirrors(mirrors: readonly unknown[], source: string): NamespaceHosts {
  const endpoints: Endpoint[] = [];
  for (const [i, m] of mirrors.entries()) {
    if (typeof m !== 'string') throw invalid(source, `registry-mirrors[${i}]`, 'expected a URL string');
    const where = parseHostUrl(m, source, `registry-mirrors[${i}]`, false);
    if (!/^https?:\/\//i.test(m)) throw invalid(source, `registry-mirrors[${i}]`, `"${m}" needs an http:// or https:// scheme (dockerd refuses it too)`);
    endpoints.push({ ...where, capabilities: ['pull'], skipVerify: false, ca: [], client: [], headers: {}, upstream: false, source: `${source} registry-mirrors` });
  }
  endpoints.push({ scheme: 'https', host: 'registry-1.docker.io', path: '/v2', capabilities: [...capabilities], skipVerify: false, ca: [], client: [], headers: {}, upstream: true, source: `${source} registry-mirrors` });
  return { namespace: 'docker.io', endpoints, warnings: [] };
}

/** Where mirrors are read from. */
export interface MirrorSources {
  /** Roots holding `NAMESPACE/hosts.toml`, first wins. */
  readonly hostsDirs: readonly string[];
  /** dockerd's daemon.json (for `registry-mirrors`), or undefined for none. */
  readonly daemonConfig: string | undefined;
  /** resolver.yaml `mirrors.hosts`: namespace → the fields of a hosts.toml. */
  readonly hosts: Readonly<Record<string, HostsObject>>;
}

/** The default roots: Docker's (which dockerd's containerd image store reads) and containerd's. */
export const defaultHostsDirs = ['/etc/docker/certs.d', '/etc/containerd/certs.d'] as const;
export const defaultDaemonConfig = '/etc/docker/daemon.json';

/** The operation a request is part of: tags are resolved, content by digest is pulled, everything else pushed. */
export type Operation = Capability;

/** The endpoints that may do `operation`, in order. With no hosts configured, the origin alone. */
export function endpointsFor(hosts: NamespaceHosts, operation: Operation): Endpoint[] {
  return hosts.endpoints.filter((e) => e.capabilities.includes(operation));
}

/** True when the endpoint is the namespace's own registry (no rewrite needed). */
export function isOrigin(e: Endpoint, namespace: string): boolean {
  return e.host.toLowerCase() === apiHostOf(namespace).toLowerCase() && e.path === '/v2';
}

/**
 * The mirror repositories the engine should pull a child from before the origin, for the mirrors it does not
 * apply itself (docs/mirrors.md): dockerd applies daemon.json `registry-mirrors` (Docker Hub) on both stores.
 * The classic store knows no hosts.toml; Docker 26.1.5's containerd store does not read it either (measured:
 * test/e2e/mirror-engine.test.ts; newer moby reads /etc/docker/certs.d through containerd's ConfigureHosts), and
 * no engine knows resolver.yaml's `mirrors.hosts`. So hosts.toml and YAML mirrors are named by resolver on both
 * stores (`_store` is kept for an engine known to apply them). Only hosts at the API root (`/v2`) can be named
 * as an engine repository.
 */
export function enginePullRepositories(hosts: NamespaceHosts | undefined, _store: 'classic' | 'containerd', repoPath: string): string[] {
  if (hosts === undefined) return [];
  return endpointsFor(hosts, 'pull')
    .filter((e) => !isOrigin(e, hosts.namespace) && e.path === '/v2')
    .filter((e) => !e.source.endsWith('registry-mirrors'))
    .map((e) => `${e.host}/${repoPath}`);
}
