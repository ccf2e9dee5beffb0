/**
 * Where the Docker Engine is, resolved exactly as the docker CLI 28 does (docker/cli
 * `cli/command/cli.go` resolveContextName / resolveDefaultDockerEndpoint, `opts/hosts.go` ParseHost,
 * `cli/context/docker/load.go`):
 *
 *   `--context` or `--host`/`-H` (both together are refused) > `DOCKER_HOST` > `DOCKER_CONTEXT` >
 *   `currentContext` in `$DOCKER_CONFIG/config.json` (`docker context use`) > the default socket.
 *
 * (So `DOCKER_HOST` beats every context except an explicit `--context`, as in docker.) The `default` context is the host from `--host`/`DOCKER_HOST` or the
 * default socket, with `DOCKER_TLS_VERIFY`/`DOCKER_TLS`/`DOCKER_CERT_PATH`. A named context is read from
 * the docker CLI's store: `$DOCKER_CONFIG/contexts/meta/<sha256(name)>/meta.json` and its TLS material
 * from `contexts/tls/<sha256(name)>/docker/{ca,cert,key}.pem`. TLS material is read when the endpoint is
 * resolved, as docker does; it never applies to a unix socket.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ResolverError } from '../errors.js';
import { parseJson } from '../json/parse-json.js';

/** TLS material of a TCP engine (PEM bytes). `verify: false` is docker's SkipTLSVerify / `--tls` without `--tlsverify`. */
export interface EngineTls {
  readonly ca?: Buffer | undefined;
  readonly cert?: Buffer | undefined;
  readonly key?: Buffer | undefined;
  readonly verify: boolean;
}

interface EndpointBase {
  /** docker's normalised host string, e.g. `unix:///var/run/docker.sock`, `tcp://127.0.0.1:2375`. */
  readonly display: string;
  /** The docker context in use (`default` for flags, DOCKER_HOST and the default socket). */
  readonly context?: string | undefined;
  /** Where the choice came from, for messages: `--host`, `DOCKER_HOST`, `context "x" (DOCKER_CONTEXT)`, `default socket`. */
  readonly source?: string | undefined;
}

/** An engine endpoint. */
export type EngineEndpoint =
  | (EndpointBase & { readonly kind: 'unix'; readonly socketPath: string })
  | (EndpointBase & { readonly kind: 'tcp'; readonly host: string; readonly port: number; readonly tls: EngineTls | undefined });

/** The default socket on Linux. */
export const defaultSocket = '/var/run/docker.sock';

/** The name docker gives the virtual context made of flags, environment and the default socket. */
export const defaultContextName = 'default';

/** What decides the endpoint. */
export interface EndpointSources {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly homeDir: string;
  /** `--host` / `-H`. */
  readonly host?: string | undefined;
  /** `--context`. */
  readonly context?: string | undefined;
}

/** Reads a whole file; `undefined` when it does not exist. Other errors throw. */
export type FileReader = (path: string) => Buffer | undefined;

/** Largest config, metadata or PEM file read (they are a few kB). */
const maxFileBytes = 1 << 20;

/**
 * Reads a regular file of at most 1 MiB without blocking on a FIFO or a device (opened non-blocking and
 * checked with fstat first: a synchronous read of a FIFO would block the process past any signal).
 */
const readIfExists: FileReader = (path) => {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'not a regular file' });
    if (st.size > maxFileBytes) throw Object.assign(new Error(`${path} is too large`), { code: `larger than ${maxFileBytes} bytes` });
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
};

const ConfigFile = z.object({ currentContext: z.string().optional() }).loose();

const ContextMeta = z.object({
  Name: z.string(),
  Endpoints: z.record(z.string(), z.unknown()).optional(),
});

const DockerEndpointMeta = z.object({ Host: z.string().optional(), SkipTLSVerify: z.boolean().optional() }).loose();

