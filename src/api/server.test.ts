import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ResolverError } from '../errors.js';
import { Secret } from '../secret/secret.js';
import { freePort } from '../../test/sandbox/registry-server.js';
import { BearerAuth, readToken } from './auth.js';
import { serveApi, type ApiBackend, type ApiServer, type CheckSelector } from './server.js';

const token = 'tok-0123456789abcdef-secret';
const dir = mkdtempSync(join(tmpdir(), 'api-unit-'));
const tokenFile = join(dir, 'token');
writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });

function backend(): ApiBackend & { checks: CheckSelector[] } {
  const checks: CheckSelector[] = [];
  return {
    checks,
    live: () => ({ ok: true, detail: { status: 'ok' } }),
    ready: () => Promise.resolve({ ok: true, detail: { status: 'ready' } }),
    metrics: () => '# HELP x y\n# TYPE x gauge\nx 1\n',
    status: () => ({ daemon: 'running', pid: 1, images: [] }),
    events: (q) => ({ query: q }),
    check: (s) => {
      if (s.image === 'nope') throw new ResolverError('ERR_NOT_FOUND', 'no configured image is nope');
      checks.push(s);
      return { accepted: [{ key: 'k', image: s.image ?? 'all', platform: s.platform ?? 'detected' }], joined: [], done: Promise.resolve({ pid: 1, images: ['done'] }) };
    },
  };
}

const servers: ApiServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(options: { token?: boolean; tls?: { cert: string; key: string } } = {}): Promise<{ url: string; b: ReturnType<typeof backend> }> {
  const port = await freePort();
  const b = backend();
  const server = await serveApi({ listen: `127.0.0.1:${port}`, token: options.token === true ? { file: tokenFile } : undefined, tls: options.tls }, b, { env: {} });
  servers.push(server);
  return { url: `${server.protocol}://127.0.0.1:${port}`, b };
}

const bearer = (t: string): RequestInit => ({ headers: { authorization: `Bearer ${t}` } });

describe('BearerAuth', () => {
  it('accepts only "Bearer <token>" (scheme in any case), nothing else', () => {
    const auth = new BearerAuth(new Secret(token));
    expect(auth.allows(`Bearer ${token}`)).toBe(true);
    expect(auth.allows(`bearer ${token}`)).toBe(true);
    for (const h of [undefined, '', 'Bearer', `Bearer ${token}x`, `Bearer ${token.slice(0, -1)}`, `Basic ${token}`, token, `Bearer  `]) expect(auth.allows(h), String(h)).toBe(false);
  });
});

describe('readToken', () => {
  it('reads a file without its trailing newline, or $CREDENTIALS_DIRECTORY/NAME; never shows the value', async () => {
    expect((await readToken({ file: tokenFile }, {})).reveal()).toBe(token);
    expect((await readToken({ credential: 'token' }, { CREDENTIALS_DIRECTORY: dir })).reveal()).toBe(token);
    expect(String(await readToken({ file: tokenFile }, {}))).toBe('[REDACTED]');
  });

  it('refuses a missing file, an unset $CREDENTIALS_DIRECTORY and a short token, naming metrics.token and the file', async () => {
    const short = join(dir, 'short');
    writeFileSync(short, 'abc\n');
    const cases: [Parameters<typeof readToken>[0], Record<string, string>, RegExp][] = [
      [{ file: join(dir, 'missing') }, {}, /^metrics\.token: cannot read .*missing \(ENOENT\)/],
      [{ credential: 'api' }, {}, /^metrics\.token: credential api needs \$CREDENTIALS_DIRECTORY/],
      [{ file: short }, {}, /^metrics\.token: .*short must hold one token of at least 16 characters/],
    ];
    for (const [source, env, message] of cases) {
      const error = await readToken(source, env).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ResolverError);
      expect((error as ResolverError).code).toBe('ERR_CONFIG_INVALID');
      expect((error as ResolverError).message).toMatch(message);
      expect((error as ResolverError).message).not.toContain('abc');
    }
  });
});

describe('serveApi: authentication', () => {
  it('without a token every path answers', async () => {
    const { url } = await serve();
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
    expect((await fetch(`${url}/v1/status`)).status).toBe(200);
  });

  it('with a token: 401 without one or with a wrong one on every path but /healthz, 200 with the right one', async () => {
    const { url, b } = await serve({ token: true });
    for (const path of ['/metrics', '/readyz', '/v1/status', '/v1/events', '/nothing']) {
      const none = await fetch(`${url}${path}`);
      expect(none.status, path).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="resolver"');
      expect(await none.text()).not.toContain(token);
      expect((await fetch(`${url}${path}`, bearer('wrong-token-0123456789'))).status, path).toBe(401);
    }
    expect((await fetch(`${url}/v1/check`, { method: 'POST', ...bearer('wrong-token-0123456789') })).status).toBe(401);
    expect(b.checks).toHaveLength(0);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const metrics = await fetch(`${url}/metrics`, bearer(token));
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('x 1');
    expect(await (await fetch(`${url}/v1/status`, bearer(token))).json()).toEqual({ daemon: 'running', pid: 1, images: [] });
  });
});

