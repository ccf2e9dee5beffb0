/**
 * Reads the mirrors the engine itself uses (docs/mirrors.md): `hosts.toml` under each hosts root
 * (`/etc/docker/certs.d`, `/etc/containerd/certs.d` by default; the first root with a file for the namespace wins,
 * and within a root containerd's `host_port_`, `host:port`, `_default` order), daemon.json `registry-mirrors`
 * (Docker Hub only), and resolver's own `mirrors.hosts` (which wins over both for its namespaces).
 * Each namespace is read once per `MirrorTable` (the daemon builds a new one on SIGHUP).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { z } from 'zod';
import { ResolverError } from '../errors.js';
import { parseJson } from '../json/parse-json.js';
import { daemonJsonMirrors, hostsFromObject, namespaceDirs, parseHostsToml, type Endpoint, type MirrorSources, type NamespaceHosts } from './hosts.js';

export { defaultDaemonConfig, defaultHostsDirs, type MirrorSources } from './hosts.js';

/** Looks up the hosts of a namespace. */
export interface MirrorTable {
  /** undefined: nothing configured (the registry alone). */
  hostsFor(namespace: string): Promise<NamespaceHosts | undefined>;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new ResolverError('ERR_CONFIG_INVALID', `cannot read ${path} (${code ?? String(error)})`, { cause: error });
  }
}

async function readPem(file: string, where: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ResolverError('ERR_CONFIG_INVALID', `${where}: cannot read ${file} (${code ?? String(error)})`, { cause: error });
  }
  if (!text.includes('-----BEGIN ')) throw new ResolverError('ERR_CONFIG_INVALID', `${where}: ${file} is not a PEM file`);
  return text;
}

/**
 * Loads the `ca` and `client` files an endpoint names (relative paths are already resolved against the hosts
 * file's folder) and checks them with node's TLS (a key that does not fit its certificate is an error here, not
 * at the first connection). The first client pair is presented; more are a warning (node's TLS takes one per key
 * type, Go's picks per handshake).
 */
async function loadTls(e: Endpoint, warnings: string[]): Promise<Endpoint> {
  if (e.ca.length === 0 && e.client.length === 0) return e;
  const where = `${e.source}: host ${e.host}`;
  const ca = await Promise.all(e.ca.map((f) => readPem(f, `${where}: ca`)));
  const [pair, ...rest] = e.client;
  if (rest.length > 0) warnings.push(`${where}: client: only the first pair (${pair?.[0] ?? ''}) is presented; ${rest.length} more ignored`);
  const cert = pair === undefined ? undefined : await readPem(pair[0], `${where}: client`);
  const key = pair === undefined ? undefined : pair[1] === '' ? cert : await readPem(pair[1], `${where}: client`);
  try {
    createSecureContext({ ...(ca.length === 0 ? {} : { ca }), ...(cert === undefined ? {} : { cert, key }) });
  } catch (error) {
    const files = [...e.ca, ...(pair === undefined ? [] : pair.filter((f) => f !== ''))].join(', ');
    throw new ResolverError('ERR_CONFIG_INVALID', `${where}: ${files}: not a usable CA, certificate and key (${error instanceof Error ? error.message : String(error)})`, { cause: error });
  }
  return { ...e, tls: { id: JSON.stringify([e.ca, pair ?? []]), ca, ...(cert === undefined ? {} : { cert, key }) } };
}

/** The hosts of `namespace` with their TLS files loaded. */
async function withTls(hosts: NamespaceHosts | undefined): Promise<NamespaceHosts | undefined> {
  if (hosts?.endpoints.some((e) => e.ca.length > 0 || e.client.length > 0) !== true) return hosts;
  const warnings = [...hosts.warnings];
  const endpoints: Endpoint[] = [];
  for (const e of hosts.endpoints) endpoints.push(await loadTls(e, warnings));
  return { ...hosts, endpoints, warnings };
}

/** The hosts of `namespace` from the sources, or undefined. Errors name the file. */
export async function readNamespace(sources: MirrorSources, namespace: string): Promise<NamespaceHosts | undefined> {
  return withTls(await readNamespaceFiles(sources, namespace));
}

async function readNamespaceFiles(sources: MirrorSources, namespace: string): Promise<NamespaceHosts | undefined> {
  const own = sources.hosts[namespace] ?? sources.hosts['_default'];
  if (own !== undefined) return hostsFromObject(namespace, own, `resolver.yaml mirrors.hosts.${sources.hosts[namespace] === undefined ? '_default' : namespace}`);
  for (const root of sources.hostsDirs) {
    for (const dir of namespaceDirs(namespace)) {
      const file = join(root, dir, 'hosts.toml');
      const text = await readText(file);
      if (text !== undefined) return parseHostsToml(namespace, text, file, join(root, dir));
    }
  }
  if (namespace === 'docker.io' && sources.daemonConfig !== undefined) {
    const text = await readText(sources.daemonConfig);
    if (text === undefined) return undefined;
    const json = parseJson(DaemonJson, text);
    if (!json.success && json.reason === 'syntax') throw new ResolverError('ERR_CONFIG_INVALID', `${sources.daemonConfig} is not valid JSON`, { details: ['dockerd would refuse to start with it too'] });
    const mirrors = json.success ? json.data['registry-mirrors'] : undefined;
    if (mirrors === undefined) return undefined;
    if (!Array.isArray(mirrors)) throw new ResolverError('ERR_CONFIG_INVALID', `${sources.daemonConfig}: registry-mirrors: expected an array of URLs`);
    if (mirrors.length === 0) return undefined;
    return daemonJsonMirrors(mirrors, sources.daemonConfig);
  }
  return undefined;
}

/** What is read of dockerd's daemon.json (anything but an object has no mirrors; the list is checked by daemonJsonMirrors). */
const DaemonJson = z.object({ 'registry-mirrors': z.unknown().optional() });

/**
 * A table that reads each namespace once. A namespace whose file is broken has no mirrors (containerd ignores
 * such a file too); `onProblem` hears why, once, and each unused key's warning once.
 */
export function mirrorTable(sources: MirrorSources, onProblem: (message: string) => void): MirrorTable {
  const cache = new Map<string, Promise<NamespaceHosts | undefined>>();
  return {
    hostsFor(namespace) {
      let entry = cache.get(namespace);
      if (entry === undefined) {
        entry = readNamespace(sources, namespace).then(
          (hosts) => {
            for (const w of hosts?.warnings ?? []) onProblem(w);
            return hosts;
          },
          (error: unknown) => {
            onProblem(`${error instanceof Error ? error.message : String(error)}; ${namespace} is used without mirrors`);
            return undefined;
          },
        );
        cache.set(namespace, entry);
      }
      return entry;
    },
  };
}
