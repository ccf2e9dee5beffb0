/**
 * The Debian package, installed for real in a Debian 13 (trixie) userland: `apt install ./resolver_….deb`,
 * the CLI against a loopback registry and the real engine's socket bind-mounted in, then an upgrade with an
 * edited conffile, `apt remove` and `apt purge` (amd64, natively). On arm64 and armhf (qemu-user, binfmt_misc
 * private to a user namespace) the package's files run on Debian's own nodejs of that architecture against
 * the amd64 engine: the engine's view must win, with the process-architecture warning. The maintainer
 * scripts are POSIX sh and the package is Architecture: all, so the lifecycle is the same on every
 * architecture; docs/packaging.md says why it is not repeated under emulation.
 */
import { execFile } from 'node:child_process';
import { copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureDeps, freshRoot, inRoot, packageVersion, removeRoot, socketPath, type Arch, type Bind } from './root.js';

const s = inject('services');
const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
const next = `${pkg.version}+upgrade1`;
const deb = (dir: string, version: string) => join(dir, `resolver_${version}_all.deb`);
const child = (repo: string, platform: string): string => {
  const c = s.images[repo]?.children.find((x) => x.platform === platform);
  if (c === undefined) throw new Error(`no ${platform} child in ${repo}`);
  return c.manifest;
};

const foreign: readonly Arch[] = (process.env['RESOLVER_PACKAGING_ARCHES'] ?? 'arm64,armhf').split(',').filter((a): a is Arch => a === 'arm64' || a === 'armhf');
const processArch: Record<Arch, string> = { amd64: 'amd64', arm64: 'arm64', armhf: 'arm' };
const image = `${s.anonymous}/super-golang:latest`;

let releases: string[] = [];

beforeAll(async () => {
  await ensureDeps();
  releases = [await packageVersion(pkg.version), await packageVersion(next)];
}, 900_000);

afterAll(async () => {
  await Promise.all(releases.map((r) => rm(r, { recursive: true, force: true })));
});

describe('what the artifacts carry', () => {
  const exec = promisify(execFile);
  const app = ['bin/resolver.cjs', 'dist/resolver.bundle.cjs', 'dist/resolver-mqtt.cjs', 'node_modules/pino/package.json', 'node_modules/yaml/package.json', 'package.json'];

  it('the .deb and the tarball carry the launcher, the bundle and its MQTT chunk', async () => {
    const debFiles = (await exec('dpkg-deb', ['-c', deb(releases[0] ?? '', pkg.version)], { maxBuffer: 64 << 20 })).stdout;
    for (const f of app) expect(debFiles, f).toMatch(new RegExp(` \\./usr/lib/resolver/${f.replace(/\./g, '\\.')}$`, 'm'));
    const tarFiles = (await exec('tar', ['-tzf', join(releases[0] ?? '', `resolver-${pkg.version}.tar.gz`)], { maxBuffer: 64 << 20 })).stdout;
    for (const f of app) expect(tarFiles.split('\n'), f).toContain(`resolver/${f}`);
  });
});

