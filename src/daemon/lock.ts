/**
 * One daemon per state folder, and its control channel (issues 13.7, 13.10, 9.5).
 *
 * The lock is a Unix socket file, `daemon.sock`, inside the state folder, which must be a directory owned
 * by the daemon's user and closed to everyone else (0700; a looser folder we own is tightened, one owned by
 * another user is refused). Only that user (and root) can create a file there, so nobody else can take the
 * lock first or plant a socket that forges `status`: the folder's ownership gives what `SO_PEERCRED` would
 * (Node has no API for it). Clients check the folder and the socket's owner before they trust an answer.
 * The state folder is canonicalised with realpath first, so a trailing slash or a symlink is the same lock.
 *
 * A socket file outlives a kill -9, so a bind that finds one asks it: an answer means a daemon runs (exit
 * 11, naming its pid); a refused connection means it is stale and is replaced. Two daemons starting at once
 * serialise that step on `daemon.lock` (created exclusively, holding the pid; a dead holder's is removed).
 *
 * Protocol: the client sends one JSON line (`{"op":"status"}` or `{"op":"check","dryRun":false}`, optionally
 * with `"image"` and `"platform"` to check one entry, or `{"op":"last-check","image":…,"platform":…}`, which
 * `resolver run` asks: src/daemon/last-check.ts); the daemon answers one JSON line and closes (a refusal is
 * `{"error", "code", "details"}`). Requests are capped at 4 KiB and 5 s.
 */
import { chmod, lstat, mkdir, open, readFile, realpath, stat, unlink } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';
import { ResolverError } from '../errors.js';
import { parseJson } from '../json/parse-json.js';
import { processExists } from '../state/durable-file.js';

/** A request over the control socket. */
export type ControlRequest =
  | { readonly op: 'status' }
  | { readonly op: 'check'; readonly dryRun: boolean; readonly image?: string | undefined; readonly platform?: string | undefined }
  /** When the daemon last checked `image` (canonical) for `platform` (resolved), and its child: LastCheckAnswer. */
  | { readonly op: 'last-check'; readonly image: string; readonly platform: string };

/** A string field of a request, if it is one (bounded by the request's 4 KiB); anything else is absent. */
const TextField = z.unknown().optional().transform((v): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined));

/** One request line as a client sends it; unknown fields are ignored, as they always were. */
const RequestLine = z.discriminatedUnion('op', [
  z.object({ op: z.literal('status') }),
  z.object({ op: z.literal('check'), dryRun: z.unknown().optional().transform((v) => v === true), image: TextField, platform: TextField }),
  z.object({ op: z.literal('last-check'), image: z.string().min(1), platform: z.string().min(1) }),
]);

/** The request a control line asks, or undefined for anything else (answered `{"error":"bad request"}`). */
export function requestOf(line: string): ControlRequest | undefined {
  const parsed = parseJson(RequestLine, line);
  if (!parsed.success) return undefined;
  const r = parsed.data;
  switch (r.op) {
    case 'status':
      return { op: 'status' };
    case 'check':
      return { op: 'check', dryRun: r.dryRun, ...(r.image === undefined ? {} : { image: r.image }), ...(r.platform === undefined ? {} : { platform: r.platform }) };
    case 'last-check':
      return { op: 'last-check', image: r.image, platform: r.platform };
  }
}

/** The socket file's name inside the state folder. */
export const socketName = 'daemon.sock';
const mutexName = 'daemon.lock';
/** sun_path holds 108 bytes with the terminating NUL. */
const maxSocketPath = 107;

const uid = (): number | undefined => process.getuid?.();

