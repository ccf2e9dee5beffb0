import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { contextDir, parseDockerHost, resolveEngineEndpoint, type FileReader } from './docker-host.js';

const home = '/home/u';
const cfg = '/cfg';
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

/** A context store in memory, laid out as `docker context create` writes it. */
function store(files: Record<string, string>): FileReader {
  return (path) => (path in files ? Buffer.from(files[path] ?? '') : undefined);
}
const meta = (name: string, host: string, skip = false): Record<string, string> => ({
  [`${cfg}/contexts/meta/${sha(name)}/meta.json`]: JSON.stringify({ Name: name, Metadata: {}, Endpoints: { docker: { Host: host, SkipTLSVerify: skip } } }),
});
const files = {
  [`${cfg}/config.json`]: JSON.stringify({ auths: {}, currentContext: 'used' }),
  ...meta('used', 'unix:///run/used.sock'),
  ...meta('envctx', 'unix:///run/env.sock'),
  ...meta('flagctx', 'unix:///run/flag.sock'),
  ...meta('remote', 'tcp://127.0.0.1:2376'),
  [`${cfg}/contexts/tls/${sha('remote')}/docker/ca.pem`]: 'CA',
  [`${cfg}/contexts/tls/${sha('remote')}/docker/cert.pem`]: 'CERT',
  [`${cfg}/contexts/tls/${sha('remote')}/docker/key.pem`]: 'KEY',
  ...meta('skip', 'tcp://127.0.0.1:2376', true),
  ...meta('plain', 'tcp://localhost'),
  ...meta('ssh', 'ssh://me@127.0.0.1'),
};
const read = store(files);
const env = (e: Record<string, string>): Record<string, string> => ({ DOCKER_CONFIG: cfg, ...e });

