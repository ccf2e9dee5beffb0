/**
 * Reads the mirrors the engine itself uses (docs/mirrors.md): `hosts.toml` under each hosts root
 * (`/etc/docker/certs.d`, `/etc/containerd/certs.d` by default; the first root with a file for the namespace wins,
 * and within a root containerd's `host_port_`, `host:port`, `_default` order), daemon.json `registry-mirrors`
 * (Docker Hub only), and resolver's own `mirrors.hosts` (which wins over both for its namespaces).
 * Each namespace is read once per `MirrorTable` (the daemon builds a new one on SIGHUP).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ResolverError } from '../errors.js';
import { daemonJsonMirrors, hostsFromObject, namespaceDirs, parseHostsToml, type MirrorSources, type NamespaceHosts } from './hosts.js';

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

/** The hosts of `namespace` from the sources, or undefined. Errors name the file. */
export async function readNamespace(sources: MirrorSources, namespace: string): Promise<NamespaceHosts | undefined> {
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
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ResolverError('ERR_CONFIG_INVALID', `${sources.daemonConfig} is not valid JSON`, { details: ['dockerd would refuse to start with it too'] });
    }
    const mirrors = typeof json === 'object' && json !== null ? (json as Record<string, unknown>)['registry-mirrors'] : undefined;
    if (mirrors === undefined) return undefined;
    if (!Array.isArray(mirrors)) throw new ResolverError('ERR_CONFIG_INVALID', `${sources.daemonConfig}: registry-mirrors: expected an array of URLs`);
    if (mirrors.length === 0) return undefined;
    return daemonJsonMirrors(mirrors, sources.daemonConfig);
  }
  return undefined;
}

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
