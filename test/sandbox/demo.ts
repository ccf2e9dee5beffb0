/**
 * The Quick start demo: starts a private `docker-registry` on loopback (storage kept under
 * `.tmp/demo`, so re-runs are idempotent) and walks the seed article's workflow. Publishing: the
 * per-architecture images are pushed as `docker buildx build --push` writes them (each an image plus its
 * provenance attestation: a runnable linux/amd64 child built from busybox-static, arm64/v8, arm/v7, arm/v6),
 * then `resolver manifest push --from-spec manifest.yml` combines them into `super-golang:latest`.
 * Consuming: the real CLI runs `resolver platform`, `resolver which --explain` for this host,
 * `resolver run` of the tag (through the engine at DOCKER_HOST or the default socket, else a private
 * dockerd it starts, as root, under `.tmp/demo/engine`), and `resolver which --platform` for each child.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { request } from 'node:http';
import { createHttpClient } from '../../src/http/http.js';
import { startDockerd, type RunningDockerd } from './dockerd.js';
import { Pusher } from './push.js';
import { freePort, startRegistry } from './registry-server.js';
import { publishIndex, superGolangChildren } from './samples.js';

const root = resolve(process.env['RESOLVER_DEMO_DIR'] ?? '.tmp/demo');
const cli = resolve('bin/resolver.cjs');

function say(text: string): void {
  process.stdout.write(`\n\x1b[1m${text}\x1b[0m\n`);
}

function run(args: string[], env: NodeJS.ProcessEnv = process.env): number {
  process.stdout.write(`$ resolver ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit', env });
  return r.status ?? 1;
}

function answers(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: '/_ping', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
if (busybox === undefined) {
  process.stderr.write('demo: busybox-static is needed for the runnable amd64 child (apt-get install busybox-static)\n');
  process.exit(1);
}
const port = Number.parseInt(process.env['RESOLVER_DEMO_PORT'] ?? '', 10) || (await freePort());
say(`Starting a private registry on 127.0.0.1:${port} (storage: ${root}/registry)`);
const registry = await startRegistry({ dir: `${root}/registry`, auth: { kind: 'none' }, port });
const http = createHttpClient();
let status: number;
let engine: RunningDockerd | undefined;
const env = { ...process.env };
try {
  const configured = env['DOCKER_HOST'];
  if (configured === undefined && !(await answers('/var/run/docker.sock'))) {
    if (process.getuid?.() !== 0 || !existsSync('/usr/sbin/dockerd')) {
      throw new Error('no Docker Engine reachable: set DOCKER_HOST, or run the demo as root with docker.io installed');
    }
    say(`No Docker Engine reachable: starting a private one (storage: ${root}/engine)`);
    engine = await startDockerd({ binary: '/usr/sbin/dockerd', dir: `${root}/engine` });
    env['DOCKER_HOST'] = engine.dockerHost;
  }
  env['RESOLVER_STATE_DIR'] ??= `${root}/state`;
  say('Step 1: push one image per architecture, as docker buildx build --push writes them (image + provenance attestation)');
  const perArch: Record<string, string> = { amd64: 'amd64/golang', arm64: 'arm64v8/golang', 'arm/v7': 'arm32v7/golang', 'arm/v6': 'arm32v6/golang' };
  for (const child of await superGolangChildren(busybox)) {
    const key = [child.platform.architecture, child.platform.variant].filter((x) => x !== undefined && x !== '' && x !== 'v8').join('/');
    const repository = perArch[key] ?? key;
    const pushed = await publishIndex(new Pusher({ http, host: registry.host, repository }), { tag: 'latest', children: [child], format: 'oci', attestations: true, label: 'super-golang' });
    process.stdout.write(`pushed ${registry.host}/${repository}:latest = ${pushed.index.digest}\n`);
  }
  say('Step 2: the manifest list, in manifest-tool\'s spec format (platforms left out are read from each image\'s config)');
  const image = `${registry.host}/super-golang:latest`;
  const spec = [
    `image: ${image}`,
    'manifests:',
    `  - image: ${registry.host}/amd64/golang:latest`,
    `  - image: ${registry.host}/arm64v8/golang:latest`,
    '    platform: {os: linux, architecture: arm64, variant: v8}',
    `  - image: ${registry.host}/arm32v7/golang:latest`,
    `  - image: ${registry.host}/arm32v6/golang:latest`,
    '',
  ].join('\n');
  await mkdir(root, { recursive: true });
  const specFile = `${root}/manifest.yml`;
  await writeFile(specFile, spec);
  process.stdout.write(`${specFile}:\n${spec}`);
  say('Step 3: push it as one multi-arch tag');
  status = run(['manifest', 'push', '--from-spec', specFile], env);
  if (status !== 0) throw new Error(`resolver manifest push failed with exit code ${status}`);
  run(['manifest', 'inspect', '--table', image], env);
  say('This host, as Docker sees it');
  run(['platform'], env);
  say('Which child Docker would pull here, and why');
  status = run(['which', image, '--explain'], env);
  say('Pull that child by digest, tag it, and run it');
  status ||= run(['run', '--rm', '--network', 'none', image], env);
  say('The same tag on other hosts');
  for (const p of ['linux/arm64/v8', 'linux/arm/v7', 'linux/arm/v6', 'linux/arm/v5']) {
    process.stdout.write(`${p.padEnd(16)} `);
    const r = spawnSync(process.execPath, [cli, 'which', image, '--platform', p], { stdio: ['inherit', 'inherit', 'pipe'], env });
    if (r.status !== 0) process.stdout.write(`(exit ${r.status ?? 'signal'}) ${r.stderr.toString('utf8').split('\n')[0] ?? ''}\n`);
  }
} finally {
  await http.close();
  await registry.stop();
  await engine?.stop();
}
process.exitCode = status;