/** `$DOCKER_CONFIG`, else `~/.docker` (docker's config.Dir()). */
export function dockerConfigDir(env: Readonly<Record<string, string | undefined>>, homeDir: string): string {
  const dir = env['DOCKER_CONFIG'];
  return dir === undefined || dir === '' ? join(homeDir, '.docker') : dir;
}

/** The folder of a context in the store: the hex sha256 of its name (docker's contextdirOf). */
export function contextDir(name: string): string {
  return createHash('sha256').update(name).digest('hex');
}

/** Which context is in use and why (docker's resolveContextName). Pure apart from `currentContext`. */
export function contextName(sources: EndpointSources, currentContext: () => string | undefined): { name: string; source: string } {
  const { env } = sources;
  if (sources.context !== undefined && sources.context !== '') return { name: sources.context, source: '--context' };
  if (sources.host !== undefined && sources.host !== '') return { name: defaultContextName, source: '--host' };
  if ((env['DOCKER_HOST'] ?? '') !== '') return { name: defaultContextName, source: 'DOCKER_HOST' };
  const fromEnv = env['DOCKER_CONTEXT'] ?? '';
  if (fromEnv !== '') return { name: fromEnv, source: 'DOCKER_CONTEXT' };
  const current = currentContext();
  if (current !== undefined && current !== '') return { name: current, source: 'currentContext in config.json (docker context use)' };
  return { name: defaultContextName, source: 'default socket' };
}

function usage(message: string, details: readonly string[] = []): ResolverError {
  return new ResolverError('ERR_USAGE', message, { details });
}

function sshRefusal(raw: string, origin: string): ResolverError {
  return usage(`${origin} names an ssh:// engine (${raw}); resolver does not tunnel the Docker API over ssh`, [
    'forward the remote socket and point resolver at the local end, e.g.:',
    '  ssh -nNT -L "$HOME/.docker-remote.sock:/var/run/docker.sock" USER@HOST &',
    '  DOCKER_HOST="unix://$HOME/.docker-remote.sock" resolver …',
    'or run resolver on that host (it resolves for the platform of the engine it talks to)',
  ]);
}

/**
 * Parses a docker host string as docker's ParseHost does: empty = the default socket, no scheme = tcp,
 * `tcp://` without a port = 2375 (docker uses 2375 here even with TLS), `unix://` without a path = the
 * default socket. `ssh://`, `npipe://` and `fd://` are refused with a hint; anything else is docker's
 * `invalid bind address format`.
 */
/**
 * A host string with any userinfo (`user:password@`) removed, for messages: docker accepts and ignores it,
 * and it may hold a secret. Not a parser: it cuts everything between `//` (or the start) and the last `@`
 * before the first `/`.
 */
export function redactDockerHost(raw: string): string {
  return raw.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/@]*@/i, '$1');
}

export function parseDockerHost(secretRaw: string, origin: string): { kind: 'unix'; socketPath: string; display: string } | { kind: 'tcp'; host: string; port: number; display: string } {
  // Every message shows the value without userinfo; the tcp parser ignores userinfo, as docker does.
  const raw = redactDockerHost(secretRaw);
  const value = raw.trim();
  if (value === '') return { kind: 'unix', socketPath: defaultSocket, display: `unix://${defaultSocket}` };
  const sep = value.indexOf('://');
  const proto = sep === -1 ? 'tcp' : value.slice(0, sep);
  const rest = sep === -1 ? value : value.slice(sep + 3);
  switch (proto) {
    case 'unix': {
      if (rest.includes('://')) throw usage(`${origin}: invalid proto, expected unix: ${raw}`);
      const socketPath = rest === '' ? defaultSocket : rest;
      return { kind: 'unix', socketPath, display: `unix://${socketPath}` };
    }
    case 'tcp':
      return parseTcp(rest, raw, origin);
    case 'ssh':
      throw sshRefusal(raw, origin);
    case 'npipe':
      throw usage(`${origin}: npipe:// engines exist only on Windows (${raw})`, ['on Linux use unix:///path/to/docker.sock or tcp://HOST:PORT']);
    case 'fd':
      throw usage(`${origin}: fd:// is a dockerd listen address, not one a client can connect to (${raw})`, ['use unix:///path/to/docker.sock or tcp://HOST:PORT']);
    default:
      throw usage(`${origin}: invalid bind address format: ${raw}`, ['use unix:///path/to/docker.sock or tcp://HOST:PORT']);
  }
}

