/**
 * The container-running half of the Engine (create, attach, start, wait, kill, remove, resize) over the engine
 * client's requests (http-engine.ts), as the docker CLI makes them: the attach before the start (a plain
 * streaming POST, or with stdin the connection upgraded to `tcp` and hijacked), waits with
 * `condition=next-exit` (and `removed` with --rm), the multiplexed output split by stream-demux.ts. A refusal
 * is worded as the docker CLI shows it ("Error response from daemon: …") and coded for `docker run`'s exit
 * status (containerFailureCode); a lost engine stays ERR_ENGINE_UNAVAILABLE.
 */
import type { Duplex } from 'node:stream';
import { z } from 'zod';
import { ResolverError } from '../errors.js';
import type { HttpResponse } from '../http/http.js';
import { sanitizeRemoteText } from '../http/remote-text.js';
import { parseJson } from '../json/parse-json.js';
import { settleWithin } from '../limit/deadline.js';
import type { ContainerIo, ContainerRunner, ContainerSpec, RunAttachedOptions } from './engine.js';
import { answeredOk, engineMessage, pathSegment as segment } from './engine-connection.js';
import { containerFailureCode } from './engine.js';
import type { Call, EngineCalls } from './http-engine.js';
import { FrameSplitter } from './stream-demux.js';

const Created = z.object({ Id: z.string(), Warnings: z.array(z.unknown()).nullish() });
const Waited = z.object({ StatusCode: z.number(), Error: z.object({ Message: z.string().nullish() }).nullish() });

/** A refusal to create, attach or start, as the docker CLI shows it and with `docker run`'s code. */
function containerRefusal(res: HttpResponse): ResolverError {
  const message = engineMessage(res);
  return new ResolverError(containerFailureCode(message), `Error response from daemon: ${message}`);
}

