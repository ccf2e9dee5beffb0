/**
 * Starts the real services once for the integration tests: three `docker-registry` instances
 * (anonymous, htpasswd Basic, token auth with the harness token server), publishes the test images
 * into them, and starts the oracle dockerd (Debian 13's 26.1.5) when its binary is present.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { createHttpClient } from '../../src/http/http.js';
import { startDockerd, unmountUnder, type RunningDockerd } from '../sandbox/dockerd.js';
import { buildIndex, buildImage, platformObject } from '../sandbox/oci-builder.js';
import { Pusher } from '../sandbox/push.js';
import { freePort, startRegistry, type RunningRegistry } from '../sandbox/registry-server.js';
import { publishIndex, superGolangChildren } from '../sandbox/samples.js';
import { catalogue } from './catalogue.js';
import { startPodman, type RunningPodman } from '../sandbox/podman.js';
import { claim, cleanStaleRuns } from './stale.js';
import { startTokenServer, tokenIssuer, tokenService, tokenUser, type TokenServer } from '../sandbox/token-server.js';

export const basicUser = { username: 'bob', password: 'basic-secret-canary-4c21' };

/** One published child as tests see it. */
export interface ChildInfo {
  readonly platform: string;
  readonly manifest: string;
  readonly config: string;
}

/** What the tests receive through `inject('services')`. */
export interface HarnessInfo {
  readonly anonymous: string;
  readonly basic: string;
  readonly token: string;
  readonly tokenRealm: string;
  readonly images: Record<string, { index: string; children: ChildInfo[]; attestations: string[] }>;
  readonly oracle: string | undefined;
  /** Debian 12's dockerd (20.10), private, for pull and run tests. */
  readonly engine: string | undefined;
  /** The oracle dockerd (26.1.5) with the containerd image store (`containerd-snapshotter`), on its own managed containerd. */
  readonly containerdStore: string | undefined;
  /** Debian 12's Podman 4.3 (`podman system service`), private storage and config. */
  readonly podman: string | undefined;
  /** Storage folder of the anonymous registry (to corrupt a blob). */
  readonly anonymousStorage: string;
  readonly tmp: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    services: HarnessInfo;
  }
}

const oracleCandidates = [process.env['RESOLVER_ORACLE_DOCKERD'], resolve('.tmp/oracle/usr/sbin/dockerd')];

let registries: RunningRegistry[] = [];
let tokenServer: TokenServer | undefined;
let oracle: RunningDockerd | undefined;
let engine: RunningDockerd | undefined;
let containerdStore: RunningDockerd | undefined;
let podman: RunningPodman | undefined;
let tmp = '';

/** dockerd with `"features":{"containerd-snapshotter":true}`; the containerd store has no vfs: `native` is its equivalent. */
async function startContainerdStore(binary: string, dir: string): Promise<RunningDockerd> {
  await mkdir(dir, { recursive: true });
  const config = join(dir, 'daemon.json');
  await writeFile(config, JSON.stringify({ features: { 'containerd-snapshotter': true } }));
  return startDockerd({ binary, dir, extraArgs: ['--config-file', config, '--storage-driver', 'native'] });
}