/** The canonical state folder, created 0700 when missing. */
export async function canonicalStateDir(stateDir: string): Promise<string> {
  try {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    return await realpath(stateDir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ResolverError('ERR_CONFIG_INVALID', `cannot use the state folder ${stateDir}: ${code}`, { details: ['set stateDir to a folder this user can create and write'] });
  }
}

/** Refuses a state folder another user owns; tightens one of ours that others could enter. */
async function privateDir(dir: string, warn: (message: string) => void): Promise<void> {
  const info = await stat(dir);
  const me = uid();
  if (!info.isDirectory()) throw new ResolverError('ERR_CONFIG_INVALID', `the state folder ${dir} is not a directory`);
  if (me !== undefined && info.uid !== me) {
    throw new ResolverError('ERR_CONFIG_INVALID', `the state folder ${dir} belongs to uid ${info.uid}, not to this user (uid ${me})`, {
      details: ['run the daemon as the folder\'s owner, or give it a stateDir of its own'],
    });
  }
  if ((info.mode & 0o077) !== 0) {
    await chmod(dir, 0o700);
    warn(`the state folder ${dir} was open to other users (mode ${(info.mode & 0o777).toString(8)}); set it to 0700`);
  }
}

/** Runs `fn` with a path for `dir/name` that fits in sun_path (through /proc/self/fd when the real one is too long). */
async function withSocketPath<T>(dir: string, fn: (path: string) => Promise<T>): Promise<T> {
  const direct = join(dir, socketName);
  if (Buffer.byteLength(direct) <= maxSocketPath) return fn(direct);
  const handle = await open(dir, 'r');
  try {
    return await fn(`/proc/self/fd/${handle.fd}/${socketName}`);
  } finally {
    await handle.close();
  }
}

/** Holds `dir/daemon.lock` while `fn` runs (3 s to get it; a dead holder's file is removed). */
async function withMutex<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const file = join(dir, mutexName);
  const end = Date.now() + 3000;
  for (;;) {
    try {
      const handle = await open(file, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
      if (!Number.isInteger(holder) || holder <= 0 || !processExists(holder)) {
        const info = await lstat(file).catch(() => undefined);
        // A file without a pid may be one being written this instant: remove it only once it is old.
        if (Number.isInteger(holder) || (info !== undefined && Date.now() - info.mtimeMs > 2000)) await unlink(file).catch(() => undefined);
      }
      if (Date.now() > end) throw new ResolverError('ERR_ALREADY_RUNNING', `another resolver daemon is starting on the state folder ${dir} (${file})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await fn();
  } finally {
    await unlink(file).catch(() => undefined);
  }
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(path, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function serve(handle: (request: ControlRequest) => Promise<unknown>): Server {
  return createServer((socket: Socket) => {
    let text = '';
    const timer = setTimeout(() => socket.destroy(), 5000);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => clearTimeout(timer));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      if (text.length > 4096) socket.destroy();
      const nl = text.indexOf('\n');
      if (nl === -1) return;
      clearTimeout(timer);
      socket.pause();
      const request = requestOf(text.slice(0, nl));
      if (request === undefined) {
        socket.end(`${JSON.stringify({ error: 'bad request' })}\n`);
        return;
      }
      handle(request).then(
        (answer) => socket.end(`${JSON.stringify(answer)}\n`),
        (error: unknown) => socket.end(`${JSON.stringify({
          error: error instanceof Error ? error.message : String(error), pid: process.pid,
          ...(error instanceof ResolverError ? { code: error.code, details: error.details } : {}),
        })}\n`),
      );
    });
  });
}

/** The held lock. */
export interface Lock {
  /** The canonical state folder. */
  readonly stateDir: string;
  /** Stops answering and removes the socket file. */
  close(): Promise<void>;
}

/** Takes the lock on a state folder; the socket answers `handle`. */
export async function acquireLock(stateDir: string, handle: (request: ControlRequest) => Promise<unknown>, warn: (message: string) => void = () => undefined): Promise<Lock> {
  const dir = await canonicalStateDir(stateDir);
  await privateDir(dir, warn);
  const server = serve(handle);
  const file = join(dir, socketName);
  const ino = await withMutex(dir, () =>
    withSocketPath(dir, async (path) => {
      try {
        await listen(server, path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
        const other = await ask(path, { op: 'status' }, 2000);
        if (other.kind === 'answer') {
          const pid = (other.value as { pid?: unknown } | undefined)?.pid;
          throw new ResolverError('ERR_ALREADY_RUNNING', `another resolver daemon already uses the state folder ${dir}${typeof pid === 'number' ? ` (pid ${pid})` : ''}`, {
            details: ['stop it first (systemctl stop resolver), or give this one another stateDir'],
          });
        }
        if (other.kind === 'no-answer') {
          throw new ResolverError('ERR_ALREADY_RUNNING', `a process holds ${file} but does not answer`, { details: ['if no resolver daemon runs, remove the file'] });
        }
        await unlink(file).catch(() => undefined);
        await listen(server, path);
      }
      await chmod(file, 0o600);
      return (await lstat(file)).ino;
    }),
  ).catch((error: unknown) => {
    server.close();
    if (error instanceof ResolverError) throw error;
    throw new ResolverError('ERR_CONFIG_INVALID', `cannot create the daemon's socket in ${dir}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  });
  return {
    stateDir: dir,
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      // Remove the file only if it is still ours (a second daemon may have replaced a stale one).
      const now = await lstat(file).catch(() => undefined);
      if (now?.ino === ino) await unlink(file).catch(() => undefined);
    },
  };
}

type Asked = { kind: 'answer'; value: unknown } | { kind: 'none' } | { kind: 'no-answer' };

function ask(path: string, request: ControlRequest, timeoutMs: number): Promise<Asked> {
  return new Promise((resolve) => {
    const socket = connect(path);
    let text = '';
    let settled = false;
    const done = (a: Asked): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(a);
    };
    const timer = setTimeout(() => done({ kind: 'no-answer' }), timeoutMs);
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (c: Buffer) => {
      text += c.toString('utf8');
      if (text.length > 64 * 1024 * 1024) done({ kind: 'no-answer' });
    });
    socket.on('end', () => {
      const answer = parseJson(z.unknown(), text);
      done(answer.success ? { kind: 'answer', value: answer.data } : { kind: 'no-answer' });
    });
    socket.on('error', (error: NodeJS.ErrnoException) => done(error.code === 'ECONNREFUSED' || error.code === 'ENOENT' ? { kind: 'none' } : { kind: 'no-answer' }));
  });
}

/** What asking the daemon of a state folder gave. */
export type DaemonAnswer = { readonly kind: 'none' } | { readonly kind: 'answer'; readonly value: unknown } | { readonly kind: 'untrusted'; readonly reason: string };

/**
 * Asks the daemon of a state folder; `none` when no daemon runs there. The answer is trusted only when the
 * folder and the socket belong to this user (or root) and no one else can write the folder.
 */
export async function queryDaemon(stateDir: string, request: ControlRequest = { op: 'status' }, timeoutMs = 3000): Promise<DaemonAnswer> {
  let dir: string;
  try {
    dir = await realpath(stateDir);
  } catch {
    return { kind: 'none' };
  }
  const me = uid();
  const trusted = (owner: number): boolean => me === undefined || owner === me || owner === 0 || me === 0;
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) return { kind: 'none' };
  const sock = await lstat(join(dir, socketName)).catch(() => undefined);
  if (sock === undefined) return { kind: 'none' };
  if (!trusted(info.uid) || (info.mode & 0o022) !== 0) return { kind: 'untrusted', reason: `the state folder ${dir} is writable by other users or belongs to uid ${info.uid}` };
  if (!sock.isSocket() || sock.uid !== info.uid) return { kind: 'untrusted', reason: `${join(dir, socketName)} is not a socket of the folder's owner (uid ${sock.uid})` };
  const asked = await withSocketPath(dir, (path) => ask(path, request, timeoutMs));
  if (asked.kind === 'answer') return asked;
  if (asked.kind === 'none') return { kind: 'none' };
  return { kind: 'untrusted', reason: `the daemon's socket ${join(dir, socketName)} did not answer within ${timeoutMs < 1000 ? `${timeoutMs} ms` : `${Math.round(timeoutMs / 1000)} s`}` };
}
