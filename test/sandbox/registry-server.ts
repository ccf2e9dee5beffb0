/**
 * Starts a private `docker-registry` (Debian's CNCF distribution server) on a free loopback port,
 * anonymous, with htpasswd Basic auth, or with token auth. Used by the demo and the test harness.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/** Auth mode of a sandbox registry. */
export type RegistryAuth =
  | { kind: 'none' }
  | { kind: 'htpasswd'; file: string }
  | { kind: 'token'; realm: string; service: string; issuer: string; rootCertBundle: string };

/** A running registry. */
export interface RunningRegistry {
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function authYaml(auth: RegistryAuth): string {
  switch (auth.kind) {
    case 'none':
      return '';
    case 'htpasswd':
      return `auth:\n  htpasswd:\n    realm: resolver-basic\n    path: ${auth.file}\n`;
    case 'token':
      return `auth:\n  token:\n    realm: ${auth.realm}\n    service: ${auth.service}\n    issuer: ${auth.issuer}\n    rootcertbundle: ${auth.rootCertBundle}\n`;
  }
}

/**
 * Starts `docker-registry` with storage under `dir`. Resolves when it answers /v2/. With `proxy`, it is a
 * pull-through cache of that registry (distribution's proxy mode, docs/mirrors.md).
 */
export async function startRegistry(options: {
  dir: string; auth: RegistryAuth; binary?: string; port?: number; proxy?: { remoteurl: string; ttl?: string };
  /** Serve HTTPS with this certificate and key (PEM files); with `clientcas`, require a client certificate from one of them. */
  tls?: { certificate: string; key: string; clientcas?: readonly string[] };
}): Promise<RunningRegistry> {
  await mkdir(join(options.dir, 'storage'), { recursive: true });
  const port = options.port ?? (await freePort());
  const config = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(options.dir, 'storage')}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    ...(options.tls === undefined ? [] : ['  tls:', `    certificate: ${options.tls.certificate}`, `    key: ${options.tls.key}`,
      ...(options.tls.clientcas === undefined ? [] : ['    clientcas:', ...options.tls.clientcas.map((c) => `      - ${c}`)])]),
    authYaml(options.auth),
    ...(options.proxy === undefined ? [] : ['proxy:', `  remoteurl: ${options.proxy.remoteurl}`, ...(options.proxy.ttl === undefined ? [] : [`  ttl: ${options.proxy.ttl}`])]),
  ].join('\n');
  const configPath = join(options.dir, 'config.yml');
  await writeFile(configPath, config);
  const child = spawn(options.binary ?? 'docker-registry', ['serve', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-4000);
  });
  const exited = new Promise<never>((_, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`docker-registry exited with ${code}: ${stderr}`)));
  });
  const ready = (async () => {
    for (let i = 0; i < 200; i++) {
      if (options.tls !== undefined) {
        // HTTPS (maybe with client certificates required): listening is enough.
        const open = await new Promise<boolean>((r) => {
          const socket = connect(port, '127.0.0.1', () => {
            socket.destroy();
            r(true);
          });
          socket.on('error', () => r(false));
        });
        if (open) return;
        await delay(50);
        continue;
      }
      try {
        const res = await fetch(`http://127.0.0.1:${port}/v2/`);
        await res.arrayBuffer();
        if (res.status === 200 || res.status === 401) return;
      } catch {
        // not listening yet
      }
      await delay(50);
    }
    throw new Error(`docker-registry on port ${port} did not become ready: ${stderr}`);
  })();
  await Promise.race([ready, exited]);
  exited.catch(() => undefined);
  return {
    host: `127.0.0.1:${port}`,
    port,
    dir: options.dir,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          resolve();
          return;
        }
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
