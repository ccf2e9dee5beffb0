/**
 * Starts a private Docker Engine (`dockerd` as root, vfs storage, no iptables, no bridge, data root
 * and socket in a folder of its own) for the demo and the tests.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/** A running private engine. */
export interface RunningDockerd {
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

/**
 * A killed dockerd leaves its managed containerd's pid file behind; where PID 1 does not reap orphans
 * (as on these VMs) the pid names a zombie and dockerd waits for it forever. Remove such a stale file.
 */
async function clearStaleContainerdPid(dir: string): Promise<void> {
  const pidFile = join(dir, 'exec', 'containerd', 'containerd.pid');
  const pid = (await readFile(pidFile, 'utf8').catch(() => '')).trim();
  if (pid === '') return;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const state = /\) (\w)/.exec(stat)?.[1];
  if (stat === '' || state === 'Z' || state === 'X') await unlink(pidFile).catch(() => undefined);
}

/** Lazily unmounts what a dockerd (killed or not) left mounted under `dir`, deepest first. */
export async function unmountUnder(dir: string): Promise<void> {
  const mounts = (await readFile('/proc/mounts', 'utf8').catch(() => ''))
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) {
    await new Promise<void>((resolve) => execFile('umount', ['-l', m], () => resolve()));
  }
}

/** Starts `binary` with its state under `dir`; resolves when `/_ping` answers. */
export async function startDockerd(options: { binary: string; dir: string; extraArgs?: readonly string[]; timeoutMs?: number }): Promise<RunningDockerd> {
  const { dir } = options;
  await mkdir(dir, { recursive: true });
  await clearStaleContainerdPid(dir);
  const socket = join(dir, 'docker.sock');
  const log = await open(join(dir, 'dockerd.log'), 'a');
  const child = spawn(options.binary, [
    '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '-H', `unix://${socket}`,
    '--pidfile', join(dir, 'docker.pid'), '--storage-driver', 'vfs', '--iptables=false', '--bridge=none',
    ...(options.extraArgs ?? []),
  ], { stdio: ['ignore', log.fd, log.fd], detached: false });
  const exited = new Promise<never>((_, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`dockerd exited with ${code}; see ${join(dir, 'dockerd.log')}`)));
  });
  exited.catch(() => undefined);
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const ready = (async () => {
    while (Date.now() < deadline) {
      if (await ping(socket)) return;
      await delay(100);
    }
    throw new Error(`dockerd did not answer on ${socket}; see ${join(dir, 'dockerd.log')}`);
  })();
  await Promise.race([ready, exited]);
  await log.close();
  return {
    socket,
    dockerHost: `unix://${socket}`,
    dir,
    process: child,
    stop: async () => {
      await new Promise<void>((resolve) => {
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
      });
      await unmountUnder(dir);
    },
  };
}
