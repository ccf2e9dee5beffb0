/**
 * The Quick start demo: starts a private `docker-registry` on loopback (storage kept under
 * `.tmp/demo`, so re-runs are idempotent), publishes the seed article's multi-arch `super-golang`
 * (a runnable linux/amd64 child built from busybox-static, arm64/v8, arm/v7, arm/v6 and attestations),
 * then runs the real CLI: `resolver platform`, `resolver which --explain` for this host, and
 * `resolver which --platform` for each child.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { createHttpClient } from '../http/http.js';
import { Pusher } from './push.js';
import { freePort, startRegistry } from './registry-server.js';
import { publishIndex, superGolangChildren } from './samples.js';

const root = resolve(process.env['RESOLVER_DEMO_DIR'] ?? '.tmp/demo');
const cli = resolve('dist/cli/main.js');

function say(text: string): void {
  process.stdout.write(`\n\x1b[1m${text}\x1b[0m\n`);
}

function run(args: string[]): number {
  process.stdout.write(`$ resolver ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit' });
  return r.status ?? 1;
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
let status = 0;
try {
  say('Publishing the multi-arch super-golang (amd64 from busybox-static; arm64/v8, arm/v7, arm/v6; attestations)');
  const published = await publishIndex(new Pusher({ http, host: registry.host, repository: 'super-golang' }), {
    tag: 'latest', children: await superGolangChildren(busybox), format: 'oci', attestations: true,
  });
  process.stdout.write(`pushed ${registry.host}/super-golang:latest = ${published.index.digest}\n`);
  const image = `${registry.host}/super-golang:latest`;
  say('This host, as Docker sees it');
  run(['platform']);
  say('Which child Docker would pull here, and why');
  status = run(['which', image, '--explain']);
  say('The same tag on other hosts');
  for (const p of ['linux/arm64/v8', 'linux/arm/v7', 'linux/arm/v6', 'linux/arm/v5']) {
    process.stdout.write(`${p.padEnd(16)} `);
    spawnSync(process.execPath, [cli, 'which', image, '--platform', p], { stdio: 'inherit' });
  }
} finally {
  await http.close();
  await registry.stop();
}
process.exitCode = status;