export async function setup(project: TestProject): Promise<void> {
  for (const dir of await cleanStaleRuns(tmpdir())) process.stderr.write(`harness: cleaned up ${dir}, left by a run that died\n`);
  tmp = await mkdtemp(join(tmpdir(), 'resolver-it-'));
  await claim(tmp);
  const http = createHttpClient();
  try {
    const tokenPort = await freePort();
    tokenServer = await startTokenServer(tmp, tokenPort);
    const htpasswd = join(tmp, 'htpasswd');
    await writeFile(htpasswd, execFileSync('htpasswd', ['-Bbn', basicUser.username, basicUser.password]));
    const anonymous = await startRegistry({ dir: join(tmp, 'reg-anon'), auth: { kind: 'none' } });
    const basic = await startRegistry({ dir: join(tmp, 'reg-basic'), auth: { kind: 'htpasswd', file: htpasswd } });
    const token = await startRegistry({
      dir: join(tmp, 'reg-token'),
      auth: { kind: 'token', realm: tokenServer.realm, service: tokenService, issuer: tokenIssuer, rootCertBundle: tokenServer.certPath },
    });
    registries = [anonymous, basic, token];

    const images: HarnessInfo['images'] = {};
    const record = (key: string, index: string, children: { manifest: { digest: string }; config: { digest: string }; platform: { os: string; architecture: string; variant?: string; osVersion?: string } }[], attestations: string[]): void => {
      images[key] = {
        index,
        attestations,
        children: children.map((c) => ({
          platform: [c.platform.os, c.platform.architecture, c.platform.variant].filter((x) => x !== undefined && x !== '').join('/') + (c.platform.osVersion === undefined ? '' : `@${c.platform.osVersion}`),
          manifest: c.manifest.digest,
          config: c.config.digest,
        })),
      };
    };

    for (const entry of catalogue) {
      const pusher = new Pusher({ http, host: anonymous.host, repository: entry.repo });
      if (entry.nested !== undefined) {
        const inner = await publishIndex(pusher, { tag: 'inner', children: entry.nested.children, format: entry.format, label: `${entry.repo}-inner` });
        const outerChildren = [];
        const outerEntries = [{ manifest: inner.index, platform: platformObject(entry.nested.platform) }];
        for (const c of entry.children) {
          const image = buildImage({ platform: c.platform, files: [{ path: 'p', content: Buffer.from(entry.repo) }], format: entry.format, label: entry.repo });
          await pusher.image(image);
          outerChildren.push(image);
          outerEntries.push({ manifest: image.manifest, platform: platformObject(c.platform) });
        }
        const outer = buildIndex(outerEntries, entry.format);
        await pusher.manifest(outer, 'latest');
        record(entry.repo, outer.digest, [...inner.children, ...outerChildren], []);
        continue;
      }
      const published = await publishIndex(pusher, { tag: 'latest', children: entry.children, format: entry.format, attestations: entry.attestations ?? false, label: entry.repo });
      record(entry.repo, published.index.digest, [...published.children], [...published.attestations]);
    }
    const single = buildImage({ platform: { os: 'linux', architecture: 'arm64' }, files: [{ path: 's', content: Buffer.from('single') }], format: 'docker', label: 'single' });
    const singlePusher = new Pusher({ http, host: anonymous.host, repository: 'single' });
    await singlePusher.image(single);
    await singlePusher.manifest(single.manifest, 'latest');
    record('single', single.manifest.digest, [single], []);

    const golang = await superGolangChildren();
    const sg = await publishIndex(new Pusher({ http, host: anonymous.host, repository: 'super-golang' }), { tag: 'latest', children: golang, format: 'oci', attestations: true });
    record('super-golang', sg.index.digest, [...sg.children], [...sg.attestations]);

    const privateChildren = [{ platform: { os: 'linux', architecture: 'amd64' } }, { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }];
    const b = await publishIndex(new Pusher({ http, host: basic.host, repository: 'private/app', ...basicUser }), { tag: 'latest', children: privateChildren, format: 'oci', label: 'basic' });
    record('basic:private/app', b.index.digest, [...b.children], []);
    const t = await publishIndex(new Pusher({ http, host: token.host, repository: 'private/app', ...tokenUser }), { tag: 'latest', children: privateChildren, format: 'oci', label: 'token' });
    record('token:private/app', t.index.digest, [...t.children], []);

    const binary = oracleCandidates.find((p) => p !== undefined && existsSync(p));
    const root = process.getuid?.() === 0;
    const podmanBinary = ['/usr/bin/podman', '/usr/local/bin/podman'].find((p) => existsSync(p));
    // All engines start at once (each takes seconds); a failure stops the others before it is reported.
    const maybe = <T>(ok: boolean, start: () => Promise<T>): Promise<T | undefined> => (ok ? start() : Promise.resolve(undefined));
    const started = await Promise.allSettled([
      maybe(binary !== undefined && root, () => startDockerd({ binary: binary ?? '', dir: join(tmp, 'oracle') })),
      maybe(existsSync('/usr/sbin/dockerd') && root, () => startDockerd({ binary: '/usr/sbin/dockerd', dir: join(tmp, 'engine') })),
      maybe(binary !== undefined && root, () => startContainerdStore(binary ?? '', join(tmp, 'c8d'))),
      maybe(podmanBinary !== undefined && root, () => startPodman({ binary: podmanBinary ?? 'podman', dir: join(tmp, 'podman'), insecureRegistries: ['127.0.0.1', 'localhost'] })),
    ] as const);
    const value = <T>(r: PromiseSettledResult<T>): T | undefined => (r.status === 'fulfilled' ? r.value : undefined);
    oracle = value(started[0]);
    engine = value(started[1]);
    containerdStore = value(started[2]);
    podman = value(started[3]);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed !== undefined) {
      await Promise.all([oracle?.stop(), engine?.stop(), containerdStore?.stop(), podman?.stop()]);
      throw failed.reason;
    }
    project.provide('services', {
      anonymous: anonymous.host, basic: basic.host, token: token.host, tokenRealm: tokenServer.realm,
      images, oracle: oracle?.dockerHost, engine: engine?.dockerHost, containerdStore: containerdStore?.dockerHost, podman: podman?.dockerHost, anonymousStorage: join(anonymous.dir, 'storage'), tmp,
    });
  } finally {
    await http.close();
  }
}

export async function teardown(): Promise<void> {
  await Promise.all([oracle?.stop(), engine?.stop(), containerdStore?.stop(), podman?.stop()]);
  await Promise.all(registries.map((r) => r.stop()));
  await tokenServer?.stop();
  if (tmp !== '') {
    await unmountUnder(tmp);
    await rm(tmp, { recursive: true, force: true });
  }
}
