/**
 * Starts a private Docker Engine (`dockerd` as root, vfs storage, no iptables, no bridge, data root
 * and socket in a folder of its own) for the demo and the tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
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

/** Starts `binary` with its state under `dir`; resolves when `/_ping` answers. */
export async function startDockerd(options: { binary: string; dir: string; extraArgs?: readonly string[]; timeoutMs?: number }): Promise<RunningDockerd> {
  const { dir } = options;
  await mkdir(dir, { recursive: true });
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
    stop: () =>
      new Promise<void>((resolve) => {
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
