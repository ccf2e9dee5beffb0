/**
 * `manifest inspect -v` against the docker CLI 28's own `docker manifest inspect -v` (same loopback
 * registry, byte for byte), `manifest rm`, injective draft names (issue 13.8), and documents that cannot
 * be printed (not JSON, nested too deeply) giving clear errors instead of stack traces (issue 13.12).
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient } from '../../src/http/http.js';
import { closeLoopbackServers, startLoopbackServer } from '../fakes/loopback-server.js';
import { buildImage } from '../sandbox/oci-builder.js';
import { Pusher } from '../sandbox/push.js';
import { cli } from './cli.js';

const s = inject('services');
const http = createHttpClient();
const hasDocker = (() => {
  try {
    execFileSync('docker', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
let dockerConfig = '';
let fakeHost = '';
const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function docker(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('docker', [...args], { env: { PATH: process.env['PATH'], HOME: dockerConfig, DOCKER_CONFIG: dockerConfig }, timeout: 60_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  dockerConfig = await mkdtemp(join(s.tmp, 'cli-manifest-docker-'));
  // A loopback registry that serves one manifest that is not JSON, with a correct digest.
  const notJson = Buffer.from('this is not JSON');
  const fake = await startLoopbackServer((req, res) => {
    if (req.url === '/v2/') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    if (req.url?.startsWith('/v2/broken/manifests/')) {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': sha(notJson), 'content-length': String(notJson.byteLength) });
      res.end(req.method === 'HEAD' ? undefined : notJson);
      return;
    }
    res.writeHead(404).end();
  });
  fakeHost = fake.host;
});

afterAll(async () => {
  await http.close();
  await closeLoopbackServers();
});

describe.runIf(hasDocker || process.env['CI'] === 'true')('manifest inspect -v prints what docker manifest inspect -v prints', () => {
  it.each(['multi/docker:latest', 'multi/oci:latest', 'noplatform:latest', 'features:latest', 'single:latest', 'super-golang:latest'])('%s: byte for byte', async (name) => {
    const ref = `${s.anonymous}/${name}`;
    const [d, r] = await Promise.all([docker(['manifest', 'inspect', '--insecure', '-v', ref]), cli(['manifest', 'inspect', '-v', ref])]);
    expect(d.code, d.stderr).toBe(0);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(d.stdout);
  });

  it.each(['multi/docker:latest', 'multi/oci:latest', 'single:latest', 'super-golang:latest'])('%s without -v: byte for byte', async (name) => {
    const ref = `${s.anonymous}/${name}`;
    const [d, r] = await Promise.all([docker(['manifest', 'inspect', '--insecure', ref]), cli(['manifest', 'inspect', ref])]);
    expect(d.code, d.stderr).toBe(0);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(d.stdout);
  });
});

describe('manifest inspect of documents that cannot be printed', () => {
  it('--table keeps the readable table of the entries', async () => {
    const r = await cli(['manifest', 'inspect', '--table', `${s.anonymous}/multi/oci:latest`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/PLATFORM\s+DIGEST\s+SIZE\s+MEDIA TYPE/);
    expect(r.stdout).toContain('linux/arm/v7');
  });

  it('a manifest that is not JSON: exit 8, a clear error, no stack trace; --raw still prints the bytes', async () => {
    const r = await cli(['manifest', 'inspect', `${fakeHost}/broken:v1`]);
    expect(r.code).toBe(8);
    expect(r.stderr).toMatch(/^resolver: .*broken:v1.* is not (valid UTF-8 )?JSON/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    for (const flag of ['-v', '--table']) {
      const v = await cli(['manifest', 'inspect', flag, `${fakeHost}/broken:v1`]);
      expect(v.code).toBe(8);
      expect(v.stderr).not.toMatch(/\n\s+at /);
    }
    const raw = await cli(['manifest', 'inspect', '--raw', `${fakeHost}/broken:v1`]);
    expect(raw.stdout).toBe('this is not JSON');
  });

  it('a manifest nested 9,000 levels deep (the registry accepts up to 10,000): exit 8 naming the depth, no stack trace', async () => {
    const image = buildImage({ platform: { os: 'linux', architecture: 'arm64' }, files: [{ path: 'd', content: Buffer.from('deep') }], format: 'oci', label: 'deep' });
    const doc = JSON.parse(image.manifest.bytes.toString('utf8')) as Record<string, unknown>;
    const depth = 9000;
    const text = JSON.stringify({ ...doc, x: 0 }).replace('"x":0', `"x":${'['.repeat(depth)}${']'.repeat(depth)}`);
    const bytes = Buffer.from(text);
    const pusher = new Pusher({ http, host: s.anonymous, repository: 'deep' });
    await pusher.image(image);
    await pusher.manifest({ digest: sha(bytes), bytes, mediaType: image.manifest.mediaType }, 'v1');
    const r = await cli(['manifest', 'inspect', `${s.anonymous}/deep:v1`]);
    expect(r.code).toBe(8);
    expect(r.stderr).toContain('nests 9001 levels deep, more than the 1000 resolver prints');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('manifest drafts: rm, and names that do not collide', () => {
  it('REG/team/a/b:v1 and REG/team/a_b:v1 are separate drafts; pushing one pushes it where it says (issue 13.8)', async () => {
    const env = { RESOLVER_STATE_DIR: await mkdtemp(join(s.tmp, 'drafts-collide-')) };
    const ab = `${s.anonymous}/team/a/b:v1`;
    const aUnderB = `${s.anonymous}/team/a_b:v1`;
    const arm = s.images['multi/oci']?.children.find((c) => c.platform === 'linux/arm64');
    const amd = s.images['multi/oci']?.children.find((c) => c.platform === 'linux/amd64');
    expect((await cli(['manifest', 'create', ab, `${s.anonymous}/multi/oci@${arm?.manifest ?? ''}`], env)).code).toBe(0);
    expect((await cli(['manifest', 'create', aUnderB, `${s.anonymous}/multi/oci@${amd?.manifest ?? ''}`], env)).code).toBe(0);
    const pushed = await cli(['manifest', 'push', ab], env);
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.stderr).toContain(`pushed ${ab}`);
    expect((await cli(['which', '--platform', 'linux/arm64', ab])).stdout).toBe(`${arm?.manifest ?? ''}\n`);
    const other = await cli(['which', '--platform', 'linux/amd64', aUnderB]);
    expect(other.code).toBe(4);
  });

  it('create checks that every image exists (docker: "no such manifest"); annotate refuses an os/arch docker refuses, naming the valid forms', async () => {
    const env = { RESOLVER_STATE_DIR: await mkdtemp(join(s.tmp, 'drafts-check-')) };
    const list = `${s.anonymous}/check/list:v1`;
    const nope = await cli(['manifest', 'create', list, `${s.anonymous}/single:latest`, `${s.anonymous}/src/nope:latest`], env);
    expect(nope.code, nope.stderr).toBe(4);
    expect(nope.stdout).toBe('');
    expect(nope.stderr).toContain(`no such manifest: ${s.anonymous}/src/nope:latest`);
    expect((await cli(['manifest', 'annotate', list, `${s.anonymous}/single:latest`, '--variant', 'v8'], env)).stderr).toContain('no draft of');
    expect((await cli(['manifest', 'create', list, `${s.anonymous}/single:latest`], env)).code).toBe(0);
    const armv7 = await cli(['manifest', 'annotate', list, `${s.anonymous}/single:latest`, '--arch', 'armv7'], env);
    expect(armv7.code, armv7.stderr).toBe(2);
    expect(armv7.stderr).toMatch(/manifest entry for \S+\/single:latest has unsupported os\/arch combination: (linux)?\/armv7/);
    expect(armv7.stderr).toContain('--arch arm --variant v7');
    const linuxArmv7 = await cli(['manifest', 'annotate', list, `${s.anonymous}/single:latest`, '--os', 'linux', '--arch', 'armv7'], env);
    expect(linuxArmv7.code).toBe(2);
    expect(linuxArmv7.stderr).toContain('unsupported os/arch combination: linux/armv7');
    const ok = await cli(['manifest', 'annotate', list, `${s.anonymous}/single:latest`, '--os', 'linux', '--arch', 'arm64', '--variant', 'v8'], env);
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('annotate --variant alone keeps the image’s os/arch and reaches the pushed index, as docker applies it', async () => {
    const env = { RESOLVER_STATE_DIR: await mkdtemp(join(s.tmp, 'drafts-variant-')) };
    const list = `${s.anonymous}/check/variant:v1`;
    expect((await cli(['manifest', 'create', list, `${s.anonymous}/single:latest`], env)).code).toBe(0);
    const annotated = await cli(['manifest', 'annotate', list, `${s.anonymous}/single:latest`, '--variant', 'v8'], env);
    expect(annotated.code, annotated.stderr).toBe(0);
    const pushed = await cli(['manifest', 'push', list], env);
    expect(pushed.code, pushed.stderr).toBe(0);
    const shown = await cli(['manifest', 'inspect', list]);
    expect(shown.code, shown.stderr).toBe(0);
    const index = JSON.parse(shown.stdout) as { manifests: { platform: unknown }[] };
    expect(index.manifests.map((m) => m.platform)).toEqual([{ architecture: 'arm64', os: 'linux', variant: 'v8' }]);
  });

  it('rm deletes drafts silently, like docker manifest rm; a missing one is "No such manifest", the others are still removed', async () => {
    const env = { RESOLVER_STATE_DIR: await mkdtemp(join(s.tmp, 'drafts-rm-')) };
    const one = `${s.anonymous}/rm/one:v1`;
    const two = `${s.anonymous}/rm/two:v1`;
    await cli(['manifest', 'create', one, `${s.anonymous}/single:latest`], env);
    await cli(['manifest', 'create', two, `${s.anonymous}/single:latest`], env);
    const ok = await cli(['manifest', 'rm', one], env);
    expect(ok).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const mixed = await cli(['manifest', 'rm', 'nope:v1', two, 'alsonope'], env);
    expect(mixed.code).toBe(4);
    expect(mixed.stderr).toBe('resolver: No such manifest: docker.io/library/nope:v1\n  No such manifest: docker.io/library/alsonope:latest\n');
    expect(await readdir(join(env.RESOLVER_STATE_DIR, 'manifests'))).toEqual([]);
    const push = await cli(['manifest', 'push', two], env);
    expect(push.stderr).toMatch(/no draft of/);
  });
});
