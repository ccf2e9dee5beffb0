/**
 * The engine endpoint is found the way the docker CLI 28 finds it: a real context store written by
 * `docker context create` / `docker context use` in a temporary DOCKER_CONFIG, the private dockerd on its
 * unix socket, and a TLS front (client certificates required) on loopback in front of that socket.
 * Each case compares what resolver reaches with what `docker version` reaches with the same settings.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cli } from './cli.js';

const s = inject('services');
const engine = s.engine;
const socketPath = engine?.replace(/^unix:\/\//, '') ?? '';
const hasDocker = (() => {
  try {
    execFileSync('docker', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

let dir = '';
let config = '';
let certs = '';
let tlsPort = 0;
let tlsServer: Server | undefined;
/** A second TLS front that asks for no client certificate (for SkipTLSVerify contexts). */
let openTlsServer: Server | undefined;
let openTlsPort = 0;
/** Client certificates the TLS front accepted (a connection without one is refused by the handshake). */
let verifiedConnections = 0;

function docker(args: readonly string[], env: Record<string, string | undefined>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('docker', [...args], { env: { PATH: process.env['PATH'], HOME: dir, ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
    });
  });
}

/** The server version and API version docker reaches, or its error. */
async function dockerSees(args: readonly string[], env: Record<string, string | undefined>): Promise<{ version: string; api: string } | { error: string }> {
  const r = await docker([...args, 'version', '--format', '{{.Server.Version}} {{.Server.APIVersion}}'], env);
  const [version, api] = r.stdout.trim().split(' ');
  return r.code === 0 && version !== undefined && api !== undefined ? { version, api } : { error: r.stderr.trim() };
}

/** What resolver reaches: the engine in `platform --json`. */
async function resolverSees(args: readonly string[], env: Record<string, string | undefined>): Promise<{ version: string; api: string; endpoint: string } | { error: string; code: number | null }> {
  const r = await cli([...args, 'platform', '--json'], env);
  if (r.code !== 0) return { error: r.stderr.trim(), code: r.code };
  const j = JSON.parse(r.stdout) as { engine: { version: string; apiVersion: string; endpoint: string } | null };
  if (j.engine === null) return { error: r.stderr.trim(), code: r.code };
  return { version: j.engine.version, api: j.engine.apiVersion, endpoint: j.engine.endpoint };
}

function openssl(args: readonly string[]): void {
  execFileSync('openssl', args, { cwd: certs, stdio: 'ignore' });
}

beforeAll(async () => {
  if (engine === undefined || !hasDocker) return;
  dir = await mkdtemp(join(s.tmp, 'context-'));
  config = join(dir, 'docker-config');
  certs = join(dir, 'certs');
  execFileSync('mkdir', ['-p', config, certs]);
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=resolver-context-ca']);
  for (const [name, ext] of [['server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth'], ['client', 'extendedKeyUsage=clientAuth']] as const) {
    await writeFile(join(certs, `${name}.ext`), `${ext}\n`);
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', `${name}.pem`, '-days', '1', '-extfile', `${name}.ext`]);
  }
  const pem = (f: string): Buffer => readFileSync(join(certs, f));
  const forward = (tlsSocket: import('node:tls').TLSSocket): void => {
    const upstream: Socket = connect(socketPath);
    tlsSocket.pipe(upstream).pipe(tlsSocket);
    const close = (): void => {
      tlsSocket.destroy();
      upstream.destroy();
    };
    tlsSocket.on('error', close);
    upstream.on('error', close);
  };
  tlsServer = createServer({ key: pem('server-key.pem'), cert: pem('server.pem'), ca: pem('ca.pem'), requestCert: true, rejectUnauthorized: true }, (tlsSocket) => {
    verifiedConnections += 1;
    forward(tlsSocket);
  });
  openTlsServer = createServer({ key: pem('server-key.pem'), cert: pem('server.pem') }, forward);
  const listen = async (server: Server): Promise<number> => {
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  };
  tlsPort = await listen(tlsServer);
  openTlsPort = await listen(openTlsServer);

  const env = { DOCKER_CONFIG: config };
  const create = async (args: readonly string[]): Promise<void> => {
    const r = await docker(['context', 'create', ...args], env);
    if (r.code !== 0) throw new Error(`docker context create ${args.join(' ')}: ${r.stderr}`);
  };
  await create(['private', '--docker', `host=${engine}`]);
  await create(['unused', '--docker', 'host=unix:///nonexistent/unused.sock']);
  await create(['tls', '--docker', `host=tcp://127.0.0.1:${tlsPort},ca=${join(certs, 'ca.pem')},cert=${join(certs, 'client.pem')},key=${join(certs, 'client-key.pem')}`]);
  await create(['tls-no-cert', '--docker', `host=tcp://127.0.0.1:${tlsPort},ca=${join(certs, 'ca.pem')}`]);
  await create(['skip-verify', '--docker', `host=tcp://127.0.0.1:${openTlsPort},skip-tls-verify=true`]);
  await create(['verify-unknown-ca', '--docker', `host=tcp://127.0.0.1:${openTlsPort},ca=${join(certs, 'client.pem')}`]);
  await create(['remote-ssh', '--docker', 'host=ssh://nobody@127.0.0.1:1']);
  const use = await docker(['context', 'use', 'private'], env);
  if (use.code !== 0) throw new Error(use.stderr);
}, 120_000);