function parseTcp(rest: string, raw: string, origin: string): { kind: 'tcp'; host: string; port: number; display: string } {
  const bad = (why: string): ResolverError => usage(`${origin}: invalid bind address format: ${raw} (${why})`, ['use tcp://HOST:PORT, e.g. tcp://127.0.0.1:2375']);
  if (rest.includes('://')) throw usage(`${origin}: invalid proto, expected tcp: ${raw}`);
  const explicit = /:(\d+)\/?$/.exec(rest);
  const literalPort = explicit === null ? undefined : Number.parseInt(explicit[1] ?? '', 10);
  if (literalPort !== undefined && !(literalPort >= 1 && literalPort <= 65535)) throw bad(`port ${literalPort} is out of range 1-65535`);
  let url: URL;
  try {
    url = new URL(`http://${rest === '' ? 'localhost:2375' : rest}`);
  } catch {
    throw bad('not a host[:port]');
  }
  if (url.search !== '' || url.hash !== '') throw bad('query or fragment');
  if (url.pathname !== '/' && url.pathname !== '') {
    throw usage(`${origin}: ${raw} has a path prefix (${url.pathname}); resolver supports only engines at the root of tcp://HOST:PORT`);
  }
  // WHATWG URL drops a default port (80); docker keeps the literal.
  const port = literalPort ?? 2375;
  const host = url.hostname === '' ? 'localhost' : url.hostname;
  const bare = host.startsWith('[') ? host.slice(1, -1) : host;
  return { kind: 'tcp', host: bare, port, display: `tcp://${host}:${port}` };
}

