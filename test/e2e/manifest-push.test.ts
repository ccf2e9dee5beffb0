/**
 * The seed article's publishing workflow with `resolver manifest push --from-spec`: two per-arch images
 * in other repositories become `super-golang:latest`, through cross-repository mounts, on the anonymous and
 * the token-auth registry; `which` then picks each child and the real dockerd pulls the same one.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient } from '../../src/http/http.js';
import { buildImage, type BuiltImage } from '../../src/sandbox/oci-builder.js';
import { Pusher } from '../../src/sandbox/push.js';
import { tokenUser } from '../../src/sandbox/token-server.js';
import { cli } from './cli.js';
import { engineApi } from './engine-api.js';

const s = inject('services');
const http = createHttpClient();
afterAll(() => http.close());

async function perArch(host: string, creds: { username?: string; password?: string }): Promise<{ amd: BuiltImage; arm: BuiltImage }> {
  const make = async (repo: string, arch: string, variant?: string): Promise<BuiltImage> => {
    const img = buildImage({ platform: { os: 'linux', architecture: arch, ...(variant === undefined ? {} : { variant }) }, files: [{ path: 'go', content: Buffer.from(`${repo} ${host}`) }], format: 'docker', label: repo });
    const p = new Pusher({ http, host, repository: repo, ...creds });
    await p.image(img);
    await p.manifest(img.manifest, 'latest');
    return img;
  };
  return { amd: await make('amd64/golang', 'amd64'), arm: await make('arm64v8/golang', 'arm64', 'v8') };
}

async function specFile(name: string, body: string): Promise<string> {
  const dir = join(s.tmp, 'specs');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, name), body);
  return join(dir, name);
}

describe('resolver manifest push --from-spec', () => {
  it.each([['anonymous', () => s.anonymous, {}], ['token auth', () => s.token, tokenUser]] as const)('publishes the article’s super-golang (%s); which picks each child', async (_name, hostOf, creds) => {
    const host = hostOf();
    const { amd, arm } = await perArch(host, creds);
    const file = await specFile(`spec-${host.replace(/\W/g, '')}.yml`, `image: ${host}/article/super-golang:latest\ntags: ["1.0"]\nmanifests:\n  - image: ${host}/amd64/golang:latest\n  - image: ${host}/arm64v8/golang:latest\n    platform:\n      architecture: arm64\n      os: linux\n      variant: v8\n`);
    const env: Record<string, string> = {};
    if ('username' in creds) {
      const cfg = join(s.tmp, 'push-cfg');
      await mkdir(cfg, { recursive: true });
      await writeFile(join(cfg, 'config.json'), JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') } } }));
      env['DOCKER_CONFIG'] = cfg;
    }
    const pushed = await cli(['manifest', 'push', '--from-spec', file], env);
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.stderr).toMatch(/4 blobs mounted, 0 copied/);
    const digest = pushed.stdout.trim();
    const raw = await cli(['manifest', 'inspect', '-v', `${host}/article/super-golang:1.0`], env);
    expect(raw.stdout).toContain(`digest     ${digest}`);
    expect((await cli(['which', `${host}/article/super-golang:latest`, '--platform', 'linux/arm64'], env)).stdout).toBe(`${arm.manifest.digest}\n`);
    expect((await cli(['which', `${host}/article/super-golang:latest`, '--platform', 'linux/amd64'], env)).stdout).toBe(`${amd.manifest.digest}\n`);
    if (s.engine !== undefined && !('username' in creds)) {
      const api = engineApi(s.engine);
      try {
        await api.post(`/images/create?fromImage=${encodeURIComponent(`${host}/article/super-golang`)}&tag=latest&platform=linux/arm64`);
        expect((await api.get(`/images/${host}/article/super-golang:latest/json`)).json.Id).toBe(arm.config.digest);
      } finally {
        await api.close();
      }
    }
  });

  it.each([
    ['a missing image', (h: string) => `image: ${h}/x:latest\nmanifests:\n  - image: ${h}/does/not-exist:latest\n`, 4, /not found/],
    ['two entries with the same platform', (h: string) => `image: ${h}/x:latest\nmanifests:\n  - image: ${h}/amd64/golang:latest\n  - image: ${h}/amd64/golang:latest\n`, 2, /are both linux\/amd64/],
    ['a platform that contradicts the config', (h: string) => `image: ${h}/x:latest\nmanifests:\n  - image: ${h}/amd64/golang:latest\n    platform: {architecture: arm64, os: linux}\n`, 2, /the spec says linux\/arm64 but the image's config says linux\/amd64/],
    ['a child that is an index', (h: string) => `image: ${h}/x:latest\nmanifests:\n  - image: ${h}/multi/oci:latest\n`, 2, /is itself a multi-platform index/],
    ['a bad spec', () => `image: x\nmanifest: []\n`, 2, /invalid spec/],
  ])('refuses %s with a clear error', async (_name, body, code, message) => {
    await perArch(s.anonymous, {});
    const r = await cli(['manifest', 'push', '--from-spec', await specFile(`bad-${code}-${Math.random()}.yml`, body(s.anonymous))]);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
  });

  it('create / --amend / annotate / push LIST: the docker CLI workflow with a local draft', async () => {
    const { arm } = await perArch(s.anonymous, {});
    const env = { RESOLVER_STATE_DIR: join(s.tmp, 'drafts') };
    const list = `${s.anonymous}/article/drafted:latest`;
    expect((await cli(['manifest', 'create', list, `${s.anonymous}/amd64/golang:latest`], env)).code).toBe(0);
    const again = await cli(['manifest', 'create', list, `${s.anonymous}/arm64v8/golang:latest`], env);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists/);
    expect((await cli(['manifest', 'create', '--amend', list, `${s.anonymous}/arm64v8/golang:latest`], env)).stdout).toMatch(/with 2 images/);
    const unknown = await cli(['manifest', 'annotate', list, `${s.anonymous}/nope:latest`, '--os', 'linux', '--arch', 'arm64'], env);
    expect(unknown.stderr).toMatch(/is not in the draft/);
    expect((await cli(['manifest', 'annotate', list, `${s.anonymous}/arm64v8/golang:latest`, '--os', 'linux', '--arch', 'arm64', '--variant', 'v8'], env)).code).toBe(0);
    const pushed = await cli(['manifest', 'push', '--purge', list], env);
    expect(pushed.code, pushed.stderr).toBe(0);
    expect((await cli(['which', list, '--platform', 'linux/arm64/v8'])).stdout).toBe(`${arm.manifest.digest}\n`);
    const gone = await cli(['manifest', 'push', list], env);
    expect(gone.stderr).toMatch(/no draft of/);
  });

  it('a registry without push rights is a clear auth error', async () => {
    const file = await specFile('no-push.yml', `image: ${s.token}/article/super-golang:nopush\nmanifests:\n  - image: ${s.token}/amd64/golang:latest\n`);
    const r = await cli(['manifest', 'push', '--from-spec', file]);
    expect(r.code).toBe(5);
  });
});