afterAll(async () => {
  await Promise.all([tlsServer, openTlsServer].map((server) => new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())))));
});

describe.runIf((engine !== undefined && hasDocker) || process.env['CI'] === 'true')('engine endpoint from docker contexts (real docker CLI 28 store)', () => {
  it('the private engine and the docker CLI are there', () => {
    expect(engine).toBeDefined();
    expect(hasDocker).toBe(true);
  });

  it.each([
    ['currentContext from `docker context use`', [], {}],
    ['DOCKER_CONTEXT over currentContext', [], { DOCKER_CONTEXT: 'private' }],
    ['--context over a dead DOCKER_HOST', ['--context', 'private'], { DOCKER_HOST: 'unix:///nonexistent/host.sock' }],
    ['DOCKER_HOST over DOCKER_CONTEXT', [], { DOCKER_CONTEXT: 'unused', DOCKER_HOST: engine }],
    ['--host over DOCKER_CONTEXT', ['--host', engine ?? ''], { DOCKER_CONTEXT: 'unused' }],
    ['-H over currentContext', ['-H', engine ?? ''], {}],
  ])('%s: resolver reaches the engine docker reaches', async (_name, args, extra) => {
    const env = { DOCKER_CONFIG: config, DOCKER_HOST: undefined, ...extra };
    const [viaDocker, viaResolver] = await Promise.all([dockerSees(args, env), resolverSees(args, env)]);
    expect(viaDocker).toHaveProperty('version');
    expect(viaResolver).toMatchObject(viaDocker);
    expect(viaResolver).toMatchObject({ endpoint: engine });
  });

  it('a context that points nowhere fails for both, and resolver names its endpoint', async () => {
    const env = { DOCKER_CONFIG: config, DOCKER_HOST: undefined, DOCKER_CONTEXT: 'unused' };
    const viaDocker = await dockerSees([], env);
    expect(viaDocker).toHaveProperty('error');
    // An engine named explicitly (here by DOCKER_CONTEXT) that cannot be reached is an error (exit 9), not an
    // answer for this process's machine.
    const r = await cli(['platform'], env);
    expect(r.code).toBe(9);
    expect(r.stderr).toContain('unix:///nonexistent/unused.sock');
  });

  it('the TLS material of a context reaches the engine through a TLS front that requires client certificates', async () => {
    const before = verifiedConnections;
    const env = { DOCKER_CONFIG: config, DOCKER_HOST: undefined };
    const [viaDocker, viaResolver] = await Promise.all([dockerSees(['--context', 'tls'], env), resolverSees(['--context', 'tls'], env)]);
    expect(viaDocker).toHaveProperty('version');
    expect(viaResolver).toMatchObject({ ...viaDocker, endpoint: `tcp://127.0.0.1:${tlsPort}` });
    expect(verifiedConnections).toBeGreaterThan(before);
  });

  it('pull goes through the context too (the engine client over TLS with the context\'s client certificate)', async () => {
    const env = { DOCKER_CONFIG: config, DOCKER_HOST: undefined, RESOLVER_STATE_DIR: join(dir, 'state') };
    const r = await cli(['--context', 'tls', 'pull', '-q', `${s.anonymous}/super-golang:latest`], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('SkipTLSVerify reaches a TLS engine whose certificate nobody trusts; verifying against another CA fails, for both', async () => {
    const env = { DOCKER_CONFIG: config, DOCKER_HOST: undefined, RESOLVER_STATE_DIR: join(dir, 'state-skip') };
    const [viaDocker, viaResolver] = await Promise.all([dockerSees(['--context', 'skip-verify'], env), resolverSees(['--context', 'skip-verify'], env)]);
    expect(viaDocker).toHaveProperty('version');
    expect(viaResolver).toMatchObject({ ...viaDocker, endpoint: `tcp://127.0.0.1:${openTlsPort}` });
    const pulled = await cli(['--context', 'skip-verify', 'pull', '-q', `${s.anonymous}/super-golang:latest`], env);
    expect(pulled.code, pulled.stderr).toBe(0);
    const [badDocker, badResolver] = await Promise.all([dockerSees(['--context', 'verify-unknown-ca'], env), resolverSees(['--context', 'verify-unknown-ca'], env)]);
    expect(badDocker).toHaveProperty('error');
    expect(badResolver).toHaveProperty('error');
  });

  it('a context without a client certificate is refused by the TLS front for both', async () => {
    const env = { DOCKER_CONFIG: config, DOCKER_HOST: undefined };
    const [viaDocker, viaResolver] = await Promise.all([dockerSees(['--context', 'tls-no-cert'], env), resolverSees(['--context', 'tls-no-cert'], env)]);
    expect(viaDocker).toHaveProperty('error');
    expect(viaResolver).toHaveProperty('error');
  });

  it('an unknown context: docker\'s error text, exit 2, for --context, DOCKER_CONTEXT and currentContext', async () => {
    const brokenConfig = join(dir, 'config-unknown');
    execFileSync('mkdir', ['-p', brokenConfig]);
    await writeFile(join(brokenConfig, 'config.json'), JSON.stringify({ currentContext: 'gone' }));
    for (const [args, env] of [
      [['--context', 'nope'], { DOCKER_CONFIG: config }],
      [[], { DOCKER_CONFIG: config, DOCKER_CONTEXT: 'nope' }],
      [[], { DOCKER_CONFIG: brokenConfig }],
    ] as const) {
      const full = { ...env, DOCKER_HOST: undefined };
      const d = await docker([...args, 'version'], full);
      const want = /unable to resolve docker endpoint: context "[a-z]+": context not found: open \S+meta\.json: no such file or directory/.exec(d.stderr)?.[0];
      expect(want).toBeDefined();
      const r = await cli([...args, 'which', '--platform', 'linux/amd64', `${s.anonymous}/super-golang:latest`], full);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`resolver: ${want ?? ''}`);
      expect(r.stdout).toBe('');
    }
  });

  it('--host with --context is refused with docker\'s words', async () => {
    const d = await docker(['--host', engine ?? '', '--context', 'private', 'version'], { DOCKER_CONFIG: config });
    expect(d.stderr).toContain('conflicting options: cannot specify both --host and --context');
    const r = await cli(['--host', engine ?? '', '--context', 'private', 'platform'], { DOCKER_CONFIG: config });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('conflicting options: cannot specify both --host and --context');
  });

  it('an ssh:// context is refused with a way to reach the engine, and no ssh is started', async () => {
    const r = await cli(['--context', 'remote-ssh', 'platform'], { DOCKER_CONFIG: config, PATH: '/nonexistent' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('resolver does not tunnel the Docker API over ssh');
    expect(r.stderr).toContain('ssh -nNT -L');
  });

  it('the daemon commands refuse the global --host/--context instead of ignoring them', async () => {
    const r = await cli(['--context', 'private', 'check', '--config', join(dir, 'none.yaml')], { DOCKER_CONFIG: config });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--host/--context do not apply to "resolver check"');
  });
});
