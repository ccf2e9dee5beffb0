/**
 * The engine client (http-engine.ts, undici) against a fake Engine API on a Unix socket, for stream faults a real dockerd cannot
 * produce on demand: an error line inside a 200 stream, a malformed line, a clean end without the final
 * status, a stall, and an engine that is too old.
 */
import { mkdtemp } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { PassThrough, Readable } from 'node:stream';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { exitCodeOf, ResolverError } from '../errors.js';
import { Secret } from '../secret/secret.js';
import { negotiateApiVersion } from './api-version.js';
import { createHttpEngine } from './http-engine.js';
import { createEngineProbe } from './engine-probe.js';
import { encodeRegistryAuth, type Engine } from './engine.js';
import { expectResolverError } from '../../test/fakes/expect-error.js';
import { muxFrame as frame } from '../../test/fakes/mux-frame.js';

const servers: Server[] = [];
const engines: Engine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => { s.closeAllConnections(); s.close(r); })));
});

type Script = (req: IncomingMessage, res: ServerResponse) => void;

async function fakeEngine(onCreate: Script, apiVersion = '1.45', images: Record<string, unknown> = {}): Promise<{ engine: Engine; paths: string[]; headers: Record<string, string | undefined>[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'fake-engine-'));
  const socketPath = join(dir, 'docker.sock');
  const paths: string[] = [];
  const headers: Record<string, string | undefined>[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? '');
    headers.push({ auth: req.headers['x-registry-auth'] as string | undefined });
    if (req.url?.endsWith('/version')) {
      res.end(JSON.stringify({ Version: '26.1.5', ApiVersion: apiVersion, MinAPIVersion: '1.24', Os: 'linux', Arch: 'amd64' }));
    } else if (req.url?.endsWith('/info')) {
      res.end(JSON.stringify({ OSType: 'linux', Architecture: 'x86_64', DriverStatus: [] }));
    } else if (req.url?.includes('/images/create')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      onCreate(req, res);
    } else if (req.method === 'GET' && /\/images\/.+\/json$/.test(req.url ?? '')) {
      const name = decodeURIComponent((req.url ?? '').replace(/^\/v[\d.]+\/images\//, '').replace(/\/json$/, ''));
      const image = images[name];
      if (image === undefined) res.writeHead(404).end('{"message":"No such image"}');
      else if (image instanceof Error) res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ message: image.message }));
      else res.end(JSON.stringify(image));
    } else {
      res.writeHead(404).end('{"message":"no"}');
    }
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(socketPath, r));
  const endpoint = { kind: 'unix' as const, socketPath, display: `unix://${socketPath}` };
  const engine = await createHttpEngine(endpoint, createEngineProbe(endpoint));
  engines.push(engine);
  return { engine, paths, headers };
}

const ok = ['{"status":"Pulling from app","id":"latest"}', '{"status":"Pulling fs layer","progressDetail":{},"id":"abcdef012345"}', '{"status":"Pull complete","progressDetail":{},"id":"abcdef012345"}', '{"status":"Digest: sha256:1111111111111111111111111111111111111111111111111111111111111111"}', '{"status":"Status: Downloaded newer image for app@sha256:1111"}'];
const digest = `sha256:${'1'.repeat(64)}`;

const pullError = (engine: Engine, stallTimeoutMs?: number): Promise<ResolverError> =>
  expectResolverError(engine.pull({ repository: 'localhost:5000/app', digest, auth: undefined, ...(stallTimeoutMs === undefined ? {} : { stallTimeoutMs }) }));

