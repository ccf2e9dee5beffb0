/**
 * The Debian package, installed for real in Debian 13 (trixie) userlands of amd64 (natively), arm64 and armhf
 * (qemu-user, binfmt_misc private to a user namespace): `apt install ./resolver_….deb`, the CLI against a
 * loopback registry and the real engine's socket bind-mounted in, then an upgrade with an edited conffile,
 * `apt remove` and `apt purge`, and a fresh install onto a config that names images. Under qemu the engine stays
 * amd64: the engine's view must win, with the process-architecture warning. The userlands come from
 * scripts/package-rootfs.sh (docs/packaging.md: how the ARM ones are built in minutes); when Debian's archive
 * cannot be reached to build one, its tests skip and say so.
 */
import { execFile } from 'node:child_process';
import { copyFile, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ArchiveUnreachable, ensureDeps, freshRoot, inRoot, packageVersion, removeRoot, socketPath, type Arch, type Bind } from './root.js';

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
// What RESOLVER_STARTUP_DEBUG=1 prints: which way the process started (bin/resolver-snapshot.cjs, bin/resolver.cjs).
const fromSnapshot = 'resolver: started from the V8 startup snapshot (--liftoff-only --snapshot-blob /var/cache/resolver/snapshot.blob)\n';
const fromLauncher = 'resolver: started by the launcher, without a startup snapshot\n';
const snapshotFiles = '/var/cache/resolver /var/cache/resolver/snapshot.blob /var/cache/resolver/snapshot.key';

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

const arches: readonly Arch[] = ['amd64', ...foreign];