function readText(read: FileReader, path: string, what: string): Buffer | undefined {
  try {
    return read(path);
  } catch (error) {
    throw usage(`cannot read ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

/** TLS of the default context: DOCKER_TLS_VERIFY / DOCKER_TLS with the files in DOCKER_CERT_PATH (default: the config folder). */
function envTls(env: Readonly<Record<string, string | undefined>>, configDir: string, read: FileReader): EngineTls | undefined {
  // docker: any non-empty value turns these on (DOCKER_TLS_VERIFY=0 too).
  const verify = (env['DOCKER_TLS_VERIFY'] ?? '') !== '';
  if (!verify && (env['DOCKER_TLS'] ?? '') === '') return undefined;
  const certPath = (env['DOCKER_CERT_PATH'] ?? '') === '' ? configDir : (env['DOCKER_CERT_PATH'] ?? '');
  const ca = readText(read, join(certPath, 'ca.pem'), 'the engine CA');
  if (ca === undefined) {
    throw usage(`unable to resolve docker endpoint: open ${join(certPath, 'ca.pem')}: no such file or directory`, ['DOCKER_TLS_VERIFY/DOCKER_TLS need ca.pem (and cert.pem, key.pem for client auth) in DOCKER_CERT_PATH']);
  }
  // docker drops a missing default cert/key and connects without a client certificate.
  return { ca, cert: readText(read, join(certPath, 'cert.pem'), 'the engine client certificate'), key: readText(read, join(certPath, 'key.pem'), 'the engine client key'), verify };
}

/**
 * Resolves the engine endpoint from flags, environment and the docker CLI's config and context store.
 * @throws ResolverError ERR_USAGE for conflicting options, an unknown or unreadable context, an invalid host.
 */
export function resolveEngineEndpoint(sources: EndpointSources, options: { read?: FileReader; onWarning?: (message: string) => void } = {}): EngineEndpoint {
  const read = options.read ?? readIfExists;
  const { env } = sources;
  if ((sources.host ?? '') !== '' && (sources.context ?? '') !== '') throw usage('conflicting options: cannot specify both --host and --context');
  const configDir = dockerConfigDir(env, sources.homeDir);
  const currentContext = (): string | undefined => {
    const file = join(configDir, 'config.json');
    let bytes: Buffer | undefined;
    try {
      bytes = read(file);
    } catch (error) {
      options.onWarning?.(`Error loading config file: ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
      return undefined;
    }
    if (bytes === undefined) return undefined;
    const parsed = parseJson(ConfigFile, bytes.toString('utf8'));
    if (!parsed.success) {
      options.onWarning?.(`Error loading config file: ${file}: not a valid docker config.json; its currentContext is ignored`);
      return undefined;
    }
    return parsed.data.currentContext;
  };
  const chosen = contextName(sources, currentContext);

  if (chosen.name === defaultContextName) {
    const raw = sources.host !== undefined && sources.host !== '' ? sources.host : (env['DOCKER_HOST'] ?? '');
    const shown = redactDockerHost(raw);
    const origin = sources.host !== undefined && sources.host !== '' ? `--host ${shown}` : raw === '' ? 'the default socket' : `DOCKER_HOST=${shown}`;
    const source = raw === '' ? 'default socket' : sources.host !== undefined && sources.host !== '' ? '--host' : 'DOCKER_HOST';
    const parsed = parseDockerHost(raw, origin);
    if (parsed.kind === 'unix') return { ...parsed, context: defaultContextName, source };
    return { ...parsed, tls: envTls(env, configDir, read), context: defaultContextName, source };
  }

  const name = chosen.name;
  const source = `context "${name}" (${chosen.source})`;
  const dir = contextDir(name);
  const metaFile = join(configDir, 'contexts', 'meta', dir, 'meta.json');
  const metaBytes = readText(read, metaFile, `the metadata of context "${name}"`);
  if (metaBytes === undefined) {
    throw usage(`unable to resolve docker endpoint: context "${name}": context not found: open ${metaFile}: no such file or directory`, [
      `the context comes from ${chosen.source}; list contexts with \`docker context ls\`, or use --context default`,
    ]);
  }
  const meta = parseJson(ContextMeta, metaBytes.toString('utf8'));
  if (!meta.success) throw usage(`unable to resolve docker endpoint: context "${name}": ${metaFile} is not valid context metadata`, ['recreate it with `docker context create`']);
  const docker = DockerEndpointMeta.safeParse(meta.data.Endpoints?.['docker']);
  if (meta.data.Endpoints?.['docker'] === undefined || !docker.success) throw usage(`unable to resolve docker endpoint: context "${name}": cannot find docker endpoint in context`);
  const parsed = parseDockerHost(docker.data.Host ?? '', `context "${name}"`);
  if (parsed.kind === 'unix') return { ...parsed, context: name, source };
  const tlsDir = join(configDir, 'contexts', 'tls', dir, 'docker');
  const ca = readText(read, join(tlsDir, 'ca.pem'), `the TLS CA of context "${name}"`);
  const cert = readText(read, join(tlsDir, 'cert.pem'), `the TLS certificate of context "${name}"`);
  const key = readText(read, join(tlsDir, 'key.pem'), `the TLS key of context "${name}"`);
  const skip = docker.data.SkipTLSVerify === true;
  // docker: TLS when the context has TLS material or SkipTLSVerify; plain HTTP otherwise.
  const tls = ca === undefined && cert === undefined && key === undefined && !skip ? undefined : { ca, cert, key, verify: !skip };
  if (tls !== undefined && (cert === undefined) !== (key === undefined)) {
    throw usage(`context "${name}": the TLS material in ${tlsDir} has ${cert === undefined ? 'key.pem but no cert.pem' : 'cert.pem but no key.pem'}`);
  }
  return { ...parsed, tls, context: name, source };
}
