/**
 * A loopback reverse proxy in front of a registry that injects faults into a fraction of requests, for
 * the soak (reliability.md §6): connection resets, 5xx, 429 with Retry-After, and slow bodies. The faults
 * follow a seeded PRNG, so a run can be repeated. It counts, per client address and repository, requests
 * that arrived before a Retry-After it sent had elapsed.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';

export type Fault = 'reset' | '5xx' | '429' | 'slow';

export interface FaultProxy {
  readonly host: string;
  readonly counts: () => Readonly<Record<Fault | 'passed', number>>;
  /**
   * Requests for a path that came before the Retry-After the proxy gave that client for that path had
   * elapsed, per client (`resolver`: the daemon's own requests; `engine`: dockerd's pulls, not ours to govern).
   */
  readonly earlyAfterRetryAfter: () => Readonly<Record<'resolver' | 'engine', number>>;
  /** Requests (any path) from a client while some Retry-After given to it was running: a per-registry throttle would make this 0. */
  readonly duringAnyRetryAfter: () => Readonly<Record<'resolver' | 'engine', number>>;
  readonly total: () => number;
  /** Every request in arrival order (method, path without the query, client), to count at the registry. */
  readonly log: () => readonly { readonly method: string; readonly path: string; readonly client: 'resolver' | 'engine'; readonly userAgent: string }[];
  stop(): Promise<void>;
}

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Which client sent a request: the daemon (our user agent) or the engine (docker/…, containerd/…). */
const clientOf = (req: IncomingMessage): 'resolver' | 'engine' => (/^resolver\b/i.test(req.headers['user-agent'] ?? '') ? 'resolver' : 'engine');

/** Starts the proxy to `upstream` (`host:port`); `rate` of requests get a fault (default 0.2). */
export async function startFaultProxy(upstream: string, options: { rate?: number; seed?: number; retryAfterSeconds?: number } = {}): Promise<FaultProxy> {
  const rate = options.rate ?? 0.2;
  const random = prng(options.seed ?? 1);
  const retryAfter = options.retryAfterSeconds ?? 1;
  const counts: Record<Fault | 'passed', number> = { reset: 0, '5xx': 0, '429': 0, slow: 0, passed: 0 };
  const notBefore = new Map<string, number>();
  const early = { resolver: 0, engine: 0 };
  const throttledUntil = { resolver: 0, engine: 0 };
  const duringAnyRetryAfter = { resolver: 0, engine: 0 };
  let total = 0;
  const log: { method: string; path: string; client: 'resolver' | 'engine'; userAgent: string }[] = [];
  const sockets = new Set<Socket>();
  const [upHost, upPort] = upstream.split(':');

  const forward = (req: IncomingMessage, res: import('node:http').ServerResponse, slow: boolean): void => {
    const up = request({ host: upHost, port: Number(upPort), path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      if (!slow) {
        r.pipe(res);
        return;
      }
      // Slow body: every chunk is held 50 ms.
      r.on('data', (c: Buffer) => {
        r.pause();
        setTimeout(() => {
          res.write(c);
          r.resume();
        }, 50);
      });
      r.on('end', () => setTimeout(() => res.end(), 60));
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  };

  const server: Server = createServer((req, res) => {
    total++;
    const url = req.url ?? '/';
    const client = clientOf(req);
    log.push({ method: req.method ?? '', path: url.split('?')[0] ?? url, client, userAgent: req.headers['user-agent'] ?? '' });
    const key = `${client} ${req.socket.remoteAddress ?? ''} ${url.split('?')[0] ?? url}`;
    if (Date.now() < throttledUntil[client]) duringAnyRetryAfter[client]++;
    const until = notBefore.get(key);
    if (until !== undefined && Date.now() < until) {
      early[client]++;
      // eslint-disable-next-line no-console -- opt-in debugging of the count
      if (process.env['FAULT_PROXY_DEBUG'] !== undefined) console.log(`early by ${until - Date.now()} ms: ${key} ${req.method ?? ''}`);
    }
    // /v2/ (the ping) and uploads pass untouched: faults target the reads the daemon makes.
    const eligible = url.startsWith('/v2/') && url !== '/v2/' && (req.method === 'GET' || req.method === 'HEAD');
    const roll = eligible ? random() : 1;
    if (roll >= rate) {
      counts.passed++;
      forward(req, res, false);
      return;
    }
    const fault: Fault = (['reset', '5xx', '429', 'slow'] as const)[Math.floor((roll / rate) * 4)] ?? 'reset';
    counts[fault]++;
    if (fault === 'reset') {
      req.socket.destroy();
    } else if (fault === '5xx') {
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}');
    } else if (fault === '429') {
      notBefore.set(key, Date.now() + retryAfter * 1000);
      throttledUntil[client] = Date.now() + retryAfter * 1000;
      res.writeHead(429, { 'retry-after': String(retryAfter), 'content-type': 'application/json' }).end('{"errors":[{"code":"TOOMANYREQUESTS","message":"injected"}]}');
    } else {
      forward(req, res, true);
    }
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    host: `127.0.0.1:${port}`,
    counts: () => ({ ...counts }),
    earlyAfterRetryAfter: () => ({ ...early }),
    duringAnyRetryAfter: () => ({ ...duringAnyRetryAfter }),
    total: () => total,
    log: () => [...log],
    stop: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}
