/**
 * A Docker Hub emulator on loopback (issue 12 §2): Bearer token auth from its own `/token` realm, and an
 * allowance of counted requests (GETs of manifests; HEADs are free) per client address, announced in
 * `ratelimit-limit` / `ratelimit-remaining` with `w=`. An exhausted allowance answers 429 with a JSON, an
 * HTML or an empty body, with or without `Retry-After`, as Hub and the proxies in front of it do. Every
 * request is counted here, at the server, never in resolver. Manifests are real OCI JSON with real digests.
 */
import { createHash } from 'node:crypto';
import { startLoopbackServer, type LoopbackServer } from './loopback-server.js';

const indexType = 'application/vnd.oci.image.index.v1+json';
const manifestType = 'application/vnd.oci.image.manifest.v1+json';

/** How an exhausted allowance answers. */
export interface ThrottleStyle {
  readonly body: 'json' | 'html' | 'bare';
  /** Seconds, or none. */
  readonly retryAfter: number | undefined;
}

/** Options of the emulator. */
export interface HubOptions {
  /** Counted requests per window and client address. */
  readonly limit: number;
  readonly windowSeconds: number;
  readonly throttle?: ThrottleStyle;
  /** Wall clock (ms) for the window; default Date.now. */
  readonly now?: () => number;
  /** Send `ratelimit-*` headers (a registry behind a proxy that strips them: false). Default true. */
  readonly headers?: boolean;
  /** Announce the allowance on GETs only, not on (free) HEADs, as some registries do. Default false. */
  readonly headersOnGetOnly?: boolean;
}

/** The emulator. */
export interface HubEmulator {
  readonly host: string;
  readonly server: LoopbackServer;
  /** Requests by kind, counted at the server. */
  readonly counts: { head: number; get: number; counted: number; token: number; throttled: number; other: number };
  /** Token requests by scope. */
  readonly tokensByScope: Map<string, number>;
  /** Publishes `repo:tag` as an index of one linux/amd64 child (`label` makes it unique); returns the digests. */
  publish(repo: string, tag: string, label: string): { index: string; child: string };
  /** Sets what is left of the current window (to start a test near the reserve). */
  setRemaining(n: number): void;
  /** The next `n` authenticated manifest requests answer 429 (`Infinity`: all; 0: none). */
  throttleNext(n: number): void;
  close(): Promise<void>;
}

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Starts the emulator. */
export async function startHubEmulator(o: HubOptions): Promise<HubEmulator> {
  const now = o.now ?? Date.now;
  const throttle = o.throttle ?? { body: 'json', retryAfter: undefined };
  const manifests = new Map<string, { body: Buffer; type: string }>();
  const tags = new Map<string, string>();
  const counts = { head: 0, get: 0, counted: 0, token: 0, throttled: 0, other: 0 };
  const tokensByScope = new Map<string, number>();
  let windowStart = now();
  let used = 0;
  let forced = 0;

  const rl = (): Record<string, string> => {
    if (o.headers === false) return {};
    if (now() - windowStart >= o.windowSeconds * 1000) {
      windowStart = now();
      used = 0;
    }
    return { 'ratelimit-limit': `${o.limit};w=${o.windowSeconds}`, 'ratelimit-remaining': `${Math.max(0, o.limit - used)};w=${o.windowSeconds}` };
  };

  const server = await startLoopbackServer((req, res, _body, self) => {
    const url = new URL(req.url ?? '/', `http://${self.host}`);
    if (url.pathname === '/token') {
      counts.token++;
      for (const s of url.searchParams.getAll('scope')) tokensByScope.set(s, (tokensByScope.get(s) ?? 0) + 1);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'hub-token', expires_in: 300 }));
      return;
    }
    if (req.headers.authorization !== 'Bearer hub-token') {
      const scope = /^\/v2\/(.+)\/manifests\//.exec(url.pathname)?.[1];
      res.writeHead(401, {
        'www-authenticate': `Bearer realm="http://${self.host}/token",service="hub-emulator"${scope === undefined ? '' : `,scope="repository:${scope}:pull"`}`,
        'content-type': 'application/json',
      }).end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    const m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
    if (m === null) {
      counts.other++;
      res.writeHead(404).end();
      return;
    }
    const [, repo = '', ref = ''] = m;
    const counted = req.method === 'GET';
    const headers = o.headersOnGetOnly === true && !counted ? {} : rl();
    if (forced > 0 || (counted && used >= o.limit)) {
      forced--;
      counts.throttled++;
      const h: Record<string, string> = { ...headers, ...(throttle.retryAfter === undefined ? {} : { 'retry-after': String(throttle.retryAfter) }) };
      if (throttle.body === 'json') {
        res.writeHead(429, { ...h, 'content-type': 'application/json' }).end('{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your unauthenticated pull rate limit."}]}');
      } else if (throttle.body === 'html') {
        res.writeHead(429, { ...h, 'content-type': 'text/html' }).end('<html><body><h1>429 Too Many Requests</h1></body></html>');
      } else {
        res.writeHead(429, h).end();
      }
      return;
    }
    const digest = ref.startsWith('sha256:') ? ref : tags.get(`${repo}:${ref}`);
    const doc = digest === undefined ? undefined : manifests.get(digest);
    if (req.method === 'HEAD') counts.head++;
    else {
      counts.get++;
      counts.counted++;
      used++;
    }
    const after = { ...headers, ...(o.headers === false || Object.keys(headers).length === 0 ? {} : { 'ratelimit-remaining': `${Math.max(0, o.limit - used)};w=${o.windowSeconds}` }) };
    if (doc === undefined || digest === undefined) {
      res.writeHead(404, { ...after, 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
      return;
    }
    res.writeHead(200, { ...after, 'content-type': doc.type, 'docker-content-digest': digest, 'content-length': String(doc.body.byteLength) });
    res.end(req.method === 'HEAD' ? undefined : doc.body);
  });

  return {
    host: server.host, server, counts, tokensByScope,
    publish(repo, tag, label) {
      const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', label }));
      const child = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: manifestType, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.byteLength }, layers: [] }));
      manifests.set(sha(child), { body: child, type: manifestType });
      const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: indexType, manifests: [{ mediaType: manifestType, digest: sha(child), size: child.byteLength, platform: { os: 'linux', architecture: 'amd64' } }] }));
      manifests.set(sha(index), { body: index, type: indexType });
      tags.set(`${repo}:${tag}`, sha(index));
      return { index: sha(index), child: sha(child) };
    },
    setRemaining(n) {
      rl();
      used = o.limit - n;
    },
    throttleNext(n) {
      forced = n;
    },
    close: () => server.close(),
  };
}