describe.runIf(s.engine !== undefined).each(arches)('resolver_<version>_all.deb in Debian 13 %s: apt install, run, upgrade, remove, purge', (arch) => {
  const emulated = arch !== 'amd64';
  // Every emulated start of Debian's node costs ~15 s here (more when the machine is loaded).
  const slow = emulated ? 3 : 1;
  let root = '';
  let unreachable = '';
  let binds: Bind[] = [];
  const sh = (script: string, timeoutMs = 600_000) => inRoot(root, ['/bin/sh', '-c', script], { binds, env: { DOCKER_HOST: 'unix:///run/docker.sock' }, timeoutMs });
  const ok = async (script: string, timeoutMs?: number) => {
    const r = await sh(script, timeoutMs);
    expect(r.code, `${script}\n${r.stdout}\n${r.stderr}`).toBe(0);
    return r;
  };
  const needRoot = (ctx: { skip: (note?: string) => never }) => {
    if (unreachable !== '') ctx.skip(unreachable);
  };

  beforeAll(async () => {
    try {
      root = await freshRoot(arch);
    } catch (e) {
      if (!(e instanceof ArchiveUnreachable)) throw e;
      unreachable = e.message;
      return;
    }
    binds = [{ source: socketPath(s.engine ?? ''), target: '/run/docker.sock' }];
    await copyFile(deb(releases[0] ?? '', pkg.version), join(root, 'tmp', `resolver_${pkg.version}_all.deb`));
    await copyFile(deb(releases[1] ?? '', next), join(root, 'tmp', `resolver_${next}_all.deb`));
    // Another build of Node for the snapshot's fallback (npm's 22, fetched by scripts/package-deps.sh).
    if (arch === 'amd64') await copyFile('.tmp/node/x64-22.23.5/bin/node', join(root, 'tmp', 'node22'));
  }, 1_800_000);

  afterAll(async () => {
    if (root !== '') await removeRoot(root);
  });

  it('installs with apt from the file, its dependencies satisfied from Debian, and starts no daemon with no images configured', async (ctx) => {
    needRoot(ctx);
    const r = await ok(`apt install -y --no-install-recommends /tmp/resolver_${pkg.version}_all.deb`);
    expect(r.stdout + r.stderr).toContain('resolver.service not started: /etc/resolver/resolver.yaml names no images');
    const st = await ok(`stat -c "%n %a %U:%G %F" /etc/resolver /etc/resolver/resolver.yaml /var/lib/resolver /usr/lib/systemd/system/resolver.service /usr/lib/systemd/system/resolver-check.timer /usr/lib/resolver/bin/resolver.cjs /usr/bin/resolver ${snapshotFiles}`);
    expect(st.stdout.split('\n').filter(Boolean)).toEqual([
      '/etc/resolver 755 root:root directory',
      '/etc/resolver/resolver.yaml 644 root:root regular file',
      '/var/lib/resolver 700 root:root directory',
      '/usr/lib/systemd/system/resolver.service 644 root:root regular file',
      '/usr/lib/systemd/system/resolver-check.timer 644 root:root regular file',
      '/usr/lib/resolver/bin/resolver.cjs 755 root:root regular file',
      // The /bin/sh front end, and the V8 startup snapshot the postinst built for this Node (root's, like trusted code).
      '/usr/bin/resolver 755 root:root regular file',
      '/var/cache/resolver 755 root:root directory',
      '/var/cache/resolver/snapshot.blob 644 root:root regular file',
      '/var/cache/resolver/snapshot.key 644 root:root regular file',
    ]);
    expect(r.stdout + r.stderr).toContain('resolver-build-snapshot: built /var/cache/resolver/snapshot.blob');
    expect((await sh('test -e /etc/systemd/system/multi-user.target.wants/resolver.service')).code).toBe(1);
    expect((await ok("dpkg-query -W -f '${Conffiles}' resolver")).stdout).toContain('/etc/resolver/resolver.yaml');
    expect((await ok("dpkg-query -W -f '${Version} ${Status}' resolver")).stdout).toBe(`${pkg.version} install ok installed`);
    // The userland is the architecture under test: its dpkg, and the nodejs apt accepted for the dependency.
    expect((await ok('dpkg --print-architecture')).stdout.trim()).toBe(arch);
    expect((await ok("dpkg-query -W -f '${Status} ${Architecture}' nodejs")).stdout).toBe(`install ok installed ${arch}`);
    // The shipped config is the "not configured" state: config check says what to do.
    const cc = await sh('resolver config check /etc/resolver/resolver.yaml');
    expect(cc.code).toBe(78);
    expect(cc.stderr).toContain('images: name at least one image to keep pulled');
  }, 1_200_000);

  it(`runs: --version, platform (the engine wins${emulated ? ', the warning shows' : ''}), which against a loopback registry, check against the real engine`, async (ctx) => {
    needRoot(ctx);
    // --version, platform and which start from the startup snapshot (the process says so, RESOLVER_STARTUP_DEBUG).
    const v = await ok('RESOLVER_STARTUP_DEBUG=1 resolver --version');
    expect(v.stdout.trim()).toBe(pkg.version);
    expect(v.stderr).toBe(fromSnapshot);
    const p = await ok('RESOLVER_STARTUP_DEBUG=1 resolver platform --json');
    expect(p.stderr).toContain(fromSnapshot);
    const platform = JSON.parse(p.stdout) as { platform: string; warnings: string[] };
    expect(platform.platform).toMatch(/^linux\/amd64/);
    if (emulated) expect(platform.warnings).toContain(`this process runs as ${processArch[arch]} but the engine is amd64: resolver follows the engine`);
    else expect(platform.warnings.join('\n')).not.toContain('this process runs as');
    const w = await ok(`RESOLVER_STARTUP_DEBUG=1 resolver which ${s.anonymous}/multi/docker:latest`);
    expect(w.stdout).toBe(`${child('multi/docker', 'linux/amd64')}\n`);
    // (and the warning about the private engine 20.10's rules)
    expect(w.stderr).toContain(fromSnapshot);
    await ok(`cat > /etc/resolver/resolver.yaml <<'EOF'\n# edited by the operator\nschedule: "*/5 * * * *"\nsplay: 0s\nimages:\n  - image: ${image}\nEOF\nresolver config check /etc/resolver/resolver.yaml`);
    await ok('resolver check --config /etc/resolver/resolver.yaml');
    const status = JSON.parse((await ok('resolver status --config /etc/resolver/resolver.yaml --json')).stdout) as unknown;
    expect(JSON.stringify(status)).toContain(child('super-golang', 'linux/amd64'));
    expect((await ok('ls /var/lib/resolver')).stdout).not.toBe('');
  }, 600_000 * slow);

  it.runIf(!emulated)('through the snapshot: run exits 127/126/125 as docker run, the daemon is the exec\'d node process and exits 0 on SIGTERM', async (ctx) => {
    needRoot(ctx);
    const code = async (script: string) => (await sh(script)).code;
    expect(await code(`resolver run -q --rm --network none ${image} /nonexistent`)).toBe(127);
    expect(await code(`resolver run -q --rm --network none ${image} /etc`)).toBe(126);
    expect(await code(`resolver run -q --rm --network resolver-no-such-net ${image} true`)).toBe(125);
    expect(await code(`resolver run -q --rm --network none ${image} true`)).toBe(0);
    // exec, not a child: the PID sh started is node itself, on the snapshot; SIGTERM reaches the daemon.
    const d = await ok(`resolver daemon --config /etc/resolver/resolver.yaml >/tmp/daemon.log 2>&1 & pid=$!
i=0; until grep -q snapshot-blob /proc/$pid/cmdline 2>/dev/null || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
tr '\\0' ' ' </proc/$pid/cmdline; echo
sleep 2; kill -TERM $pid; wait $pid; echo "exit $?"`);
    expect(d.stdout).toMatch(/^\/usr\/bin\/node --liftoff-only --snapshot-blob \/var\/cache\/resolver\/snapshot\.blob -- daemon --config \/etc\/resolver\/resolver\.yaml \n/);
    expect(d.stdout).toContain('exit 0');
  }, 300_000);

  it('another Node binary (an upgrade of nodejs) makes /usr/bin/resolver start without the snapshot, not fail; the trigger on /usr/bin/node rebuilds it', async (ctx) => {
    needRoot(ctx);
    const key = async () => (await ok('cat /var/cache/resolver/snapshot.key')).stdout;
    const built = await key();
    const viaLauncher = async () => {
      const r = await ok(`RESOLVER_STARTUP_DEBUG=1 resolver --version && RESOLVER_STARTUP_DEBUG=1 resolver which ${s.anonymous}/multi/docker:latest`);
      expect(r.stdout).toBe(`${pkg.version}\n${child('multi/docker', 'linux/amd64')}\n`);
      expect(r.stderr.split(fromLauncher).length, r.stderr).toBe(3);
      expect(r.stderr).not.toContain('snapshot (');
    };
    // The same Node rewritten as another file (another inode and size): the blob no longer matches it.
    await ok('cp -p /usr/bin/node /tmp/node.debian && cp /usr/bin/node /tmp/node.other && printf x >>/tmp/node.other && mv /tmp/node.other /usr/bin/node');
    await viaLauncher();
    if (!emulated) {
      // Another build of Node for real (npm's 22, another V8): handed the old blob, it would not start at all.
      await ok('install -m 0755 /tmp/node22 /usr/bin/node');
      expect((await ok('node -p process.versions.node')).stdout).toMatch(/^22\./);
      await viaLauncher();
      // A nodejs package that ships /usr/bin/node fires the trigger: reinstalling Debian's nodejs rebuilds the blob.
      const r = await ok('dpkg -i /var/cache/apt/archives/nodejs_*.deb');
      expect(r.stdout + r.stderr).toMatch(/Processing triggers for resolver [^\n]*\n[^\n]*resolver-build-snapshot: built \/var\/cache\/resolver\/snapshot\.blob/);
    } else {
      // The userland keeps no nodejs .deb: the same file trigger, activated by hand.
      await ok('mv /tmp/node.debian /usr/bin/node && dpkg-trigger --no-await /usr/bin/node && dpkg --triggers-only --pending', 600_000);
    }
    expect(await key()).not.toBe(built);
    const again = await ok('RESOLVER_STARTUP_DEBUG=1 resolver --version');
    expect(again.stdout.trim()).toBe(pkg.version);
    expect(again.stderr).toBe(fromSnapshot);
    expect((await ok('node -p process.versions.node')).stdout).toMatch(/^20\.19\./);
  }, 900_000 * slow);

  it('upgrades keeping the edited /etc/resolver/resolver.yaml (a conffile), then removes keeping config and state, then purges both', async (ctx) => {
    needRoot(ctx);
    const before = (await ok('cat /etc/resolver/resolver.yaml')).stdout;
    expect(before).toContain('# edited by the operator');
    const up = await ok(`apt install -y --no-install-recommends /tmp/resolver_${next}_all.deb </dev/null`);
    expect((await ok("dpkg-query -W -f '${Version}' resolver")).stdout).toBe(next);
    // The new bundle gets its own snapshot.
    expect(up.stdout + up.stderr).toContain('resolver-build-snapshot: built /var/cache/resolver/snapshot.blob');
    expect((await ok('RESOLVER_STARTUP_DEBUG=1 resolver --version')).stderr).toBe(fromSnapshot);
    expect((await ok('cat /etc/resolver/resolver.yaml')).stdout).toBe(before);
    expect((await ok('ls /etc/resolver')).stdout).toBe('resolver.yaml\n');

    await ok('apt remove -y resolver');
    expect((await ok("dpkg-query -W -f '${Status}' resolver")).stdout).toBe('deinstall ok config-files');
    for (const gone of ['/usr/lib/resolver', '/usr/bin/resolver', '/usr/lib/systemd/system/resolver.service', '/usr/lib/systemd/system/resolver-check.timer', '/var/cache/resolver']) {
      expect((await sh(`test -e ${gone} || test -L ${gone}`)).code, gone).toBe(1);
    }
    expect((await ok('cat /etc/resolver/resolver.yaml')).stdout).toBe(before);
    expect((await ok('ls /var/lib/resolver')).stdout).not.toBe('');

    await ok('apt purge -y resolver');
    expect((await sh("dpkg-query -W -f '${Status}' resolver")).stdout).not.toContain('config-files');
    for (const gone of ['/etc/resolver', '/var/lib/resolver', '/var/lib/private/resolver', '/var/cache/resolver']) {
      expect((await sh(`test -e ${gone} || test -L ${gone}`)).code, gone).toBe(1);
    }
    // Debian's nodejs stays: only resolver was removed.
    expect((await ok('node -p process.versions.node')).stdout).toMatch(/^20\.19\./);
  }, 900_000 * slow);

  it('a fresh install onto a config that names images enables resolver.service', async (ctx) => {
    needRoot(ctx);
    await ok(`mkdir -p /etc/resolver && printf 'images:\\n  - image: ${image}\\n' >/etc/resolver/resolver.yaml`);
    const r = await ok(`apt install -y --no-install-recommends -o Dpkg::Options::=--force-confold /tmp/resolver_${pkg.version}_all.deb </dev/null`);
    expect(r.stdout + r.stderr).not.toContain('not started');
    await ok('test -L /etc/systemd/system/multi-user.target.wants/resolver.service');
    await ok('apt purge -y resolver');
    expect((await sh('test -e /etc/systemd/system/multi-user.target.wants/resolver.service || test -L /etc/systemd/system/multi-user.target.wants/resolver.service')).code).toBe(1);
  }, 600_000 * slow);
});
