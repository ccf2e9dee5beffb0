/**
 * packaging/swarm/resolver-stack.yml deployed for real (issue 12 §6): a private dockerd (Debian 12's 20.10)
 * is made a one-node Swarm (`docker swarm init --advertise-addr 127.0.0.1`), the stack file is deployed with
 * `docker stack deploy` — only the two host paths rewritten to the private engine's socket and data root, and
 * the image name — and the service runs exactly one task (global mode), whose container's host name is the
 * node's ID (`{{.Node.ID}}`), which the daemon takes as its device id (no /etc/machine-id in the image; it
 * logs where the id came from, never the id). The daemon reaches the node's engine through the mounted socket
 * (it detects the engine's platform) with a read-only root, its state on the stack's volume.
 *
 * The image: a minimal one assembled here in seconds from this host's Node, its shared libraries, the bundle
 * and its external packages (`docker import`), not scripts/image.sh's Debian-based image, which takes minutes to
 * build and is tested on its own (test/packaging/image.test.ts). 12 s measured here, most of it the image
 * import, Swarm's start-up and its task scheduling; every wait has a deadline.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDockerd, unmountUnder, type RunningDockerd } from '../sandbox/dockerd.js';

const s = inject('services');
const exec = promisify(execFile);
const dockerd = '/usr/sbin/dockerd';
const canRun = process.getuid?.() === 0 && process.arch === 'x64' && existsSync(dockerd) && s.engine !== undefined;

/** The external packages the bundle requires (scripts/bundle.mjs), with their dependencies. */
function externals(): string[] {
  const seen = new Set<string>();
  const walk = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    // npm's flat node_modules (package-lock.json); read directly: some packages do not export ./package.json.
    const pkg = JSON.parse(readFileSync(resolve('node_modules', name, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    for (const d of Object.keys(pkg.dependencies ?? {})) walk(d);
  };
  for (const name of ['systeminformation', 'node-cron', 'pino', 'yaml']) walk(name);
  return [...seen];
}

/** A root filesystem: Node and the libraries it links, the launcher, the bundle, package.json, the externals. */
async function assembleRoot(root: string): Promise<void> {
  const node = process.execPath;
  const { stdout } = await exec('ldd', [node]);
  const libs = [...stdout.matchAll(/(\/\S+\.so[.\d]*)/g)].map((m) => m[1] ?? '');
  for (const file of [node, ...libs]) {
    await mkdir(join(root, dirname(file)), { recursive: true });
    await cp(file, join(root, file), { dereference: true });
  }
  const app = join(root, 'opt/resolver');
  for (const file of ['bin/resolver.cjs', 'dist/resolver.bundle.cjs', 'dist/resolver-mqtt.cjs', 'package.json']) {
    await mkdir(join(app, dirname(file)), { recursive: true });
    await cp(file, join(app, file));
  }
  for (const name of externals()) await cp(resolve('node_modules', name), join(app, 'node_modules', name), { recursive: true, dereference: true });
  await mkdir(join(root, 'etc'), { recursive: true });
  await mkdir(join(root, 'tmp'), { recursive: true });
  await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/nonexistent\n');
}

describe.runIf(canRun)('packaging/swarm/resolver-stack.yml on a real one-node Swarm (slow)', () => {
  let dir = '';
  let engine: RunningDockerd | undefined;
  const docker = (args: readonly string[], timeout = 60_000) => exec('docker', ['-H', engine?.dockerHost ?? '', ...args], { timeout, maxBuffer: 16 << 20, env: { PATH: process.env['PATH'], HOME: dir, DOCKER_CONFIG: join(dir, 'docker-cli') } });

  beforeAll(async () => {
    dir = await mkdtemp(join(s.tmp, 'swarm-'));
    engine = await startDockerd({ binary: dockerd, dir: join(dir, 'engine') });
    await docker(['swarm', 'init', '--advertise-addr', '127.0.0.1'], 120_000);
    const root = join(dir, 'root');
    await assembleRoot(root);
    await exec('tar', ['-C', root, '-cf', join(dir, 'root.tar'), '.'], { timeout: 120_000 });
    await docker(['import', '--change', 'ENTRYPOINT ["/usr/bin/node","/opt/resolver/bin/resolver.cjs"]', '--change', 'CMD ["daemon"]', join(dir, 'root.tar'), 'resolver-swarm:e2e'], 300_000);
  }, 600_000);

  afterAll(async () => {
    if (engine !== undefined) {
      await docker(['stack', 'rm', 'resolver']).catch(() => undefined);
      await docker(['swarm', 'leave', '--force']).catch(() => undefined);
      await engine.stop();
      await unmountUnder(dir);
    }
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  }, 120_000);

  it('runs one task per node; its host name is the node ID, which the daemon takes as its device id; it reaches the node\'s engine', async () => {
    const stack = (await readFile('packaging/swarm/resolver-stack.yml', 'utf8'))
      .replace('image: REGISTRY/resolver:TAG', 'image: resolver-swarm:e2e')
      .replace('source: /var/run/docker.sock', `source: ${engine?.socket ?? ''}`)
      .replace(/source: \/var\/lib\/docker$/m, `source: ${join(engine?.dir ?? '', 'data')}`);
    expect(stack).not.toContain('/var/run/docker.sock\n        target: /var/run/docker.sock\n      # State');
    await writeFile(join(dir, 'stack.yml'), stack);
    await writeFile(join(dir, 'resolver.yaml'), 'schedule: "*/15 * * * *"\nsplay: 0s\nlogLevel: debug\nimages:\n  - image: 127.0.0.1:1/app:stable\n');
    await docker(['config', 'create', 'resolver-yaml', join(dir, 'resolver.yaml')]);
    await docker(['stack', 'deploy', '-c', join(dir, 'stack.yml'), 'resolver'], 120_000);
    const nodeId = (await docker(['info', '--format', '{{.Swarm.NodeID}}'])).stdout.trim();
    expect(nodeId).toMatch(/^[0-9a-z]{25}$/);

    const end = Date.now() + 120_000;
    let logs = '';
    let container: string;
    for (;;) {
      const running = (await docker(['ps', '--filter', 'label=com.docker.swarm.service.name=resolver_resolver', '--format', '{{.ID}}'])).stdout.trim().split('\n').filter((l) => l !== '');
      container = running[0] ?? '';
      if (container !== '') logs = (await docker(['logs', container]).catch(() => ({ stdout: '', stderr: '' }))).stdout;
      if (logs.includes('"msg":"check failed"')) break;
      if (Date.now() > end) {
        const ps = await docker(['service', 'ps', '--no-trunc', 'resolver_resolver']).catch((e: unknown) => ({ stdout: String(e) }));
        throw new Error(`no running task with a first check within 120 s:\n${ps.stdout}\n${logs}`);
      }
      await delay(500);
    }
    // Global mode on one node: one task running.
    const tasks = (await docker(['service', 'ps', '--filter', 'desired-state=running', '--format', '{{.Node}} {{.CurrentState}}', 'resolver_resolver'])).stdout.trim().split('\n');
    expect(tasks).toHaveLength(1);
    expect((await docker(['service', 'inspect', '--format', '{{.Spec.Mode.Global}}', 'resolver_resolver'])).stdout.trim()).not.toBe('<nil>');
    // The host name is the node ID; the image has no /etc/machine-id, so the device id is that host name.
    expect((await docker(['inspect', '--format', '{{.Config.Hostname}} {{.HostConfig.ReadonlyRootfs}}', container])).stdout.trim()).toBe(`${nodeId} true`);
    const lines = logs.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l['msg'] === 'daemon started')).toMatchObject({ stateDir: '/var/lib/resolver', deviceIdFrom: 'hostname' });
    expect(logs).not.toContain(nodeId);
    // Through the mounted socket it reached the node's engine: the platform is the engine's, and the check
    // failed only at the (absent) registry.
    expect(lines.find((l) => l['msg'] === 'check failed')).toMatchObject({ platform: expect.stringMatching(/^linux\/amd64/) as unknown, code: 'ERR_NETWORK' });
  }, 300_000);
});