describe('serveApi: /v1', () => {
  it('POST /v1/check: 202 with what started; image and platform from the body or the query; wait=true answers 200 with the result; 404 for an unknown image; 400 for a bad body; 405 for GET', async () => {
    const { url, b } = await serve();
    const all = await fetch(`${url}/v1/check`, { method: 'POST' });
    expect(all.status).toBe(202);
    expect(all.headers.get('location')).toBe('/v1/status');
    expect(await all.json()).toEqual({ accepted: [{ key: 'k', image: 'all', platform: 'detected' }], joined: [], dryRun: false });
    await fetch(`${url}/v1/check`, { method: 'POST', body: JSON.stringify({ image: 'alpine', platform: 'linux/arm64', dryRun: true }) });
    await fetch(`${url}/v1/check?image=nginx&platform=linux/amd64`, { method: 'POST' });
    expect(b.checks).toEqual([{ image: undefined, platform: undefined, dryRun: false, wait: false }, { image: 'alpine', platform: 'linux/arm64', dryRun: true, wait: false }, { image: 'nginx', platform: 'linux/amd64', dryRun: false, wait: false }]);
    const waited = await fetch(`${url}/v1/check?wait=true`, { method: 'POST' });
    expect(waited.status).toBe(200);
    expect(await waited.json()).toEqual({ pid: 1, images: ['done'] });
    const unknown = await fetch(`${url}/v1/check`, { method: 'POST', body: '{"image":"nope"}' });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: 'no configured image is nope' });
    expect((await fetch(`${url}/v1/check`, { method: 'POST', body: '[1]' })).status).toBe(400);
    expect((await fetch(`${url}/v1/check`, { method: 'POST', body: '{"image": 3}' })).status).toBe(400);
    const get = await fetch(`${url}/v1/check`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });

  it.each([
    ['{"image":', 'the request body is not a JSON object'],
    ['"nginx"', 'the request body is not a JSON object'],
    ['null', 'the request body is not a JSON object'],
    ['[1]', 'the request body is not a JSON object'],
    ['{"image": 3}', 'image must be a string'],
    ['{"platform": {"os": "linux"}}', 'platform must be a string'],
    ['{"dryRun": "yes"}', 'dryRun must be true or false'],
    ['{"wait": 1}', 'wait must be true or false'],
  ])('POST /v1/check with the body %s: 400 naming the problem, no check started', async (body, error) => {
    const { url, b } = await serve();
    const res = await fetch(`${url}/v1/check`, { method: 'POST', body });
    expect([res.status, ((await res.json()) as { error: string }).error, b.checks]).toEqual([400, error, []]);
  });

  it('POST /v1/check: a null field counts as absent, an unknown field is ignored', async () => {
    const { url, b } = await serve();
    expect((await fetch(`${url}/v1/check?image=nginx`, { method: 'POST', body: '{"image": null, "dryRun": null, "note": "x"}' })).status).toBe(202);
    expect(b.checks).toEqual([{ image: 'nginx', platform: undefined, dryRun: false, wait: false }]);
  });

  it('GET /v1/events passes since, limit and type filters; a bad number is 400', async () => {
    const { url } = await serve();
    expect(await (await fetch(`${url}/v1/events?since=4&limit=2&type=pulled,failed&type=held`)).json()).toEqual({ query: { since: 4, limit: 2, types: ['pulled', 'failed', 'held'] } });
    expect((await fetch(`${url}/v1/events?since=-1`)).status).toBe(400);
  });
});

describe('serveApi: TLS', () => {
  it('serves HTTPS with the configured PEM files; an unreadable one is a config error naming the key', async () => {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const { url } = await serve({ token: true, tls: { cert, key } });
    expect(url.startsWith('https://')).toBe(true);
    const status = await new Promise<number>((resolve, reject) => {
      httpsRequest(`${url}/v1/status`, { ca: [readFileSync(cert, 'utf8')], headers: { authorization: `Bearer ${token}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject).end();
    });
    expect(status).toBe(200);
    const port = await freePort();
    const error = await serveApi({ listen: `127.0.0.1:${port}`, token: undefined, tls: { cert: join(dir, 'none.pem'), key } }, backend(), { env: {} }).catch((e: unknown) => e);
    expect((error as ResolverError).message).toMatch(/^metrics\.tls\.cert: cannot read .*none\.pem \(ENOENT\)/);
  });
});

