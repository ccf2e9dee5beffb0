/**
 * One HTTP server on 127.0.0.1 for a test, for the faults a real registry or engine cannot produce on demand (a
 * body that is not JSON, a 401 from a foreign host, a PUT that fails twice). The handler runs once the request
 * body has been read; every request is recorded. `closeLoopbackServers()` (in an `afterEach`/`afterAll`) closes
 * every server still open, dropping kept-alive connections so that it never waits on a client's idle socket.
 */
import { createServer as createTcpServer } from 'node:net';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** One request as the server received it. */
export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** A running server. */
export interface LoopbackServer {
  readonly port: number;
  /** `127.0.0.1:PORT`, a registry host. */
  readonly host: string;
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Every request, in arrival order. */
  readonly requests: RecordedRequest[];
  readonly server: Server;
  close(): Promise<void>;
}

/** Answers one request; `body` is the whole request body. May be async; a throw answers 500. */
export type LoopbackHandler = (req: IncomingMessage, res: ServerResponse, body: Buffer, self: LoopbackServer) => unknown;

export interface LoopbackOptions {
  /** A fixed port (to take over a stopped server's); default: a free one. */
  readonly port?: number;
}

const open = new Set<LoopbackServer>();

/** Starts a server on 127.0.0.1 that answers with `handler`. */
export async function startLoopbackServer(handler: LoopbackHandler, options: LoopbackOptions = {}): Promise<LoopbackServer> {
  const requests: RecordedRequest[] = [];
  // Known once listening; a request cannot arrive before.
  const ref: { current?: LoopbackServer } = {};
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const self = ref.current;
      if (self === undefined) return void res.writeHead(503).end();
      Promise.resolve()
        .then(() => handler(req, res, body, self))
        .catch((error: unknown) => {
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`loopback handler failed: ${String(error)}`);
        });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('loopback server: no TCP address');
  const { port } = address;
  const running: LoopbackServer = {
    port,
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    requests,
    server,
    close: () => {
      open.delete(running);
      return new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
  ref.current = running;
  open.add(running);
  return running;
}

/** Closes every server started here and not closed yet. */
export async function closeLoopbackServers(): Promise<void> {
  await Promise.all([...open].map((s) => s.close()));
}

/** A loopback port nothing listens on (bound, then closed): a connection to it is refused. */
export async function closedLoopbackPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  await new Promise((r) => server.close(r));
  return typeof a === 'object' && a !== null ? a.port : 0;
}
