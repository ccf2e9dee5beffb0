/**
 * The daemon's HTTP endpoint, built CLI against the harness's registry and private dockerd: a token on
 * 127.0.0.2 (every path but /healthz needs it; the token never in the logs), POST /v1/check starting a
 * cycle that the registry sees, /v1/events, HTTPS with a certificate made here, a real Prometheus
 * (Debian's) scraping /metrics with the bearer token until resolver_build_info is up, and
 * `promtool check metrics` on the exposition. Only loopback addresses.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { closeLoopbackServers, startLoopbackServer, type LoopbackServer } from '../fakes/loopback-server.js';
import { startSlowProxy, type SlowProxy } from '../harness/slow-proxy.js';
import { freePort } from '../sandbox/registry-server.js';
import { cli } from './cli.js';
import { startDaemon, until, type DaemonProcess } from './daemon-process.js';

const s = inject('services');
const engine = s.engine;
const token = 'e2e-api-token-5f0c2a9d81b3';
let dir = '';
let tokenFile = '';
let proxy: SlowProxy;
let receiver: LoopbackServer;
const running: DaemonProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(s.tmp, 'api-'));
  tokenFile = join(dir, 'token');
  await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
  // Counts what the daemon asks the registry.
  proxy = await startSlowProxy(s.anonymous, Number.POSITIVE_INFINITY);
  // A webhook receiver: its deliveries are counted in resolver_notifications_total.
  receiver = await startLoopbackServer((_req, res) => void res.writeHead(204).end());
});
afterAll(async () => {
  await Promise.all(running.map((d) => d.stop()));
  await proxy.stop();
  await closeLoopbackServers();
});

async function config(name: string, metrics: string, extra = ''): Promise<string> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, `engine:\n  host: ${engine ?? 'unix:///nonexistent.sock'}\nschedule: "0 0 1 1 *"\nsplay: 0s\nstateDir: ${join(dir, `state-${name}`)}\nshutdownTimeout: 5s\n${extra}metrics:\n${metrics}images:\n  - image: ${proxy.host}/multi/oci:latest\n`);
  return file;
}

function daemon(file: string): DaemonProcess {
  const d = startDaemon(file);
  running.push(d);
  return d;
}

const auth = { headers: { authorization: `Bearer ${token}` } };

describe('config', () => {
  it('a listen address off loopback without a token is refused, naming metrics.token; with one it is valid', async () => {
    const bad = await config('open', '  listen: 0.0.0.0:9464\n');
    const r = await cli(['config', 'check', bad]);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('metrics.listen');
    expect(r.stderr).toContain('set metrics.token');
    const good = await config('open-token', `  listen: 0.0.0.0:9464\n  tokenFile: ${tokenFile}\n`);
    expect((await cli(['config', 'check', good])).code).toBe(0);
  });
});

describe.runIf(engine !== undefined)('the daemon with a token on 127.0.0.2', () => {
  let port = 0;
  let d: DaemonProcess;
  let base = '';
  beforeAll(async () => {
    port = await freePort();
    d = daemon(await config('token', `  listen: 127.0.0.2:${port}\n  tokenFile: ${tokenFile}\n`, `notifications:\n  webhooks:\n    - name: hook\n      url: ${receiver.url}/hook\n`));
    base = `http://127.0.0.2:${port}`;
    await until('the first check', () => d.logs().find((l) => l['msg'] === 'checked' || l['msg'] === 'pulled a new child' || l['msg'] === 'child already present; recorded'), 120_000);
  }, 150_000);

  it('every path but /healthz needs the token; /v1/status is the status --json document', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    for (const path of ['/metrics', '/readyz', '/v1/status', '/v1/events']) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(401);
      expect((await fetch(`${base}${path}`, { headers: { authorization: 'Bearer not-the-token-000000' } })).status, path).toBe(401);
      expect((await fetch(`${base}${path}`, auth)).status, path).toBe(200);
    }
    const status = (await (await fetch(`${base}/v1/status`, auth)).json()) as { daemon: string; pid: number; images: { image: string; state: string }[] };
    expect(status.daemon).toBe('running');
    expect(status.pid).toBe(d.child.pid);
    expect(status.images.map((i) => [i.image, i.state])).toEqual([[`${proxy.host}/multi/oci:latest`, 'ok']]);
  });

  it('POST /v1/check starts a cycle the registry sees (202, then the result in /v1/events); wait=true answers with it; 404 for an unknown image', async () => {
    const before = proxy.requests.length;
    const r = await fetch(`${base}/v1/check`, { method: 'POST', ...auth });
    expect(r.status).toBe(202);
    const body = (await r.json()) as { accepted: { image: string }[] };
    expect(body.accepted.map((a) => a.image)).toEqual([`${proxy.host}/multi/oci:latest`]);
    await until('the registry asked for the tag', () => proxy.requests.slice(before).some((q) => q.includes('/v2/multi/oci/manifests/latest')));
    const events = await until('a check started by the API', async () => {
      const page = (await (await fetch(`${base}/v1/events?type=check-started`, auth)).json()) as { events: { seq: number; why: string }[] };
      return page.events.find((e) => e.why === 'now');
    });
    expect(events.seq).toBeGreaterThan(0);
    const waited = await fetch(`${base}/v1/check?wait=true&image=${proxy.host}/multi/oci`, { method: 'POST', ...auth });
    expect(waited.status).toBe(200);
    expect(((await waited.json()) as { images: { state: string }[] }).images.map((i) => i.state)).toEqual(['ok']);
    const unknown = await fetch(`${base}/v1/check`, { method: 'POST', body: JSON.stringify({ image: 'nothing/here:1' }), ...auth });
    expect(unknown.status).toBe(404);
    expect(d.logs().map((l) => JSON.stringify(l)).join('\n')).not.toContain(token);
  });

  it.runIf(existsSync('/usr/bin/prometheus') && existsSync('/usr/bin/promtool'))('(skipped only without Debian\'s prometheus package) a real Prometheus scrapes it with the bearer token; promtool check metrics is clean', async () => {
    const exposition = await (await fetch(`${base}/metrics`, auth)).text();
    const lint = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const p = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (c: Buffer) => (out += c.toString()));
      p.stderr.on('data', (c: Buffer) => (out += c.toString()));
      p.on('close', (code) => resolve({ code, out }));
      p.stdin.end(exposition);
    });
    expect(lint, exposition).toEqual({ code: 0, out: '' });

    const promPort = await freePort();
    const promDir = await mkdtemp(join(dir, 'prometheus-'));
    const promConfig = join(promDir, 'prometheus.yml');
    await writeFile(promConfig, [
      'global:', '  scrape_interval: 1s', '  scrape_timeout: 1s', 'scrape_configs:', '  - job_name: resolver',
      '    authorization:', '      type: Bearer', `      credentials_file: ${tokenFile}`,
      '    static_configs:', `      - targets: ['127.0.0.2:${port}']`, '',
    ].join('\n'));
    const prom = spawn('prometheus', [`--config.file=${promConfig}`, `--storage.tsdb.path=${join(promDir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let promLog = '';
    prom.stderr.on('data', (c: Buffer) => (promLog += c.toString()));
    const promExit = new Promise((r) => prom.on('close', r));
    try {
      const query = async (q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[] | undefined> => {
        const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`).catch(() => undefined);
        if (res?.status !== 200) return undefined;
        const json = (await res.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
        return json.data.result.length > 0 ? json.data.result : undefined;
      };
      const info = await until(`Prometheus to scrape resolver_build_info (log: ${promLog})`, () => query('resolver_build_info'), 60_000, 250);
      expect(info[0]?.metric).toMatchObject({ job: 'resolver', node: process.versions.node, version: expect.stringMatching(/^\d+\.\d+\.\d+/) as string });
      const up = await until('up == 1', () => query('up{job="resolver"} == 1'), 30_000, 250);
      expect(up).toHaveLength(1);
      const checks = await until('a per-image series with platform', () => query('resolver_checks_total'), 30_000, 250);
      for (const series of checks) expect(series.metric['platform']).toMatch(/^linux\//);
      expect(await query('process_resident_memory_bytes')).toHaveLength(1);
      // The first check pulled (a fresh state folder): the webhook got the notification, and it is counted.
      const delivered = await until('a delivered notification in Prometheus', () => query('resolver_notifications_total{sink="hook",result="delivered"} >= 1'), 30_000, 250);
      expect(delivered).toHaveLength(1);
      expect(receiver.requests.length).toBeGreaterThanOrEqual(1);
    } finally {
      prom.kill('SIGTERM');
      await promExit;
    }
  }, 120_000);
});

describe.runIf(engine !== undefined)('HTTPS', () => {
  it('serves the API over TLS with a certificate made here; a plain HTTP request is refused', async () => {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost']);
    const port = await freePort();
    const d = daemon(await config('tls', `  listen: 127.0.0.1:${port}\n  tokenFile: ${tokenFile}\n  tls:\n    cert: ${cert}\n    key: ${key}\n`));
    const ca = await readFile(cert, 'utf8');
    const get = (path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> =>
      new Promise((resolve, reject) => {
        httpsRequest(`https://127.0.0.1:${port}${path}`, { ca, headers }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        }).on('error', reject).end();
      });
    const health = await until('the HTTPS listener', () => get('/healthz').catch(() => undefined), 30_000);
    expect(health.status).toBe(200);
    expect((await get('/v1/status')).status).toBe(401);
    const status = await get('/v1/status', { authorization: `Bearer ${token}` });
    expect(status.status).toBe(200);
    expect((JSON.parse(status.body) as { daemon: string }).daemon).toBe('running');
    const plain = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status, () => 'refused');
    expect(plain).not.toBe(200);
    expect(await d.stop()).toBe(0);
  }, 60_000);
});