describe('the engine client against a fake Engine API', () => {
  it('pulls by digest with a negotiated API version and a padded base64url X-Registry-Auth', async () => {
    const { engine, paths, headers } = await fakeEngine((_req, res) => res.end(`${ok.join('\r\n')}\r\n`), '1.45');
    const state = await engine.pull({ repository: 'localhost:5000/app', digest, auth: { serveraddress: 'localhost:5000', username: 'u', password: new Secret('p?>~') } });
    expect(state.final).toMatch(/^Downloaded newer image/);
    const create = paths.find((p) => p.includes('/images/create')) ?? '';
    expect(create).toMatch(/^\/v1\.45\/images\/create\?/);
    expect(new URL(create, 'http://x').searchParams.get('tag')).toBe(digest);
    const header = headers[paths.indexOf(create)]?.['auth'] ?? '';
    expect(header.length % 4).toBe(0);
    expect(header).not.toMatch(/[+/]/);
    expect(JSON.parse(Buffer.from(header, 'base64url').toString('utf8'))).toMatchObject({ username: 'u', password: 'p?>~', serveraddress: 'localhost:5000' });
    expect(header).toBe(encodeRegistryAuth({ serveraddress: 'localhost:5000', username: 'u', password: new Secret('p?>~') }));
  });

  it('fails on an error line inside the 200 stream, with the engine’s message', async () => {
    const { engine } = await fakeEngine((_req, res) => res.end([ok[0], ok[1], '{"errorDetail":{"message":"write /var/lib/docker/tmp: no space left on device"},"error":"no space left on device"}', ok[4]].join('\n')));
    const e = await pullError(engine);
    expect(e.code).toBe('ERR_PULL_FAILED');
    expect(e.message).toContain('no space left on device');
  });

  it('fails on a malformed line instead of throwing an uncaught exception', async () => {
    const { engine } = await fakeEngine((_req, res) => res.end(`${ok[0]}\n{"status":"Downlo\n${ok[4]}\n`));
    const e = await pullError(engine);
    expect(e.message).toMatch(/malformed progress line/);
  });

  it('fails a stream that ends without its final status when the engine does not have the image', async () => {
    const { engine, paths } = await fakeEngine((_req, res) => res.end(ok.slice(0, 3).join('\n')));
    const e = await pullError(engine);
    expect(e.code).toBe('ERR_PULL_FAILED');
    expect(e.message).toMatch(/ended without the engine's final status, and the engine does not have the image/);
    expect(paths).toContain(`/v1.45/images/localhost:5000/app@${digest}/json`);
  });

  // Podman 4.3's compat API, as recorded from `podman system service`: no Digest:/Status: line, the
  // last line is "Download complete" with the image ID.
  const podman = ['{"status":"Pulling fs layer","progressDetail":{},"id":"22dee4a9ec2c"}', '{"status":"Download complete","progressDetail":{},"id":"22dee4a9ec2c"}', '{"status":"Pulling fs layer","progressDetail":{},"id":"f03bb9671c77"}', '{"status":"Download complete","progressDetail":{},"id":"f03bb9671c77"}', '{"status":"Download complete","progressDetail":{},"id":"f03bb9671c77"}'];

  it('accepts a clean stream without a final status once inspect shows the image (Podman)', async () => {
    const { engine } = await fakeEngine((_req, res) => res.end(`${podman.join('\n')}\n`), '1.41', {
      [`localhost:5000/app@${digest}`]: { Id: 'sha256:f03bb9671c77', RepoTags: [], RepoDigests: [`localhost:5000/app@${digest}`], Os: 'linux', Architecture: 'amd64' },
    });
    const state = await engine.pull({ repository: 'localhost:5000/app', digest, auth: undefined });
    expect(state.verifiedBy).toBe('inspect');
    expect(state.final).toBeUndefined();
  });

  it('an error line fails the pull without asking inspect, even if the image is there', async () => {
    const { engine } = await fakeEngine((_req, res) => res.end(`${podman[0]}\n{"error":"writing blob: unauthorized"}\n`), '1.41', {
      [`localhost:5000/app@${digest}`]: { Id: 'sha256:f03bb9671c77', RepoDigests: [`localhost:5000/app@${digest}`], Os: 'linux', Architecture: 'amd64' },
    });
    const e = await pullError(engine);
    expect(e.message).toContain('writing blob: unauthorized');
  });

  // Issue 13.18: the engine's text (often quoting the registry) must not drive the terminal.
  const hostile = '\u001b]0;owned\u0007\u001b[2J\u001b[31mdenied\u001b[0m\r\nforged: line\u0000\u202e';
  const clean = (text: string): void => {
    // eslint-disable-next-line no-control-regex -- asserting their absence
    expect(text).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
  };

  it('an error line with escape sequences and control characters reaches the message sanitised', async () => {
    const { engine } = await fakeEngine((_req, res) => res.end([ok[0], JSON.stringify({ errorDetail: { message: hostile }, error: hostile })].join('\n')));
    const e = await pullError(engine);
    clean(e.message);
    expect(e.message).toContain('denied forged: line');
    expect(e.message).not.toContain('owned');
  });

  it('status lines with escape sequences reach onProgress sanitised', async () => {
    const seen: string[] = [];
    const { engine } = await fakeEngine((_req, res) => res.end([ok[0], JSON.stringify({ status: `Downloading${hostile}`, id: 'bbbbbbbbbbbb' }), JSON.stringify({ status: `WARNING: ${hostile}` }), ...ok.slice(2)].join('\n')));
    const state = await engine.pull({ repository: 'localhost:5000/app', digest, auth: undefined, onProgress: (s) => { seen.push(...[...s.layers.values()].map((l) => l.status), ...s.warnings); } });
    expect(seen.some((t) => t.startsWith('Downloading'))).toBe(true);
    expect(state.warnings).toEqual(['WARNING: denied forged: line']);
    for (const t of [...seen, state.final ?? '', state.digest ?? '']) clean(t);
  });

  it('an engine error response with escape sequences is sanitised', async () => {
    const { engine } = await fakeEngine((_req, res) => res.end(ok.slice(0, 3).join('\n')), '1.45', { [`localhost:5000/app@${digest}`]: new Error(hostile) });
    const e = await pullError(engine);
    clean(e.message);
    expect(e.message).toContain('denied forged: line');
  });

  it('a malformed line is quoted sanitised', async () => {
    const { engine } = await fakeEngine((_req, res) => res.end(`${ok[0]}\n\u001b[2Jnot json\u0007\n`));
    const e = await pullError(engine);
    clean(e.message);
    expect(e.message).toContain('not json');
  });

  it('aborts a pull that makes no progress (stall watchdog)', async () => {
    const { engine } = await fakeEngine((_req, res) => res.write(`${ok[0]}\n`));
    const t = performance.now();
    const e = await pullError(engine, 300);
    expect(e.message).toMatch(/made no progress for 0.3 s/);
    expect(performance.now() - t).toBeLessThan(3000);
  });

  it('negotiates the API version and refuses engines older than API 1.40', () => {
    expect(negotiateApiVersion('1.41')).toBe('1.41');
    expect(negotiateApiVersion('1.52')).toBe('1.47');
    expect(() => negotiateApiVersion('1.39')).toThrow(/needs 1.40 or newer/);
  });
});

describe('the engine client and its container-running half', () => {
  /** A fake engine for one container `c1`: `start` answers as given; every request is recorded with when it closed. */
  async function runEngine(start: { status: number; body?: string }, exitCode = 3): Promise<{ engine: Engine; seen: { method: string; url: string; body: string; closed: boolean }[] }> {
    const dir = await mkdtemp(join(tmpdir(), 'fake-engine-'));
    const socketPath = join(dir, 'docker.sock');
    const seen: { method: string; url: string; body: string; closed: boolean }[] = [];
    let exit: () => void = () => undefined;
    const exited = new Promise<void>((r) => (exit = r));
    const server = createServer((req, res) => {
      const url = req.url ?? '';
      const row = { method: req.method ?? '', url, body: '', closed: false };
      seen.push(row);
      res.on('close', () => (row.closed = true));
      req.on('data', (c: Buffer) => (row.body += c.toString()));
      req.on('end', () => {
        if (url.endsWith('/version')) res.end(JSON.stringify({ Version: '26.1.5', ApiVersion: '1.45', Os: 'linux', Arch: 'amd64' }));
        else if (url.endsWith('/info')) res.end('{}');
        else if (url.startsWith('/v1.45/containers/create')) res.writeHead(201).end(JSON.stringify({ Id: 'c1', Warnings: ['The requested image\u0007 platform does not match'] }));
        else if (url.startsWith('/v1.45/containers/c1/attach')) {
          res.writeHead(200, { 'content-type': 'application/vnd.docker.multiplexed-stream' });
          res.write(Buffer.concat([frame(1, 'hello '), frame(2, 'oops\n')]));
          void exited.then(() => res.end(frame(1, 'world\n')));
        } else if (url.startsWith('/v1.45/containers/c1/wait')) {
          res.writeHead(200);
          void exited.then(() => res.end(JSON.stringify({ StatusCode: exitCode, Error: null })));
        } else if (url.startsWith('/v1.45/containers/c1/start')) {
          res.writeHead(start.status).end(start.body ?? '');
          if (start.status < 300) setTimeout(exit, 50);
        } else res.writeHead(404).end('{"message":"No such container: c2"}');
      });
    });
    server.on('upgrade', (req, socket) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', body: '', closed: false });
      socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
      let input = '';
      socket.on('data', (c: Buffer) => (input += c.toString()));
      // stdin's end arrives as the client's half-close: echo what came, then exit.
      socket.on('end', () => {
        socket.end(frame(1, `got ${input}`));
        exit();
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(socketPath, r));
    const endpoint = { kind: 'unix' as const, socketPath, display: `unix://${socketPath}` };
    const engine = await createHttpEngine(endpoint, createEngineProbe(endpoint));
    engines.push(engine);
    return { engine, seen };
  }
  const sink = (): { writable: PassThrough; text: () => string } => {
    const writable = new PassThrough();
    let text = '';
    writable.on('data', (c: Buffer) => (text += c.toString()));
    return { writable, text: () => text };
  };
  const spec = { image: 'app:1', name: 'web', platform: 'linux/arm64', cmd: ['true'], env: ['A=1'], tty: false, stdin: false, binds: [], autoRemove: true };

  it('creates with the name and platform in the query and the rest in the body, and hands on the engine\'s warnings, sanitised', async () => {
    const { engine, seen } = await runEngine({ status: 204 });
    expect(await engine.createContainer(spec)).toEqual({ id: 'c1', warnings: ['The requested image platform does not match'] });
    const create = seen.find((r) => r.url.includes('/containers/create'));
    expect(new URL(create?.url ?? '', 'http://x').searchParams.toString()).toBe('name=web&platform=linux%2Farm64');
    expect(JSON.parse(create?.body ?? '{}')).toMatchObject({ Image: 'app:1', Cmd: ['true'], Env: ['A=1'], Tty: false, OpenStdin: false, HostConfig: { AutoRemove: true, Binds: [] } });
  });

  it('attaches before the start, splits stdout and stderr, and returns the exit code of next-exit once the container is removed', async () => {
    const { engine, seen } = await runEngine({ status: 204 }, 3);
    const out = sink();
    const err = sink();
    const code = await engine.runAttached('c1', { stdin: undefined, stdout: out.writable, stderr: err.writable }, { tty: false, stdin: false, autoRemove: true });
    expect(code).toBe(3);
    expect(out.text()).toBe('hello world\n');
    expect(err.text()).toBe('oops\n');
    const order = seen.map((r) => r.url.replace(/^\/v1\.45\/containers\/c1\//, '').replace(/\?.*/, '')).filter((u) => !u.startsWith('/'));
    expect(order.indexOf('attach')).toBeLessThan(order.indexOf('start'));
    expect(seen.filter((r) => r.url.includes('/wait')).map((r) => new URL(r.url, 'http://x').searchParams.get('condition')).sort()).toEqual(['next-exit', 'removed']);
  });

  it('a refused start rejects at once with docker\'s words and exit code, and closes the attach and the waits', async () => {
    const { engine, seen } = await runEngine({ status: 400, body: JSON.stringify({ message: 'failed to create task: exec: "nope": executable file not found in $PATH' }) });
    const out = sink();
    const e = await expectResolverError(engine.runAttached('c1', { stdin: undefined, stdout: out.writable, stderr: sink().writable }, { tty: false, stdin: false, autoRemove: false }));
    expect(e.message).toBe('Error response from daemon: failed to create task: exec: "nope": executable file not found in $PATH');
    expect(exitCodeOf(e)).toBe(127);
    await new Promise((r) => setTimeout(r, 100));
    expect(seen.filter((r) => /\/(attach|wait)/.test(r.url)).map((r) => r.closed)).toEqual([true, true]);
  });

  it('with stdin, hijacks the attach (Upgrade: tcp), writes stdin and half-closes it at its end, and reads the answer', async () => {
    const { engine, seen } = await runEngine({ status: 204 }, 0);
    const out = sink();
    const code = await engine.runAttached('c1', { stdin: Readable.from([Buffer.from('ping')]), stdout: out.writable, stderr: sink().writable }, { tty: true, stdin: true, autoRemove: false });
    expect(code).toBe(0);
    expect(out.text()).toContain('got ping');
    expect(seen.find((r) => r.url.includes('/attach'))?.url).toMatch(/stdin=1/);
  });

  it('kill, remove and resize of a container the engine does not know are not errors', async () => {
    const { engine } = await runEngine({ status: 204 });
    await engine.kill('c1', 'SIGTERM');
    await engine.remove('c2');
    await engine.resize('c2', 24, 80);
  });

  it('names the endpoint when the engine goes away in the middle of a pull', async () => {
    const { engine } = await fakeEngine((req, res) => {
      res.write(`${ok[0]}\n`);
      setTimeout(() => req.socket.destroy(), 50);
    });
    const e = await pullError(engine);
    expect(e.code).toBe('ERR_ENGINE_UNAVAILABLE');
    expect(e.message).toMatch(/^lost the Docker Engine at unix:\/\/.*docker\.sock during pull of localhost:5000\/app@sha256:1+ \(/);
  });

  it('escapes ? and # in a name, as the docker CLI does, so they cannot end the path', async () => {
    const { engine, paths } = await fakeEngine(() => undefined, '1.45', { 'odd?x#y': { Id: 'sha256:o', RepoTags: ['odd?x#y'], RepoDigests: null, Os: 'linux', Architecture: 'arm', Variant: 'v7' } });
    expect(await engine.inspectImage('odd?x#y')).toMatchObject({ id: 'sha256:o', variant: 'v7', repoDigests: [] });
    expect(paths).toContain('/v1.45/images/odd%3Fx%23y/json');
  });
});