/** The container-running half over `calls`. */
export function createHttpRunner(calls: EngineCalls): ContainerRunner {
  const { where } = calls;
  const short = (id: string): string => id.slice(0, 12);

  /** One request whose refusal is a container error; a status in `settled` (already so, or gone) is success. */
  async function call(c: Call, settled: readonly number[] = []): Promise<HttpResponse> {
    const res = await calls.send(c);
    if (answeredOk(res) || settled.includes(res.status)) return res;
    throw containerRefusal(res);
  }

  /** `POST /containers/{id}/wait?condition=…`: the exit code, once it comes (no deadline: the container decides). */
  async function wait(id: string, condition: 'next-exit' | 'removed', signal: AbortSignal): Promise<number> {
    const res = await call({ method: 'POST', path: `/containers/${segment(id)}/wait`, query: { condition }, signal, what: `waiting for container ${short(id)}`, deadlineMs: Number.POSITIVE_INFINITY, headersTimeoutMs: 0, bodyTimeoutMs: 0 });
    const parsed = parseJson(Waited, res.body.toString('utf8'));
    if (!parsed.success) throw new ResolverError('ERR_CONTAINER_FAILED', `the engine at ${where} sent an unreadable answer to the wait for container ${short(id)}`);
    const error = parsed.data.Error?.Message;
    if (error !== undefined && error !== null && error !== '') throw new ResolverError('ERR_CONTAINER_FAILED', `Error response from daemon: ${sanitizeRemoteText(error, 1000)}`);
    return parsed.data.StatusCode;
  }

  /** Writes the container's output to `io` as it comes; resolves when the engine closed the stream. */
  async function pump(chunks: AsyncIterable<Buffer>, io: ContainerIo, tty: boolean): Promise<void> {
    const frames = new FrameSplitter();
    try {
      for await (const chunk of chunks) {
        if (tty) {
          io.stdout.write(chunk);
          continue;
        }
        for (const piece of frames.push(chunk)) {
          if (piece.stream === 'stdout') io.stdout.write(piece.data);
          else if (piece.stream === 'stderr') io.stderr.write(piece.data);
          else io.stderr.write(`error from daemon in stream: ${sanitizeRemoteText(piece.data.toString('utf8'), 1000)}\n`);
        }
      }
    } catch {
      // The stream was closed under us (the run ended, or failed and says so itself).
    }
  }

  return {
    async createContainer(spec: ContainerSpec) {
      const body = {
        Image: spec.image,
        ...(spec.cmd === undefined ? {} : { Cmd: [...spec.cmd] }),
        Env: [...spec.env],
        Tty: spec.tty,
        OpenStdin: spec.stdin,
        StdinOnce: spec.stdin,
        AttachStdin: spec.stdin,
        AttachStdout: true,
        AttachStderr: true,
        HostConfig: { ...(spec.networkMode === undefined ? {} : { NetworkMode: spec.networkMode }), Binds: [...spec.binds], AutoRemove: spec.autoRemove },
      };
      const res = await call({
        method: 'POST', path: '/containers/create', what: `creating a container from ${spec.image}`,
        query: { ...(spec.name === undefined ? {} : { name: spec.name }), ...(spec.platform === undefined ? {} : { platform: spec.platform }) },
        headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
      const parsed = parseJson(Created, res.body.toString('utf8'));
      if (!parsed.success) throw new ResolverError('ERR_CONTAINER_FAILED', `the engine at ${where} created a container but sent no ID`);
      const warnings = (parsed.data.Warnings ?? []).filter((w): w is string => typeof w === 'string' && w !== '').map((w) => sanitizeRemoteText(w, 1000));
      return { id: parsed.data.Id, warnings };
    },

    async runAttached(id: string, io: ContainerIo, options: RunAttachedOptions) {
      // Closes the attach and the waits when the run ends, or at once if the start fails (a container that never
      // ran never answers them, and an open request would keep the process alive).
      const life = new AbortController();
      const attach: Call = {
        method: 'POST', path: `/containers/${segment(id)}/attach`, what: `attaching to container ${short(id)}`, signal: life.signal,
        query: { stream: '1', stdout: '1', stderr: '1', ...(options.stdin ? { stdin: '1' } : {}) },
      };
      let socket: Duplex | undefined;
      try {
        let output: AsyncIterable<Buffer>;
        if (options.stdin) {
          // stdin needs the connection both ways: hijacked, as the docker CLI does (`Upgrade: tcp`).
          const s = await calls.upgrade(attach, 'tcp');
          socket = s;
          output = s;
          if (io.stdin !== undefined) io.stdin.pipe(s);
        } else {
          output = await calls.open(attach, containerRefusal);
        }
        const ended = pump(output, io, options.tty);
        // Waiting before start needs condition=next-exit (as the docker CLI does): the default, not-running, is
        // already true of a created container and answers 0 at once. With AutoRemove the docker CLI waits for
        // `removed` instead; so does this, to return once the container is gone, but the code comes from
        // next-exit: Podman 4.3 answers `removed` with StatusCode 0 whatever the exit.
        const waiting = wait(id, 'next-exit', life.signal);
        const removed = options.autoRemove ? wait(id, 'removed', life.signal) : undefined;
        waiting.catch(() => undefined);
        removed?.catch(() => undefined);
        await call({ method: 'POST', path: `/containers/${segment(id)}/start`, what: `starting container ${short(id)}` }, [304]);
        options.onStarted?.();
        const code = await waiting;
        if (removed !== undefined) await settleWithin(removed.catch(() => undefined), 10_000);
        // The engine closes the attach stream once it has sent the container's last bytes (the docker CLI waits
        // for that without a deadline); on a loaded machine that can take more than a moment.
        await settleWithin(ended, 10_000);
        return code;
      } catch (error) {
        if (error instanceof ResolverError) throw error;
        throw new ResolverError('ERR_CONTAINER_FAILED', `running container ${short(id)} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      } finally {
        if (socket !== undefined) io.stdin?.unpipe(socket);
        socket?.destroy();
        life.abort();
      }
    },

    async start(id) {
      await call({ method: 'POST', path: `/containers/${segment(id)}/start`, what: `starting container ${short(id)}` }, [304]);
    },

    async kill(id, sig) {
      // 404: gone; 409: not running any more.
      const res = await calls.send({ method: 'POST', path: `/containers/${segment(id)}/kill`, query: { signal: sig }, what: `signalling container ${short(id)}` });
      if (answeredOk(res) || res.status === 404 || res.status === 409) return;
      throw new ResolverError('ERR_CONTAINER_FAILED', `signalling container ${short(id)} failed: ${engineMessage(res)}`);
    },

    async remove(id) {
      // 404: already gone; 409: the engine is removing it already (AutoRemove).
      const res = await calls.send({ method: 'DELETE', path: `/containers/${segment(id)}`, query: { force: 'true', v: 'true' }, what: `removing container ${short(id)}` });
      if (answeredOk(res) || res.status === 404 || res.status === 409) return;
      throw new ResolverError('ERR_CONTAINER_FAILED', `removing container ${short(id)} failed: ${engineMessage(res)}`);
    },

    async resize(id, rows, columns) {
      // Best effort (the container may have exited).
      await calls.send({ method: 'POST', path: `/containers/${segment(id)}/resize`, query: { h: String(rows), w: String(columns) }, what: `resizing container ${short(id)}` }).catch(() => undefined);
    },
  };
}
