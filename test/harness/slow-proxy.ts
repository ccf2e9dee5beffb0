/**
 * A reverse proxy in front of a registry that trickles blob downloads, so a pull stays in flight long
 * enough to interrupt it (SIGINT, engine kill). Manifests pass at full speed. With `refuseMounts` it
 * drops `mount`/`from` from upload requests, so the real registry starts an ordinary upload (202), as a
 * registry without cross-repository mounts does (distribution-spec allows it; distribution cannot be
 * configured to).
 */
import { createServer, request, type Server } from 'node:http';

/** A running proxy. */
export interface SlowProxy {
  readonly host: string;
  readonly blobRequests: () => number;
  /** Every request seen, as `METHOD path`. */
  readonly requests: string[];
  /** TCP connections accepted so far (also those that sent no HTTP request, e.g. a TLS probe). */
  readonly connections?: () => number;
  stop(): Promise<void>;
}

/** Starts a proxy to `upstream` (`host:port`) that sends blob bodies at `bytesPerSecond`. */
export async function startSlowProxy(upstream: string, bytesPerSecond: number, options: { refuseMounts?: boolean } = {}): Promise<SlowProxy> {
  let blobs = 0;
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    const isBlob = (req.url ?? '').includes('/blobs/sha256:') && req.method === 'GET' && Number.isFinite(bytesPerSecond);
    if (isBlob) blobs++;
    let path = req.url ?? '/';
    if (options.refuseMounts === true && req.method === 'POST' && path.includes('mount=')) {
      const u = new URL(path, 'http://proxy');
      u.searchParams.delete('mount');
      u.searchParams.delete('from');
      path = `${u.pathname}${u.search}`;
    }
    const [host, port] = upstream.split(':');
    // The Host header is kept, as a reverse proxy does, so the Location of an upload points back at the proxy.
    const up = request({ host, port: Number(port), path, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      if (!isBlob) {
        r.pipe(res);
        return;
      }
      const chunk = Math.max(1, Math.floor(bytesPerSecond / 10));
      let pending = Buffer.alloc(0);
      let ended = false;
      const timer = setInterval(() => {
        if (pending.byteLength > 0) {
          res.write(pending.subarray(0, chunk));
          pending = pending.subarray(chunk);
        } else if (ended) {
          clearInterval(timer);
          res.end();
        }
      }, 100);
      r.on('data', (c: Buffer) => (pending = Buffer.concat([pending, c])));
      r.on('end', () => (ended = true));
      res.on('close', () => clearInterval(timer));
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  let connections = 0;
  server.on('connection', () => {
    connections++;
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  const port = typeof a === 'object' && a !== null ? a.port : 0;
  return {
    host: `127.0.0.1:${port}`,
    blobRequests: () => blobs,
    requests,
    connections: () => connections,
    stop: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
