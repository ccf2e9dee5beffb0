/**
 * The hand-off of prefetched blobs to the engine (docs/prefetch.md): a read-only registry on 127.0.0.1 that
 * serves the content store by digest under any repository name (`GET`/`HEAD` of `/v2/`, manifests and blobs,
 * with `Range`). The engine pulls `127.0.0.1:PORT/path@sha256:…` from it as from any registry (loopback is
 * an insecure registry for dockerd, so plain HTTP), verifying every digest itself.
 */
import { createReadStream } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ContentStore } from './content-store.js';

/** A running loopback registry. */
export interface LoopbackRegistry {
  readonly port: number;
  close(): Promise<void>;
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'docker-distribution-api-version': 'registry/2.0' }).end(text);
};

/** Serves `store` on 127.0.0.1:`port` (0: any free port); `mediaTypes` gives each manifest's media type. */
export async function startLoopbackRegistry(store: ContentStore, mediaTypes: ReadonlyMap<string, string>, port: number): Promise<LoopbackRegistry> {
  const sockets = new Set<Socket>();
  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      json(res, 405, { errors: [{ code: 'UNSUPPORTED', message: 'read-only' }] });
      return;
    }
    if (url === '/v2/' || url === '/v2') {
      json(res, 200, {});
      return;
    }
    const m = /^\/v2\/.+\/(manifests|blobs)\/(sha256:[0-9a-f]{64})$/.exec(url);
    if (m === null) {
      json(res, 404, { errors: [{ code: 'NAME_UNKNOWN', message: 'only content by digest is served here' }] });
      return;
    }
    const kind = m[1] ?? '';
    const digest = m[2] ?? '';
    const size = await store.complete(digest);
    const type = kind === 'manifests' ? mediaTypes.get(digest) : 'application/octet-stream';
    if (size === undefined || type === undefined) {
      json(res, 404, { errors: [{ code: kind === 'manifests' ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN', message: `${digest} is not prefetched` }] });
      return;
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = range === null ? 0 : Number(range[1]);
    if (start >= size && size > 0) {
      json(res, 416, { errors: [{ code: 'RANGE_INVALID', message: 'range not satisfiable' }] });
      return;
    }
    res.writeHead(start > 0 ? 206 : 200, {
      'content-type': type, 'docker-content-digest': digest, 'content-length': size - start, 'accept-ranges': 'bytes', 'docker-distribution-api-version': 'registry/2.0',
      ...(start > 0 ? { 'content-range': `bytes ${start}-${size - 1}/${size}` } : {}),
    });
    if (req.method === 'HEAD' || size === 0) {
      res.end();
      return;
    }
    const stream = createReadStream(store.blobPath(digest), { start });
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  };
  const server: Server = createServer((req, res) => {
    serve(req, res).catch(() => {
      if (!res.headersSent) json(res, 500, { errors: [{ code: 'UNKNOWN', message: 'content store unreadable' }] });
      else res.destroy();
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address();
  return {
    port: typeof a === 'object' && a !== null ? a.port : port,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