describe.runIf(s.engine !== undefined)('resolver_<version>_all.deb in Debian 13 amd64: apt install, run, upgrade, remove, purge', () => {
  const arch: Arch = 'amd64';
  let root = '';
  let binds: Bind[] = [];
  const sh = (script: string, timeoutMs = 600_000) => inRoot(root, ['/bin/sh', '-c', script], { binds, env: { DOCKER_HOST: 'unix:///run/docker.sock' }, timeoutMs });
  const ok = async (script: string, timeoutMs?: number) => {
    const r = await sh(script, timeoutMs);
    expect(r.code, `${script}\n${r.stdout}\n${r.stderr}`).toBe(0);
    return r;
  };

  beforeAll(async () => {
    root = await freshRoot(arch);
    binds = [{ source: socketPath(s.engine ?? ''), target: '/run/docker.sock' }];
    await copyFile(deb(releases[0] ?? '', pkg.version), join(root, 'tmp', `resolver_${pkg.version}_all.deb`));
    await copyFile(deb(releases[1] ?? '', next), join(root, 'tmp', `resolver_${next}_all.deb`));
  }, 1_800_000);

  afterAll(async () => {
    if (root !== '') await removeRoot(root);
  });

  it('installs with apt from the file, its dependencies from Debian, and starts no daemon with no images configured', async () => {
    const r = await ok(`apt install -y --no-install-recommends /tmp/resolver_${pkg.version}_all.deb`);
    expect(r.stdout + r.stderr).toContain('resolver.service not started: /etc/resolver/resolver.yaml names no images');
    const st = await ok('stat -c "%n %a %U:%G" /etc/resolver /etc/resolver/resolver.yaml /var/lib/resolver /usr/lib/systemd/system/resolver.service /usr/lib/systemd/system/resolver-check.timer /usr/lib/resolver/bin/resolver.cjs');
    expect(st.stdout.split('\n').filter(Boolean)).toEqual([
      '/etc/resolver 755 root:root',
      '/etc/resolver/resolver.yaml 644 root:root',
      '/var/lib/resolver 700 root:root',
      '/usr/lib/systemd/system/resolver.service 644 root:root',
      '/usr/lib/systemd/system/resolver-check.timer 644 root:root',
      '/usr/lib/resolver/bin/resolver.cjs 755 root:root',
    ]);
    expect((await sh('test -e /etc/systemd/system/multi-user.target.wants/resolver.service')).code).toBe(1);
    expect((await ok("dpkg-query -W -f '${Conffiles}' resolver")).stdout).toContain('/etc/resolver/resolver.yaml');
    expect((await ok("dpkg-query -W -f '${Version} ${Status}' resolver")).stdout).toBe(`${pkg.version} install ok installed`);
    expect((await ok("dpkg-query -W -f '${Status}' nodejs")).stdout).toBe('install ok installed');
    // The shipped config is the "not configured" state: config check says what to do.
    const cc = await sh('resolver config check /etc/resolver/resolver.yaml');
    expect(cc.code).toBe(78);
    expect(cc.stderr).toContain('images: name at least one image to keep pulled');
  }, 1_200_000);

  it('runs: --version, platform (the engine wins), which against a loopback registry, check against the real engine', async () => {
    expect((await ok('resolver --version')).stdout.trim()).toBe(pkg.version);
    const p = await ok('resolver platform --json');
    const platform = JSON.parse(p.stdout) as { platform: string; warnings: string[] };
    expect(platform.platform).toMatch(/^linux\/amd64/);
    expect(platform.warnings.join('\n')).not.toContain('this process runs as');
    expect((await ok(`resolver which ${s.anonymous}/multi/docker:latest`)).stdout).toBe(`${child('multi/docker', 'linux/amd64')}\n`);
    await ok(`cat > /etc/resolver/resolver.yaml <<'EOF'\n# edited by the operator\nschedule: "*/5 * * * *"\nsplay: 0s\nimages:\n  - image: ${image}\nEOF\nresolver config check /etc/resolver/resolver.yaml`);
    await ok('resolver check --config /etc/resolver/resolver.yaml');
    const status = JSON.parse((await ok('resolver status --config /etc/resolver/resolver.yaml --json')).stdout) as unknown;
    expect(JSON.stringify(status)).toContain(child('super-golang', 'linux/amd64'));
    expect((await ok('ls /var/lib/resolver')).stdout).not.toBe('');
  }, 600_000);

  it('upgrades keeping the edited /etc/resolver/resolver.yaml (a conffile), then removes keeping config and state, then purges both', async () => {
    const before = (await ok('cat /etc/resolver/resolver.yaml')).stdout;
    expect(before).toContain('# edited by the operator');
    await ok(`apt install -y --no-install-recommends /tmp/resolver_${next}_all.deb </dev/null`);
    expect((await ok("dpkg-query -W -f '${Version}' resolver")).stdout).toBe(next);
    expect((await ok('cat /etc/resolver/resolver.yaml')).stdout).toBe(before);
    expect((await ok('ls /etc/resolver')).stdout).toBe('resolver.yaml\n');

    await ok('apt remove -y resolver');
    expect((await ok("dpkg-query -W -f '${Status}' resolver")).stdout).toBe('deinstall ok config-files');
    for (const gone of ['/usr/lib/resolver', '/usr/bin/resolver', '/usr/lib/systemd/system/resolver.service', '/usr/lib/systemd/system/resolver-check.timer']) {
      expect((await sh(`test -e ${gone} || test -L ${gone}`)).code, gone).toBe(1);
    }
    expect((await ok('cat /etc/resolver/resolver.yaml')).stdout).toBe(before);
    expect((await ok('ls /var/lib/resolver')).stdout).not.toBe('');

    await ok('apt purge -y resolver');
    expect((await sh("dpkg-query -W -f '${Status}' resolver")).stdout).not.toContain('config-files');
    for (const gone of ['/etc/resolver', '/var/lib/resolver', '/var/lib/private/resolver']) {
      expect((await sh(`test -e ${gone} || test -L ${gone}`)).code, gone).toBe(1);
    }
    // Debian's nodejs stays: only resolver was removed.
    expect((await ok('node -p process.versions.node')).stdout).toMatch(/^20\.19\./);
  }, 900_000);

  it('a fresh install onto a config that names images enables resolver.service', async () => {
    await ok(`mkdir -p /etc/resolver && printf 'images:\\n  - image: ${image}\\n' >/etc/resolver/resolver.yaml`);
    const r = await ok(`apt install -y --no-install-recommends -o Dpkg::Options::=--force-confold /tmp/resolver_${pkg.version}_all.deb </dev/null`);
    expect(r.stdout + r.stderr).not.toContain('not started');
    await ok('test -L /etc/systemd/system/multi-user.target.wants/resolver.service');
    await ok('apt purge -y resolver');
    expect((await sh('test -e /etc/systemd/system/multi-user.target.wants/resolver.service || test -L /etc/systemd/system/multi-user.target.wants/resolver.service')).code).toBe(1);
  }, 600_000);
});

