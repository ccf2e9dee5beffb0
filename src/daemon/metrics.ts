/**
 * Prometheus text exposition of the daemon's counters, and the loopback HTTP endpoint that serves it
 * with /healthz. Off by default; it binds only to loopback (the config schema refuses anything else).
 * Labels carry image references and registry hosts, never credentials.
 */
import { createServer, type Server } from 'node:http';

/** Counters kept by the daemon. */
export class Metrics {
  readonly checks = new Map<string, number>();
  readonly pulls = new Map<string, number>();
  readonly failures = new Map<string, number>();
  readonly lastSuccess = new Map<string, number>();
  readonly rateLimitRemaining = new Map<string, number>();

  /** Adds one to a counter. */
  static inc(map: Map<string, number>, key: string): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }

  /** The text exposition format. */
  render(): string {
    const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
    const lines: string[] = [];
    const family = (name: string, help: string, type: 'counter' | 'gauge', map: Map<string, number>, label: string): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [k, v] of [...map].sort(([a], [b]) => a.localeCompare(b))) {
        const [key, extra] = k.split('\0');
        lines.push(`${name}{${label}="${esc(key ?? '')}"${extra === undefined ? '' : `,result="${esc(extra)}"`}} ${v}`);
      }
    };
    family('resolver_checks_total', 'Checks run, by image and result.', 'counter', this.checks, 'image');
    family('resolver_pulls_total', 'Children pulled, by image.', 'counter', this.pulls, 'image');
    family('resolver_failures_total', 'Failed checks, by image.', 'counter', this.failures, 'image');
    family('resolver_last_success_timestamp_seconds', 'Unix time of the last successful check, by image.', 'gauge', this.lastSuccess, 'image');
    family('resolver_registry_ratelimit_remaining', 'Last ratelimit-remaining header seen, by registry.', 'gauge', this.rateLimitRemaining, 'registry');
    return `${lines.join('\n')}\n`;
  }
}

/** Serves /healthz and /metrics on `listen` (`127.0.0.1:9464`). */
export function serveMetrics(listen: string, metrics: Metrics, health: () => { ok: boolean; detail: unknown }): Promise<Server> {
  const colon = listen.lastIndexOf(':');
  const host = listen.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number.parseInt(listen.slice(colon + 1), 10);
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(metrics.render());
    } else if (req.url === '/healthz') {
      const h = health();
      res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify(h.detail));
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
