/**
 * Single instance per state folder, and the status channel: the daemon listens on an abstract Unix
 * socket named after the state folder (Linux). A second daemon gets EADDRINUSE; the kernel frees the name
 * the moment the holder dies, kill -9 included (reliability.md §3.5). `resolver status` connects to it.
 */
import { createHash } from 'node:crypto';
import { connect, createServer, type Server } from 'node:net';
import { ResolverError } from '../errors.js';

/** The socket name for a state folder. */
export function lockName(stateDir: string): string {
  return `\0resolver-${createHash('sha256').update(stateDir).digest('hex').slice(0, 24)}`;
}

/** Takes the lock; the server answers every connection with `status()` as JSON. */
export function acquireLock(stateDir: string, status: () => unknown): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => {
      socket.end(`${JSON.stringify(status())}\n`);
    });
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE'
        ? new ResolverError('ERR_ALREADY_RUNNING', `another resolver daemon already uses the state folder ${stateDir}`, { details: ['stop it first (systemctl stop resolver), or give this one another stateDir'] })
        : error);
    });
    server.listen(lockName(stateDir), () => resolve(server));
  });
}

/** Asks a running daemon for its status; undefined when none runs. */
export function queryDaemon(stateDir: string, timeoutMs = 3000): Promise<unknown> {
  return new Promise((resolve) => {
    const socket = connect(lockName(stateDir));
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(undefined);
    }, timeoutMs);
    socket.on('data', (c: Buffer) => (text += c.toString('utf8')));
    socket.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(text) as unknown);
      } catch {
        resolve(undefined);
      }
    });
    socket.on('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
}