describe('engine endpoint, resolved as the docker CLI does', () => {
  it('names a context folder by the sha256 of its name', () => {
    expect(contextDir('foo')).toBe('2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae');
  });

  it.each([
    ['--context beats DOCKER_HOST, DOCKER_CONTEXT and currentContext', { context: 'flagctx' }, { DOCKER_HOST: 'unix:///run/h.sock', DOCKER_CONTEXT: 'envctx' }, '/run/flag.sock', 'flagctx'],
    ['--host beats everything but is the default context', { host: 'unix:///run/flag-host.sock' }, { DOCKER_HOST: 'unix:///run/h.sock', DOCKER_CONTEXT: 'envctx' }, '/run/flag-host.sock', 'default'],
    ['DOCKER_HOST beats DOCKER_CONTEXT and currentContext', {}, { DOCKER_HOST: 'unix:///run/h.sock', DOCKER_CONTEXT: 'envctx' }, '/run/h.sock', 'default'],
    ['DOCKER_CONTEXT beats currentContext', {}, { DOCKER_CONTEXT: 'envctx' }, '/run/env.sock', 'envctx'],
    ['currentContext (docker context use)', {}, {}, '/run/used.sock', 'used'],
    ['--context default = DOCKER_HOST or the default socket', { context: 'default' }, { DOCKER_CONTEXT: 'envctx' }, '/var/run/docker.sock', 'default'],
    ['DOCKER_CONTEXT=default with DOCKER_HOST unset', {}, { DOCKER_CONTEXT: 'default' }, '/var/run/docker.sock', 'default'],
  ])('%s', (_name, flags: { host?: string; context?: string }, e, socketPath, context) => {
    const ep = resolveEngineEndpoint({ env: env(e), homeDir: home, ...flags }, { read });
    expect(ep).toMatchObject({ kind: 'unix', socketPath, context });
  });

  it('without config.json, contexts or DOCKER_HOST: the default socket', () => {
    const ep = resolveEngineEndpoint({ env: {}, homeDir: home }, { read: store({}) });
    expect(ep).toMatchObject({ kind: 'unix', socketPath: '/var/run/docker.sock', display: 'unix:///var/run/docker.sock', context: 'default', source: 'default socket' });
  });

  it('reads ~/.docker when DOCKER_CONFIG is unset', () => {
    const ep = resolveEngineEndpoint({ env: {}, homeDir: home }, { read: store({ [`${home}/.docker/config.json`]: '{"currentContext":"x"}', [`${home}/.docker/contexts/meta/${sha('x')}/meta.json`]: '{"Name":"x","Endpoints":{"docker":{"Host":"unix:///run/x.sock"}}}' }) });
    expect(ep).toMatchObject({ socketPath: '/run/x.sock', context: 'x' });
  });

  it('refuses --host together with --context, with docker\'s words', () => {
    expect(() => resolveEngineEndpoint({ env: {}, homeDir: home, host: 'unix:///a', context: 'used' }, { read })).toThrow('conflicting options: cannot specify both --host and --context');
  });

  it('an unknown context is docker\'s error, naming where the name came from', () => {
    let caught: unknown;
    try {
      resolveEngineEndpoint({ env: env({ DOCKER_CONTEXT: 'nope' }), homeDir: home }, { read });
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({
      code: 'ERR_USAGE',
      message: `unable to resolve docker endpoint: context "nope": context not found: open ${cfg}/contexts/meta/${sha('nope')}/meta.json: no such file or directory`,
      details: [expect.stringContaining('DOCKER_CONTEXT')],
    });
  });

  it('carries a context\'s TLS material and verifies by default', () => {
    const ep = resolveEngineEndpoint({ env: env({}), homeDir: home, context: 'remote' }, { read });
    expect(ep).toMatchObject({ kind: 'tcp', host: '127.0.0.1', port: 2376, display: 'tcp://127.0.0.1:2376', context: 'remote' });
    if (ep.kind !== 'tcp') throw new Error('tcp expected');
    expect({ ca: ep.tls?.ca?.toString(), cert: ep.tls?.cert?.toString(), key: ep.tls?.key?.toString(), verify: ep.tls?.verify }).toEqual({ ca: 'CA', cert: 'CERT', key: 'KEY', verify: true });
  });

  it('SkipTLSVerify without material is TLS without verification; no material and no skip is plain HTTP on 2375', () => {
    const skip = resolveEngineEndpoint({ env: env({}), homeDir: home, context: 'skip' }, { read });
    expect(skip.kind === 'tcp' ? skip.tls : 'no').toEqual({ ca: undefined, cert: undefined, key: undefined, verify: false });
    const plain = resolveEngineEndpoint({ env: env({}), homeDir: home, context: 'plain' }, { read });
    expect(plain).toMatchObject({ kind: 'tcp', host: 'localhost', port: 2375, tls: undefined });
  });

  it('DOCKER_TLS_VERIFY reads ca/cert/key from DOCKER_CERT_PATH (default: the config folder); a missing ca.pem is an error', () => {
    const certs = store({ '/certs/ca.pem': 'CA2', '/certs/cert.pem': 'C2', '/certs/key.pem': 'K2', [`${cfg}/ca.pem`]: 'CA3' });
    const ep = resolveEngineEndpoint({ env: env({ DOCKER_HOST: 'tcp://127.0.0.1:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' }), homeDir: home }, { read: certs });
    expect(ep.kind === 'tcp' ? ep.tls?.cert?.toString() : undefined).toBe('C2');
    const fromConfig = resolveEngineEndpoint({ env: env({ DOCKER_HOST: 'tcp://127.0.0.1', DOCKER_TLS: '1' }), homeDir: home }, { read: certs });
    expect(fromConfig).toMatchObject({ port: 2375, tls: { verify: false, cert: undefined } });
    expect(() => resolveEngineEndpoint({ env: env({ DOCKER_HOST: 'tcp://127.0.0.1:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/none' }), homeDir: home }, { read: certs })).toThrow(/open \/none\/ca\.pem: no such file/);
  });

  it('TLS variables never apply to a unix socket', () => {
    const ep = resolveEngineEndpoint({ env: env({ DOCKER_HOST: 'unix:///run/h.sock', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/none' }), homeDir: home }, { read });
    expect(ep).toMatchObject({ kind: 'unix', socketPath: '/run/h.sock' });
  });

  it('an ssh:// context or host is refused with a way to reach the engine', () => {
    expect(() => resolveEngineEndpoint({ env: env({}), homeDir: home, context: 'ssh' }, { read })).toThrow(expect.objectContaining({ code: 'ERR_USAGE', details: expect.arrayContaining([expect.stringContaining('ssh -nNT -L')]) }));
  });

  it('a config.json that is not JSON warns and falls back to the default socket (docker does the same)', () => {
    const warnings: string[] = [];
    const ep = resolveEngineEndpoint({ env: env({}), homeDir: home }, { read: store({ [`${cfg}/config.json`]: '{not json' }), onWarning: (m) => warnings.push(m) });
    expect(ep).toMatchObject({ socketPath: '/var/run/docker.sock' });
    expect(warnings).toEqual([expect.stringContaining(`${cfg}/config.json`)]);
  });

  it('a context without a docker endpoint or with broken metadata names the context', () => {
    const broken = store({ [`${cfg}/contexts/meta/${sha('k8s')}/meta.json`]: '{"Name":"k8s","Endpoints":{}}', [`${cfg}/contexts/meta/${sha('bad')}/meta.json`]: '[' });
    expect(() => resolveEngineEndpoint({ env: env({ DOCKER_CONTEXT: 'k8s' }), homeDir: home }, { read: broken })).toThrow('context "k8s": cannot find docker endpoint in context');
    expect(() => resolveEngineEndpoint({ env: env({ DOCKER_CONTEXT: 'bad' }), homeDir: home }, { read: broken })).toThrow(/context "bad": .* is not valid context metadata/);
  });
});

describe('parseDockerHost (docker opts.ParseHost)', () => {
  it.each([
    ['', 'unix:///var/run/docker.sock'],
    ['  ', 'unix:///var/run/docker.sock'],
    ['unix://', 'unix:///var/run/docker.sock'],
    ['unix:///tmp/d.sock', 'unix:///tmp/d.sock'],
    ['unix://relative.sock', 'unix://relative.sock'],
    ['tcp://127.0.0.1', 'tcp://127.0.0.1:2375'],
    ['tcp://', 'tcp://localhost:2375'],
    ['127.0.0.1:7', 'tcp://127.0.0.1:7'],
    ['tcp://[::1]:7', 'tcp://[::1]:7'],
    ['tcp://127.0.0.1:80', 'tcp://127.0.0.1:80'],
  ])('%j → %s', (raw, display) => {
    expect(parseDockerHost(raw, 'DOCKER_HOST').display).toBe(display);
  });

  it.each([
    ['http://127.0.0.1:7', /invalid bind address format: http:\/\/127\.0\.0\.1:7/],
    ['foo://x', /invalid bind address format/],
    ['tcp://127.0.0.1:99999', /port 99999 is out of range 1-65535/],
    ['tcp://127.0.0.1:0', /port 0 is out of range/],
    ['tcp://300.1.1.1:2375', /not a host\[:port\]/],
    ['tcp://127.0.0.1:7/path', /path prefix/],
    ['npipe:////./pipe/docker_engine', /only on Windows/],
    ['fd://', /not one a client can connect to/],
    ['ssh://me@host', /does not tunnel the Docker API over ssh/],
    ['unix://tcp://x', /invalid proto, expected unix/],
  ])('%j is refused', (raw, message) => {
    expect(() => parseDockerHost(raw, 'DOCKER_HOST')).toThrow(message);
  });

  it('accepts and ignores userinfo as docker does, and never prints it', () => {
    expect(parseDockerHost('tcp://user:s3cret@127.0.0.1:1', 'DOCKER_HOST')).toMatchObject({ kind: 'tcp', host: '127.0.0.1', port: 1, display: 'tcp://127.0.0.1:1' });
    const messages: string[] = [];
    for (const raw of ['tcp://user:s3cret@127.0.0.1:1?x', 'ssh://user:s3cret@host', 'foo://user:s3cret@x', 'tcp://user:s3cret@127.0.0.1:1/path']) {
      for (const sources of [{ env: env({ DOCKER_HOST: raw }), homeDir: home }, { env: env({}), homeDir: home, host: raw }]) {
        try {
          resolveEngineEndpoint(sources, { read });
          messages.push('resolved');
        } catch (error) {
          const e = error as { message: string; details?: readonly string[] };
          messages.push([e.message, ...(e.details ?? [])].join('\n'));
        }
      }
    }
    expect(messages).toHaveLength(8);
    for (const m of messages) {
      expect(m).not.toBe('resolved');
      expect(m).not.toMatch(/s3cret|user:/);
    }
  });
});

describe('the real file reader', () => {
  it('a FIFO in place of config.json or meta.json is refused at once, never read (a sync read would block past signals)', async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, mkdirSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'docker-host-'));
    execFileSync('mkfifo', [join(dir, 'config.json')]);
    const warnings: string[] = [];
    const ep = resolveEngineEndpoint({ env: { DOCKER_CONFIG: dir }, homeDir: home }, { onWarning: (m) => warnings.push(m) });
    expect(ep).toMatchObject({ socketPath: '/var/run/docker.sock' });
    expect(warnings).toEqual([expect.stringContaining('not a regular file')]);
    mkdirSync(join(dir, 'contexts', 'meta', sha('x')), { recursive: true });
    execFileSync('mkfifo', [join(dir, 'contexts', 'meta', sha('x'), 'meta.json')]);
    expect(() => resolveEngineEndpoint({ env: { DOCKER_CONFIG: dir }, homeDir: home, context: 'x' })).toThrow(/meta\.json: not a regular file/);
  });
});
