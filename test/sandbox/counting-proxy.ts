/**
 * A reverse proxy in front of a registry that counts, per blob request, the bytes it forwards and the
 * `Range` header the client sent, and that can break the link on demand: cut one response after N bytes
 * (the engine's own retry resumes or not), or go "down" (every blob GET is reset at once, as a dead link
 * is, until it is brought up again). Used by bench/prefetch.mjs and the prefetch e2e test to count at the
 * registry what an engine (or resolver's prefetch) fetches across a failed or cancelled pull.
 */
import { createServer, request, type Server } from 'node:http';
import type { Socket } from 'node:net';

/** One blob GET as the proxy saw it. */
export interface BlobRequest {
  readonly digest: string;
  readonly range: string | undefined;
  readonly userAgent: string;
  status: number;
  /** Body bytes forwarded to the client. */
  bytes: number;
  /** True once the response ended or was closed. */
  done: boolean;
  /** Milliseconds from the request to the end of the response (0 while open). */
  ms: number;
  /** How it ended: the whole body, cut by the proxy, reset (down), or closed by the client. */
  end: 'complete' | 'cut' | 'reset' | 'client-closed' | 'open';
}

/** A running proxy. */
export interface CountingProxy {
  readonly host: string;
  /** Every blob GET, in arrival order. */
  readonly blobs: BlobRequest[];
  /** Every request as `METHOD path`. */
  readonly requests: string[];
  /** Bytes forwarded for blob `digest` (all requests), or for every blob. */
  bytes(digest?: string): number;
  /** The next blob response of at least `minSize` bytes (Content-Length) is closed after `afterBytes` of its body. */
  cutNext(afterBytes: number, minSize?: number): void;
  /** While down, every blob GET is reset at once (and a cut response is followed by resets). */
  setDown(down: boolean): void;
  /** Calls `listener` on every forwarded chunk with the running total for that digest. */
  onProgress(listener: ((digest: string, total: number) => void) | undefined): void;
  stop(): Promise<void>;
}

/**
 * Starts a proxy on `listenHost` (default 127.0.0.1; a veth address for a shaped link) to `upstream`
 * (`host:port`). The Host header is kept, as a reverse proxy does.
 */
export async function startCountingProxy(upstream: string, options: { listenHost?: string; port?: number } = {}): Promise<CountingProxy> {
  const blobs: BlobRequest[] = [];
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  let cut: { afterBytes: number; minSize: number } | undefined;
  let down = false;
  let progress: ((digest: string, total: number) => void) | undefined;
  const totals = new Map<string, number>();
  const [upHost, upPort] = upstream.split(':');

  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/';
    requests.push(`${req.method ?? ''} ${url}`);
    const digest = /\/blobs\/(sha256:[0-9a-f]{64})/.exec(url)?.[1];
    if (digest === undefined || req.method !== 'GET') {
      const up = request({ host: upHost, port: Number(upPort), path: url, method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
      return;
    }
    const started = performance.now();
    const entry: BlobRequest = { digest, range: req.headers.range, userAgent: req.headers['user-agent'] ?? '', status: 0, bytes: 0, ms: 0, done: false, end: 'open' };
    blobs.push(entry);
    if (down) {
      entry.done = true;
      entry.end = 'reset';
      req.socket.destroy();
      return;
    }
    const up = request({ host: upHost, port: Number(upPort), path: url, method: 'GET', headers: req.headers }, (r) => {
      entry.status = r.statusCode ?? 502;
      const length = Number(r.headers['content-length'] ?? '0');
      const myCut = cut !== undefined && entry.status < 300 && length >= cut.minSize ? cut : undefined;
      if (myCut !== undefined) cut = undefined;
      res.writeHead(entry.status, r.headers);
      const finish = (how: BlobRequest['end']): void => {
        if (entry.done) return;
        entry.done = true;
        entry.end = how;
        entry.ms = performance.now() - started;
      };
      r.on('data', (c: Buffer) => {
        if (entry.done) return;
        let chunk = c;
        if (myCut !== undefined && entry.bytes + chunk.byteLength >= myCut.afterBytes) chunk = chunk.subarray(0, myCut.afterBytes - entry.bytes);
        entry.bytes += chunk.byteLength;
        const total = (totals.get(digest) ?? 0) + chunk.byteLength;
        totals.set(digest, total);
        const more = res.write(chunk);
        progress?.(digest, total);
        if (myCut !== undefined && entry.bytes >= myCut.afterBytes) {
          finish('cut');
          r.destroy();
          // Let the bytes written so far leave, then drop the connection without a clean end.
          res.once('drain', () => res.destroy());
          setTimeout(() => res.destroy(), 200);
          return;
        }
        if (!more) {
          r.pause();
          res.once('drain', () => r.resume());
        }
      });
      r.on('end', () => {
        if (entry.done) return;
        finish('complete');
        res.end();
      });
      r.on('error', () => res.destroy());
      res.on('close', () => {
        if (!entry.done) finish('client-closed');
        r.destroy();
      });
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(options.port ?? 0, options.listenHost ?? '127.0.0.1', r));
  const a = server.address();
  const port = typeof a === 'object' && a !== null ? a.port : 0;
  return {
    host: `${options.listenHost ?? '127.0.0.1'}:${port}`,
    blobs,
    requests,
    bytes: (d) => (d === undefined ? [...totals.values()].reduce((x, y) => x + y, 0) : totals.get(d) ?? 0),
    cutNext: (afterBytes, minSize = 0) => {
      cut = { afterBytes, minSize };
    },
    setDown: (d) => {
      down = d;
    },
    onProgress: (l) => {
      progress = l;
    },
    stop: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
