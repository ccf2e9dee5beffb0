/**
 * Starts a private Podman (Debian 12's 4.3) Docker-compatible API: `podman system service` on a unix
 * socket in a folder of its own, with its own storage (vfs), run root, containers.conf and
 * registries.conf (the loopback test registries are plain-HTTP), nothing shared with a system Podman.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/** A running private Podman service. */
export interface RunningPodman {
  readonly socket: string;
  readonly dockerHost: string;
  readonly dir: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: '/_ping', method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

/** True when this process may raise resource limits (CAP_SYS_RESOURCE, bit 24 of CapEff). */
export async function hasSysResource(): Promise<boolean> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return hex !== undefined && (BigInt(`0x${hex}`) & (1n << 24n)) !== 0n;
}

async function hardLimit(name: string): Promise<number | undefined> {
  const limits = await readFile('/proc/self/limits', 'utf8').catch(() => '');
  const line = limits.split('\n').find((l) => l.startsWith(name));
  const hard = line?.slice(name.length).trim().split(/\s+/)[1];
  return hard === undefined || hard === 'unlimited' ? undefined : Number(hard);
}

/**
 * `default_ulimits` for a sandbox without CAP_SYS_RESOURCE. Podman asks runc for nofile/nproc limits
 * above what it may set (containers/common even lowers its own nproc to pid_max first), and the
 * container then fails with "error setting rlimit type 6: operation not permitted". Limits at or
 * below the service's own hard limits always work.
 */
async function sandboxUlimits(): Promise<string[]> {
  const pidMax = Number((await readFile('/proc/sys/kernel/pid_max', 'utf8').catch(() => '32768')).trim()) || 32768;
  const nproc = Math.min(pidMax, (await hardLimit('Max processes')) ?? pidMax);
  const nofile = Math.min(1_048_576, (await hardLimit('Max open files')) ?? 1024);
  return [`nofile=${nofile}:${nofile}`, `nproc=${nproc}:${nproc}`];
}

/** Starts `podman system service` with everything under `dir`; resolves when `/_ping` answers. */
export async function startPodman(options: { dir: string; insecureRegistries: readonly string[]; binary?: string; timeoutMs?: number }): Promise<RunningPodman> {
  const { dir } = options;
  for (const d of ['root', 'run', 'tmp', 'xdg-run', 'xdg-config', 'xdg-data', 'volumes', 'libpod', 'cni']) await mkdir(join(dir, d), { recursive: true, mode: 0o700 });
  const ulimits = (await hasSysResource()) ? [] : await sandboxUlimits();
  const toml = (xs: readonly string[]): string => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;
  await writeFile(join(dir, 'containers.conf'), [
    '[containers]',
    ...(ulimits.length === 0 ? [] : [`default_ulimits = ${toml(ulimits)}`]),
    'netns = "none"',
    '[engine]',
    'runtime = "runc"',
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    `events_logfile_path = ${JSON.stringify(join(dir, 'events.log'))}`,
    `tmp_dir = ${JSON.stringify(join(dir, 'tmp'))}`,
    `volume_path = ${JSON.stringify(join(dir, 'volumes'))}`,
    `static_dir = ${JSON.stringify(join(dir, 'libpod'))}`,
    '[network]',
    'network_backend = "cni"',
    `network_config_dir = ${JSON.stringify(join(dir, 'cni'))}`,
    '',
  ].join('\n'));
  await writeFile(join(dir, 'storage.conf'), `[storage]\ndriver = "vfs"\ngraphroot = ${JSON.stringify(join(dir, 'root'))}\nrunroot = ${JSON.stringify(join(dir, 'run'))}\n`);
  await writeFile(join(dir, 'registries.conf'), [
    'unqualified-search-registries = []',
    ...options.insecureRegistries.flatMap((r) => ['[[registry]]', `location = ${JSON.stringify(r)}`, 'insecure = true']),
    '',
  ].join('\n'));

  const socket = join(dir, 'podman.sock');
  const log = await open(join(dir, 'podman.log'), 'a');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: dir,
    CONTAINERS_CONF: join(dir, 'containers.conf'),
    CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf'),
    CONTAINERS_REGISTRIES_CONF: join(dir, 'registries.conf'),
    XDG_RUNTIME_DIR: join(dir, 'xdg-run'),
    XDG_CONFIG_HOME: join(dir, 'xdg-config'),
    XDG_DATA_HOME: join(dir, 'xdg-data'),
    TMPDIR: join(dir, 'tmp'),
  };
  const child = spawn(options.binary ?? 'podman', [
    '--root', join(dir, 'root'), '--runroot', join(dir, 'run'), '--storage-driver', 'vfs', '--tmpdir', join(dir, 'tmp'),
    'system', 'service', '--time', '0', `unix://${socket}`,
  ], { env, stdio: ['ignore', log.fd, log.fd] });
  const exited = new Promise<never>((_, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`podman system service exited with ${code}; see ${join(dir, 'podman.log')}`)));
  });
  exited.catch(() => undefined);
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const ready = (async () => {
    while (Date.now() < deadline) {
      if (await ping(socket)) return;
      await delay(100);
    }
    throw new Error(`podman did not answer on ${socket}; see ${join(dir, 'podman.log')}`);
  })();
  try {
    await Promise.race([ready, exited]);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    await log.close();
  }
  return {
    socket,
    dockerHost: `unix://${socket}`,
    dir,
    process: child,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        resolve();
        return;
      }
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill('SIGTERM');
    }),
  };
}
