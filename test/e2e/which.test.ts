import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { basicUser } from '../harness/global-setup.js';
import { identityToken, tokenUser } from '../sandbox/token-server.js';
import { cli, cliPath, transcript } from './cli.js';

const s = inject('services');
const child = (repo: string, platform: string): string => {
  const found = s.images[repo]?.children.find((c) => c.platform === platform);
  if (found === undefined) throw new Error(`no ${platform} child in ${repo}`);
  return found.manifest;
};
const ref = (repo: string, host = s.anonymous): string => `${host}/${repo}:latest`;

let configDir = '';
const writeConfig = async (name: string, config: unknown): Promise<string> => {
  const dir = join(configDir, name);
  await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
};
const basicAuth = (u: string, p: string): string => Buffer.from(`${u}:${p}`).toString('base64');

beforeAll(async () => {
  configDir = await mkdtemp(join(s.tmp, 'cfg-'));
});

describe('resolver which (anonymous registry, built CLI)', () => {
  it.each([
    ['linux/amd64', 'linux/amd64'],
    ['linux/arm64', 'linux/arm64/v8'],
    ['linux/arm64/v8', 'linux/arm64/v8'],
    ['linux/arm/v7', 'linux/arm/v7'],
    ['linux/arm', 'linux/arm/v7'],
    ['linux/arm/v6', 'linux/arm/v6'],
    ['linux/arm/v5', 'linux/arm/v5'],
    ['linux/386', 'linux/386'],
    ['linux/ppc64le', 'linux/ppc64le'],
    ['linux/s390x', 'linux/s390x'],
    ['windows(10.0.17763)/amd64', 'windows/amd64@10.0.17763.1'],
    ['windows(10.0.20348)/amd64', 'windows/amd64@10.0.20348.1'],
    ['windows(10.0.26100)/amd64', 'windows/amd64@10.0.20348.1'],
  ])('Docker list, --platform %s → the %s child; stdout is the digest alone', async (platform, expected) => {
    const r = await cli(['which', ref('multi/docker'), '--platform', platform]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${child('multi/docker', expected)}\n`);
  });

  it('honours DOCKER_DEFAULT_PLATFORM, and --platform wins over it', async () => {
    const env = { DOCKER_DEFAULT_PLATFORM: 'linux/arm/v6' };
    expect((await cli(['which', ref('multi/docker')], env)).stdout).toBe(`${child('multi/docker', 'linux/arm/v6')}\n`);
    expect((await cli(['which', ref('multi/docker'), '--platform', 'linux/386'], env)).stdout).toBe(`${child('multi/docker', 'linux/386')}\n`);
  });

  it('OCI index with attestations: falls back arm64 → arm/v7 never, picks arm64; never an attestation', async () => {
    const arm64 = await cli(['which', ref('multi/oci'), '--platform', 'linux/arm64']);
    expect(arm64.stdout).toBe(`${child('multi/oci', 'linux/arm64')}\n`);
    const amd64v3 = await cli(['which', ref('multi/oci'), '--platform', 'linux/amd64/v3']);
    expect(amd64v3.stdout).toBe(`${child('multi/oci', 'linux/amd64/v3')}\n`);
    for (const a of s.images['multi/oci']?.attestations ?? []) expect(amd64v3.stdout).not.toContain(a);
  });

  it('arm64 host falls back to arm/v6; arm/v7 host to arm/v6; amd64 host to 386', async () => {
    expect((await cli(['which', ref('arm-fallback'), '--platform', 'linux/arm64'])).stdout).toBe(`${child('arm-fallback', 'linux/arm/v6')}\n`);
    expect((await cli(['which', ref('arm-fallback'), '--platform', 'linux/arm/v7'])).stdout).toBe(`${child('arm-fallback', 'linux/arm/v6')}\n`);
    expect((await cli(['which', ref('x386'), '--platform', 'linux/amd64'])).stdout).toBe(`${child('x386', 'linux/386')}\n`);
  });

  it('ties go to document order; plain arm means arm/v7', async () => {
    const ties = s.images['ties']?.children ?? [];
    expect((await cli(['which', ref('ties'), '--platform', 'linux/arm64/v8'])).stdout).toBe(`${ties[0]?.manifest}\n`);
    expect((await cli(['which', ref('ties'), '--platform', 'linux/amd64'])).stdout).toBe(`${ties[2]?.manifest}\n`);
    expect((await cli(['which', ref('plain-arm'), '--platform', 'linux/arm/v7'])).stdout).toBe(`${child('plain-arm', 'linux/arm')}\n`);
    expect((await cli(['which', ref('plain-arm'), '--platform', 'linux/arm/v6'])).stdout).toBe(`${child('plain-arm', 'linux/arm/v6')}\n`);
  });

  it('takes a platform-less entry only as the last resort; rejects {} on the containerd store, keeps it on the classic store', async () => {
    expect((await cli(['which', ref('noplatform'), '--platform', 'linux/amd64'])).stdout).toBe(`${child('noplatform', 'linux/amd64')}\n`);
    expect((await cli(['which', ref('noplatform'), '--platform', 'linux/arm64'])).stdout).toBe(`${child('noplatform', 'linux/arm64')}\n`);
    const containerd = await cli(['which', ref('emptyplatform'), '--platform', 'linux/amd64']);
    expect(containerd.code).toBe(3);
    const classic = await cli(['which', ref('emptyplatform'), '--platform', 'linux/amd64', '--store', 'classic']);
    expect(classic.stdout).toBe(`${child('emptyplatform', 'linux/amd64')}\n`);
  });

  it('os.features filter entries from Docker 29.6 on, not before', async () => {
    const now = await cli(['which', ref('features'), '--platform', 'linux/amd64']);
    expect(now.stdout).toBe(`${s.images['features']?.children[1]?.manifest}\n`);
    const old = await cli(['which', ref('features'), '--platform', 'linux/amd64', '--engine-version', '29.5']);
    expect(old.stdout).toBe(`${s.images['features']?.children[0]?.manifest}\n`);
  });

  it('walks a nested index', async () => {
    expect((await cli(['which', ref('nested'), '--platform', 'linux/amd64'])).stdout).toBe(`${child('nested', 'linux/amd64')}\n`);
    expect((await cli(['which', ref('nested'), '--platform', 'linux/arm64'])).stdout).toBe(`${child('nested', 'linux/arm64')}\n`);
  });

  it('prints a single-platform tag’s own digest', async () => {
    const r = await cli(['which', ref('single'), '--platform', 'linux/amd64']);
    expect(r.stdout).toBe(`${s.images['single']?.index}\n`);
  });

  it('resolves name@digest by the digest', async () => {
    const index = s.images['multi/docker']?.index ?? '';
    const r = await cli(['which', `${s.anonymous}/multi/docker:wrongtag@${index}`, '--platform', 'linux/arm/v7']);
    expect(r.stdout).toBe(`${child('multi/docker', 'linux/arm/v7')}\n`);
  });

  it('no match: Docker’s message, the available platforms, exit 3', async () => {
    const r = await cli(['which', ref('nomatch'), '--platform', 'linux/arm64/v8']);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('no matching manifest for linux/arm64/v8 in the manifest list entries: no match for platform in manifest: not found');
    expect(r.stderr).toContain('available platforms: linux/s390x, linux/mips64le');
    expect(r.stderr).not.toContain('unknown/unknown');
    const classic = await cli(['which', ref('nomatch'), '--platform', 'linux/arm64/v8', '--store', 'classic']);
    expect(classic.stderr).toMatch(/no matching manifest for linux\/arm64\/v8 in the manifest list entries\n/);
  });

  it('--json reports reference, index, chosen child and target', async () => {
    const r = await cli(['which', ref('multi/oci'), '--platform', 'linux/arm/v7', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, any>;
    expect(j['reference']).toBe(`${s.anonymous}/multi/oci:latest`);
    expect(j['index']).toEqual({ digest: s.images['multi/oci']?.index, mediaType: 'application/vnd.oci.image.index.v1+json' });
    expect(j['chosen']).toMatchObject({ digest: child('multi/oci', 'linux/arm/v7'), mediaType: 'application/vnd.oci.image.manifest.v1+json', platform: 'linux/arm/v7' });
    expect(j['chosen'].size).toBeGreaterThan(100);
    expect(j['target']).toMatchObject({ platform: 'linux/arm/v7', requested: true });
  });

  it('--explain gives every entry a verdict', async () => {
    const r = await cli(['which', ref('multi/oci'), '--platform', 'linux/amd64/v2', '--explain']);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    const line = (digest: string): string => lines.find((x) => x.includes(digest)) ?? '';
    expect(line(child('multi/oci', 'linux/amd64/v2'))).toContain('CHOSEN (exact match, rank 0)');
    expect(line(child('multi/oci', 'linux/amd64'))).toContain('accepted at rank 1');
    expect(line(child('multi/oci', 'linux/amd64/v3'))).toContain('incompatible');
    for (const a of s.images['multi/oci']?.attestations ?? []) expect(line(a)).toContain('attestation');
    expect(r.stdout).toContain(`chosen     ${child('multi/oci', 'linux/amd64/v2')}`);
  });

  it.each([
    [['which', 'Not/Valid'], 2, /must be lowercase/],
    [['which', 'alpine', '--platform', 'i686'], 2, /invalid platform "i686": unknown operating system or architecture/],
    [['which', 'alpine', '--bogus'], 2, /unknown option/],
    [['which', `127.0.0.1:1/x:latest`, '--platform', 'linux/amd64'], 6, /refused/],
  ] as const)('bad input %j exits %i', async (args, code, message) => {
    const r = await cli(args);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it('not found: a missing tag and a missing repository exit 4 naming them', async () => {
    const tag = await cli(['which', `${s.anonymous}/multi/docker:nope`, '--platform', 'linux/amd64']);
    expect(tag.code).toBe(4);
    expect(tag.stderr).toContain(`${s.anonymous}/multi/docker:nope`);
    const repo = await cli(['which', `${s.anonymous}/does/not-exist:latest`, '--platform', 'linux/amd64']);
    expect(repo.code).toBe(4);
    expect(repo.stderr).toMatch(/does\/not-exist/);
  });
});

describe('start-up cost', () => {
  it('which --platform loads no npm package from node_modules (dockerode, systeminformation, node-cron, pino stay unloaded)', async () => {
    const { spawnSync } = await import('node:child_process');
    const { resolve: res } = await import('node:path');
    const r = spawnSync(process.execPath, ['--import', res('bench/loaded-modules.mjs'), res('bin/resolver.cjs'), 'which', ref('multi/docker'), '--platform', 'linux/arm64'], {
      env: { PATH: process.env['PATH'], RESOLVER_REPORT_MODULES: '1', DOCKER_HOST: 'unix:///nonexistent/docker.sock' }, encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('loaded-packages: (none)');
  });

  it('which --platform does not load the built-ins it never uses (HTTP/2, child processes, perf_hooks)', async () => {
    const { spawnSync } = await import('node:child_process');
    const { resolve: res } = await import('node:path');
    const r = spawnSync(process.execPath, ['-r', res('test/harness/builtins-report.cjs'), res('bin/resolver.cjs'), 'which', ref('multi/docker'), '--platform', 'linux/arm64'], {
      env: { PATH: process.env['PATH'], DOCKER_HOST: 'unix:///nonexistent/docker.sock' }, encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const loaded = (/loaded-builtins: (.*)/.exec(r.stderr)?.[1] ?? '').split(',');
    expect(loaded).toContain('net');
    for (const name of ['http2', 'child_process', 'perf_hooks']) expect(loaded).not.toContain(name);
  });
});

describe('interrupting', () => {
  it('Ctrl-C while a registry does not answer exits 130 at once (and SIGTERM 143)', async () => {
    const { spawn } = await import('node:child_process');
    const { createServer } = await import('node:net');
    const sockets: import('node:net').Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const addr = silent.address();
    const host = `127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`;
    try {
      for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
        const child = spawn(process.execPath, [cliPath, 'which', `${host}/app:latest`, '--platform', 'linux/amd64'], { env: { PATH: process.env['PATH'], HOME: process.env['HOME'] }, stdio: ['ignore', 'pipe', 'pipe'] });
        let err = '';
        child.stderr.on('data', (c: Buffer) => (err += c.toString()));
        for (let i = 0; i < 100 && sockets.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
        const sent = Date.now();
        child.kill(signal);
        const exit = await new Promise<number | null>((resolve) => child.on('close', resolve));
        expect(exit, err).toBe(code);
        expect(Date.now() - sent).toBeLessThan(2000);
        sockets.splice(0).forEach((sock) => sock.destroy());
      }
    } finally {
      silent.close();
    }
  });
});

describe('resolver which with authentication', () => {
  it('Basic: anonymous is refused with exit 5, config.json auths works, a wrong password exits 5', async () => {
    const anon = await cli(['which', ref('private/app', s.basic), '--platform', 'linux/arm64']);
    expect(anon.code).toBe(5);
    expect(anon.stderr).toMatch(/requires a username and password/);
    const good = await writeConfig('basic-good', { auths: { [s.basic]: { auth: basicAuth(basicUser.username, basicUser.password) } } });
    const ok = await cli(['which', ref('private/app', s.basic), '--platform', 'linux/arm64'], { DOCKER_CONFIG: good });
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toBe(`${child('basic:private/app', 'linux/arm64/v8')}\n`);
    const bad = await writeConfig('basic-bad', { auths: { [`https://${s.basic}/v1/`]: { auth: basicAuth(basicUser.username, 'wrong') } } });
    const refused = await cli(['which', ref('private/app', s.basic), '--platform', 'linux/arm64'], { DOCKER_CONFIG: bad });
    expect(refused.code).toBe(5);
    expect(refused.stderr).toMatch(/rejected the username and password/);
  });

  it('Token: anonymous gets Docker’s "pull access denied", credentials from auths, identity token, helper and DOCKER_AUTH_CONFIG work', async () => {
    const anon = await cli(['which', ref('private/app', s.token), '--platform', 'linux/amd64']);
    expect(anon.code).toBe(5);
    expect(anon.stderr).toContain(`pull access denied for ${s.token}/private/app`);
    const want = `${child('token:private/app', 'linux/amd64')}\n`;

    const auths = await writeConfig('token-auths', { auths: { [s.token]: { auth: basicAuth(tokenUser.username, tokenUser.password) } } });
    expect((await cli(['which', ref('private/app', s.token), '--platform', 'linux/amd64'], { DOCKER_CONFIG: auths })).stdout).toBe(want);

    const identity = await writeConfig('token-identity', { auths: { [s.token]: { auth: basicAuth(tokenUser.username, ''), identitytoken: identityToken } } });
    expect((await cli(['which', ref('private/app', s.token), '--platform', 'linux/amd64'], { DOCKER_CONFIG: identity })).stdout).toBe(want);

    const bin = join(configDir, 'bin');
    await import('node:fs/promises').then((fs) => fs.mkdir(bin, { recursive: true }));
    const helper = join(bin, 'docker-credential-resolvertest');
    await writeFile(helper, `#!/bin/sh\nread url\nif [ "$url" = "${s.token}" ]; then printf '{"ServerURL":"%s","Username":"${tokenUser.username}","Secret":"${tokenUser.password}"}' "$url"; else echo "credentials not found in native keychain"; exit 1; fi\n`);
    await chmod(helper, 0o755);
    const viaHelper = await writeConfig('token-helper', { credHelpers: { [s.token]: 'resolvertest' } });
    const h = await cli(['which', ref('private/app', s.token), '--platform', 'linux/amd64'], { DOCKER_CONFIG: viaHelper, PATH: `${bin}:${process.env['PATH'] ?? ''}` });
    expect(h.stderr).toBe('');
    expect(h.stdout).toBe(want);

    const empty = await writeConfig('empty', {});
    const env = JSON.stringify({ auths: { [s.token]: { auth: basicAuth(tokenUser.username, tokenUser.password) } } });
    expect((await cli(['which', ref('private/app', s.token), '--platform', 'linux/amd64'], { DOCKER_CONFIG: empty, DOCKER_AUTH_CONFIG: env })).stdout).toBe(want);
  });

  it('a missing credential helper is a clear error', async () => {
    const cfg = await writeConfig('missing-helper', { credsStore: 'does-not-exist' });
    const r = await cli(['which', ref('private/app', s.token), '--platform', 'linux/amd64'], { DOCKER_CONFIG: cfg });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('docker-credential-does-not-exist');
  });
});

afterAll(() => {
  // The canary passwords must never appear in anything the CLI printed (plain, base64 or base64url).
  const all = transcript.join('\n');
  for (const secret of [basicUser.password, tokenUser.password, identityToken]) {
    for (const form of [secret, Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('base64url')]) {
      expect(all.includes(form), `secret leaked as ${form}`).toBe(false);
    }
  }
  expect(transcript.length).toBeGreaterThan(20);
});
