/**
 * `resolver pull` and `resolver run` against a real Docker Engine (Debian 12's dockerd 20.10, private,
 * vfs storage, classic image store: the image ID is the config digest) and the real registries.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient } from '../../src/http/http.js';
import { startDockerd } from '../sandbox/dockerd.js';
import { buildImage, buildIndex, platformObject } from '../sandbox/oci-builder.js';
import { Pusher } from '../sandbox/push.js';
import { startRegistry } from '../sandbox/registry-server.js';
import { publishIndex, superGolangChildren } from '../sandbox/samples.js';
import { tokenUser } from '../sandbox/token-server.js';
import { basicUser } from '../harness/global-setup.js';
import { startSlowProxy } from '../harness/slow-proxy.js';
import { cli, cliPath, transcript } from './cli.js';
import { engineApi } from './engine-api.js';

const s = inject('services');
const dockerHost = s.engine;
const api = dockerHost === undefined ? undefined : engineApi(dockerHost);
let stateDir = '';
let env: Record<string, string> = {};
const http = createHttpClient();

const child = (repo: string, platform: string): { manifest: string; config: string } => {
  const c = s.images[repo]?.children.find((x) => x.platform === platform);
  if (c === undefined) throw new Error(`no ${platform} in ${repo}`);
  return c;
};
const inspect = async (name: string): Promise<any> => (await api?.get(`/images/${name}/json`))?.json;
const containers = async (): Promise<any[]> => (await api?.get('/containers/json?all=1'))?.json ?? [];
const basicAuth = (u: string, p: string): string => Buffer.from(`${u}:${p}`).toString('base64');

beforeAll(async () => {
  stateDir = await mkdtemp(join(s.tmp, 'state-'));
  env = { DOCKER_HOST: dockerHost ?? '', RESOLVER_STATE_DIR: stateDir };
});
afterAll(async () => {
  await api?.close();
  await http.close();
});

describe.runIf(dockerHost !== undefined || process.env['CI'] === 'true')('resolver pull and run against dockerd', () => {
  it('the private engine is running', () => {
    expect(dockerHost, 'CI must be able to start Debian 12 dockerd').toBeDefined();
  });

  it.each([
    ['linux/arm64/v8', 'linux/arm64/v8'],
    ['linux/arm/v6', 'linux/arm/v6'],
    ['', 'linux/amd64'],
  ])('pulls the child `which` names (--platform %j): config digest = image ID, tag points to the child', async (platform, expected) => {
    const ref = `${s.anonymous}/super-golang:latest`;
    const args = platform === '' ? [] : ['--platform', platform];
    const which = await cli(['which', ref, ...args], env);
    const want = child('super-golang', expected);
    expect(which.stdout.trim()).toBe(want.manifest);
    const pull = await cli(['pull', ref, ...args], env);
    expect(pull.code, pull.stderr).toBe(0);
    expect(pull.stdout).toBe(`${want.manifest}\n`);
    const image = await inspect(`${s.anonymous}/super-golang:latest`);
    expect(image.Id).toBe(want.config);
    expect(image.RepoDigests).toContain(`${s.anonymous}/super-golang@${want.manifest}`);
  });

  it('a second pull transfers nothing; the state file records the child', async () => {
    const ref = `${s.anonymous}/super-golang:latest`;
    await cli(['pull', ref], env);
    const again = await cli(['pull', ref], env);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/already present, nothing pulled/);
    expect(again.stderr).not.toMatch(/Downloading|Pull complete/);
    const state = JSON.parse(await readFile(join(stateDir, 'state.json'), 'utf8'));
    const record = Object.values(state.images as Record<string, any>).find((r) => r.reference === ref && r.platform.startsWith('linux/amd64'));
    expect(record.childDigest).toBe(child('super-golang', 'linux/amd64').manifest);
    expect(record.indexDigest).toBe(s.images['super-golang']?.index);
    expect(record.imageId).toBe(child('super-golang', 'linux/amd64').config);
  });

  it('without a terminal, prints one plain line per layer state change; --quiet prints only the digest', async () => {
    const ref = `${s.anonymous}/multi/docker:latest`;
    const r = await cli(['pull', ref, '--platform', 'linux/s390x'], env);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^[0-9a-f]{12}: Pulling fs layer$/m);
    expect(r.stderr).toMatch(/^[0-9a-f]{12}: Pull complete$/m);
    expect(r.stderr).not.toContain('\x1b[');
    const q = await cli(['pull', ref, '--platform', 'linux/ppc64le', '--quiet'], env);
    expect(q.stderr).toBe('');
    expect(q.stdout).toBe(`${child('multi/docker', 'linux/ppc64le').manifest}\n`);
  });

  it.each([
    [['sh', '-c', 'echo "out $FOO"; echo err >&2; exit 3'], 3, 'out bar\n', 'err\n'],
    [['true'], 0, '', ''],
    // busybox sh may or may not print its "Killed" job notice before exiting: either is fine.
    [['sh', '-c', 'sleep 30 & kill -9 $!; wait $!'], 137, '', /^(Killed\n)?$/],
  ] as [string[], number, string, string | RegExp][])('run %j: output, environment, exit code %i; --rm leaves no container', async (command, code, stdout, stderr) => {
    const before = (await containers()).length;
    const r = await cli(['run', '--rm', '-q', '--network', 'none', '-e', 'FOO=bar', `${s.anonymous}/super-golang:latest`, ...command], env);
    expect(r.code, r.stderr).toBe(code);
    expect(r.stdout).toBe(stdout);
    if (stderr instanceof RegExp) expect(r.stderr).toMatch(stderr);
    else expect(r.stderr).toBe(stderr);
    expect((await containers()).length).toBe(before);
  });

  it('run with the image’s own command prints its platform; -d prints the container ID', async () => {
    const r = await cli(['run', '--rm', '-q', '--network', 'none', `${s.anonymous}/super-golang:latest`], env);
    expect(r.stdout).toBe('super-golang: the linux/amd64 child, running on x86_64\n');
    const d = await cli(['run', '-d', '-q', '--network', 'none', '--name', 'resolver-detached', `${s.anonymous}/super-golang:latest`, 'sleep', '30'], env);
    expect(d.code).toBe(0);
    expect(d.stdout).toMatch(/^[0-9a-f]{64}\n$/);
    const c = await api?.get(`/containers/${d.stdout.trim()}/json`);
    expect(c?.json.State.Running).toBe(true);
    expect(c?.json.Config.Image).toBe(`${s.anonymous}/super-golang@${child('super-golang', 'linux/amd64').manifest}`);
    await api?.del(`/containers/${d.stdout.trim()}?force=1`);
  });

  it('-i passes stdin to the container; -t gives it a terminal', async () => {
    const input = spawn(process.execPath, [cliPath, 'run', '--rm', '-q', '-i', '--network', 'none', `${s.anonymous}/super-golang:latest`, 'sh', '-c', 'read line; echo "got $line"'], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    input.stdout.on('data', (c: Buffer) => (out += c.toString()));
    input.stdin.end('hello\n');
    expect(await new Promise((r) => input.on('close', r))).toBe(0);
    expect(out).toBe('got hello\n');
    const tty = await cli(['run', '--rm', '-q', '-t', '--network', 'none', `${s.anonymous}/super-golang:latest`, 'sh', '-c', 'test -t 1 && echo terminal'], env);
    expect(tty.code).toBe(0);
    expect(tty.stdout).toBe('terminal\r\n');
  });

  it('forwards SIGTERM to the container and exits with the container’s code', async () => {
    const child = spawn(process.execPath, [cliPath, 'run', '--rm', '-q', '--network', 'none', `${s.anonymous}/super-golang:latest`, 'sh', '-c', 'trap "echo got TERM; exit 42" TERM; echo ready; while true; do sleep 0.1; done'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    await new Promise<void>((resolve) => child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('ready')) resolve();
    }));
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(42);
    expect(out).toBe('ready\ngot TERM\n');
  });

  it('refuses a missing platform before pulling anything (exit 125, as every failure of run itself)', async () => {
    const before = await inspect(`${s.anonymous}/nomatch:latest`);
    const r = await cli(['run', '--rm', '--platform', 'linux/arm64', `${s.anonymous}/nomatch:latest`], env);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('no matching manifest for linux/arm64 in the manifest list entries');
    expect(r.stderr).toContain('available platforms: linux/s390x, linux/mips64le');
    expect(await inspect(`${s.anonymous}/nomatch:latest`)).toEqual(before);
  });

  it('pulls through Basic and token auth with X-Registry-Auth; wrong credentials fail clearly and tag nothing', async () => {
    const cfg = join(s.tmp, 'pull-auth');
    await mkdir(cfg, { recursive: true });
    await writeFile(join(cfg, 'config.json'), JSON.stringify({ auths: { [s.basic]: { auth: basicAuth(basicUser.username, basicUser.password) }, [s.token]: { auth: basicAuth(tokenUser.username, tokenUser.password) } } }));
    for (const [host, key] of [[s.basic, 'basic:private/app'], [s.token, 'token:private/app']] as const) {
      const r = await cli(['pull', `${host}/private/app:latest`], { ...env, DOCKER_CONFIG: cfg });
      expect(r.code, r.stderr).toBe(0);
      expect((await inspect(`${host}/private/app:latest`)).Id).toBe(child(key, 'linux/amd64').config);
    }
    const bad = join(s.tmp, 'pull-auth-bad');
    await mkdir(bad, { recursive: true });
    await writeFile(join(bad, 'config.json'), JSON.stringify({ auths: { [s.basic]: { auth: basicAuth(basicUser.username, 'wrong') } } }));
    await api?.del(`/images/${s.basic}/private/app:latest`);
    const r = await cli(['pull', `${s.basic}/private/app:latest`], { ...env, DOCKER_CONFIG: bad });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/rejected the username and password/);
    expect(await inspect(`${s.basic}/private/app:latest`)).toBeUndefined();
  });

  it('a layer served with a wrong digest fails the pull with the engine’s message; the previous tag stays', async () => {
    const pusher = new Pusher({ http, host: s.anonymous, repository: 'corrupt' });
    const v1 = await publishIndex(pusher, { tag: 'latest', children: [{ platform: { os: 'linux', architecture: 'amd64' } }], format: 'oci', label: 'corrupt-v1' });
    expect((await cli(['pull', `${s.anonymous}/corrupt:latest`], env)).code).toBe(0);
    const v2image = buildImage({ platform: { os: 'linux', architecture: 'amd64' }, files: [{ path: 'v2', content: Buffer.from('second version '.repeat(100)) }], format: 'oci', label: 'corrupt-v2' });
    await pusher.image(v2image);
    await pusher.manifest(buildIndex([{ manifest: v2image.manifest, platform: platformObject(v2image.platform) }], 'oci'), 'latest');
    const layer = v2image.layers[0]?.digest.slice('sha256:'.length) ?? '';
    const file = join(s.anonymousStorage, 'docker/registry/v2/blobs/sha256', layer.slice(0, 2), layer, 'data');
    const bytes = await readFile(file);
    bytes[bytes.length - 5] = (bytes[bytes.length - 5] ?? 0) ^ 0xff;
    await writeFile(file, bytes);
    const r = await cli(['pull', `${s.anonymous}/corrupt:latest`], env);
    expect(r.code).toBe(10);
    expect(r.stderr).toMatch(/verification failed|digest|checksum|unexpected EOF|gzip/i);
    expect((await inspect(`${s.anonymous}/corrupt:latest`)).Id).toBe(v1.children[0]?.config.digest);
  });

  it('SIGINT mid-pull: exit 130, no tag; SIGTERM: 143', async () => {
    const proxy = await startSlowProxy(s.anonymous, 200_000);
    try {
      const pusher = new Pusher({ http, host: s.anonymous, repository: 'big' });
      const random = randomBytes(3_000_000);
      await publishIndex(pusher, { tag: 'latest', children: [{ platform: { os: 'linux', architecture: 'amd64' }, files: [{ path: 'blob', content: random }] }], format: 'docker', label: 'big' });
      for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
        const child = spawn(process.execPath, [cliPath, 'pull', `${proxy.host}/big:latest`], { env: { ...process.env, ...env, NODE_EXTRA_CA_CERTS: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
        let err = '';
        const downloading = new Promise<void>((resolve) => child.stderr.on('data', (c: Buffer) => {
          err += c.toString();
          if (err.includes('Downloading')) resolve();
        }));
        await downloading;
        child.kill(signal);
        const exit = await new Promise<number | null>((resolve) => child.on('close', resolve));
        transcript.push(err);
        expect(exit, err).toBe(code);
        expect(await inspect(`${proxy.host}/big:latest`)).toBeUndefined();
      }
    } finally {
      await proxy.stop();
    }
  });

  it('offline: with the registry stopped, run starts the known child and warns; with nothing known it fails clearly', async () => {
    const dir = await mkdtemp(join(s.tmp, 'offline-'));
    const reg = await startRegistry({ dir, auth: { kind: 'none' } });
    const ref = `${reg.host}/super-golang:latest`;
    try {
      await publishIndex(new Pusher({ http, host: reg.host, repository: 'super-golang' }), { tag: 'latest', children: await superGolangChildren(), format: 'oci' });
      const online = await cli(['run', '--rm', '-q', '--network', 'none', ref, 'echo', 'online'], env);
      expect(online.stdout).toBe('online\n');
    } finally {
      await reg.stop();
    }
    const offline = await cli(['run', '--rm', '-q', '--network', 'none', ref, 'echo', 'offline'], env);
    expect(offline.code, offline.stderr).toBe(0);
    expect(offline.stdout).toBe('offline\n');
    expect(offline.stderr).toMatch(/warning: .*refused/);
    expect(offline.stderr).toMatch(/may be stale/);
    const unknown = await cli(['run', '--rm', '-q', '--network', 'none', `${reg.host}/never-pulled:latest`], env);
    expect(unknown.code).toBe(125);
    expect(unknown.stderr).toMatch(/no image was pulled before/);
  });

  it('the engine killed and restarted mid-pull: the pull fails cleanly, the old tag is intact, the next pull succeeds', async () => {
    const dir = await mkdtemp(join(s.tmp, 'killed-engine-'));
    let engine = await startDockerd({ binary: '/usr/sbin/dockerd', dir });
    const proxy = await startSlowProxy(s.anonymous, 200_000);
    const e2 = { ...env, DOCKER_HOST: engine.dockerHost, RESOLVER_STATE_DIR: join(dir, 'state') };
    const local = engineApi(engine.dockerHost);
    try {
      const pusher = new Pusher({ http, host: s.anonymous, repository: 'restart' });
      const v1 = await publishIndex(pusher, { tag: 'latest', children: [{ platform: { os: 'linux', architecture: 'amd64' } }], format: 'docker', label: 'restart-v1' });
      expect((await cli(['pull', `${proxy.host}/restart:latest`], e2)).code).toBe(0);
      const random = randomBytes(3_000_000);
      const v2 = await publishIndex(pusher, { tag: 'latest', children: [{ platform: { os: 'linux', architecture: 'amd64' }, files: [{ path: 'blob', content: random }] }], format: 'docker', label: 'restart-v2' });
      const pull = spawn(process.execPath, [cliPath, 'pull', `${proxy.host}/restart:latest`], { env: { ...process.env, ...e2 }, stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      await new Promise<void>((resolve) => pull.stderr.on('data', (c: Buffer) => {
        err += c.toString();
        if (err.includes('Downloading')) resolve();
      }));
      engine.process.kill('SIGKILL');
      const exit = await new Promise<number | null>((resolve) => pull.on('close', resolve));
      transcript.push(err);
      expect([9, 10], err).toContain(exit);
      expect(err).toMatch(/Docker Engine|final status|engine/);
      engine = await startDockerd({ binary: '/usr/sbin/dockerd', dir });
      expect((await local.get(`/images/${proxy.host}/restart:latest/json`)).json.Id).toBe(v1.children[0]?.config.digest);
      const retry = await cli(['pull', `${proxy.host}/restart:latest`], e2);
      expect(retry.code, retry.stderr).toBe(0);
      expect((await local.get(`/images/${proxy.host}/restart:latest/json`)).json.Id).toBe(v2.children[0]?.config.digest);
    } finally {
      await proxy.stop();
      await local.close();
      await engine.stop();
    }
  });

  it('a canary password appears in no output, log or state file, also with DEBUG=modem', async () => {
    const cfg = join(s.tmp, 'canary');
    await mkdir(cfg, { recursive: true });
    await writeFile(join(cfg, 'config.json'), JSON.stringify({ auths: { [s.basic]: { auth: basicAuth(basicUser.username, basicUser.password) } } }));
    await api?.del(`/images/${s.basic}/private/app:latest`);
    const r = await cli(['pull', `${s.basic}/private/app:latest`], { ...env, DOCKER_CONFIG: cfg, DEBUG: 'modem,other' });
    expect(r.code, r.stderr).toBe(0);
    const files = await readdir(stateDir);
    const stateText = (await Promise.all(files.map((f) => readFile(join(stateDir, f), 'utf8').catch(() => '')))).join('\n');
    const all = `${transcript.join('\n')}\n${stateText}`;
    for (const secret of [basicUser.password, tokenUser.password]) {
      for (const form of [secret, Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('base64url')]) expect(all.includes(form)).toBe(false);
    }
    const authHeader = Buffer.from(JSON.stringify({ username: basicUser.username, password: basicUser.password })).toString('base64').slice(0, 30);
    expect(all.includes(authHeader)).toBe(false);
  });
});