describe.runIf(s.engine !== undefined).each(foreign)('the .deb on Debian 13 %s (qemu-user): its files on Debian’s own nodejs, against the amd64 engine', (arch) => {
  let root = '';
  const run = async (args: readonly string[]) => {
    const r = await inRoot(root, ['/usr/bin/node', '/usr/lib/resolver/bin/resolver.cjs', ...args], { binds: [{ source: socketPath(s.engine ?? ''), target: '/run/docker.sock' }], env: { DOCKER_HOST: 'unix:///run/docker.sock', RESOLVER_STATE_DIR: '/var/lib/resolver' }, timeoutMs: 300_000 });
    expect(r.code, `resolver ${args.join(' ')}\n${r.stderr}`).toBe(0);
    return r;
  };

  beforeAll(async () => {
    root = await freshRoot(arch);
    // What dpkg unpacks: the package's data, as `dpkg-deb -x` lays it out.
    await promisify(execFile)('dpkg-deb', ['-x', deb(releases[0] ?? '', pkg.version), root]);
  }, 1_800_000);

  afterAll(async () => {
    if (root !== '') await removeRoot(root);
  });

  it('--version, platform (the engine wins, the warning shows), which, check', async () => {
    expect((await run(['--version'])).stdout.trim()).toBe(pkg.version);
    const platform = JSON.parse((await run(['platform', '--json'])).stdout) as { platform: string; warnings: string[] };
    expect(platform.platform).toMatch(/^linux\/amd64/);
    expect(platform.warnings).toContain(`this process runs as ${processArch[arch]} but the engine is amd64: resolver follows the engine`);
    expect((await run(['which', `${s.anonymous}/multi/docker:latest`])).stdout).toBe(`${child('multi/docker', 'linux/amd64')}\n`);
    await writeFile(join(root, 'etc', 'resolver', 'resolver.yaml'), `splay: 0s\nimages:\n  - image: ${image}\n`);
    // Each emulated start of Debian's node costs ~15 s here: the check's JSON result shows the pulled child.
    const check = await run(['check', '--config', '/etc/resolver/resolver.yaml', '--json']);
    expect(check.stdout).toContain(child('super-golang', 'linux/amd64'));
  }, 900_000);
});
