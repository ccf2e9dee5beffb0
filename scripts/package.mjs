#!/usr/bin/env node
// `npm run package`: the release artifacts, from the build in dist/ and the installed node_modules, offline.
//   release/resolver_<version>_all.deb   Debian 13 / Raspberry Pi OS trixie and later, every architecture:
//                                        depends on the distribution's nodejs (>= 20.19), see docs/packaging.md
//   release/resolver-<version>.tar.gz    the same files for other distributions: one folder, `resolver/`,
//                                        to extract into /usr/lib (the systemd units expect /usr/lib/resolver)
// Both carry the bundle, its lazily loaded MQTT chunk (dist/resolver-mqtt.cjs), the launcher and only the
// packages the bundle leaves external (pure JavaScript).
// Reproducible: file times are SOURCE_DATE_EPOCH (default: the last commit), owners root, names sorted.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
// Options for the upgrade test: --version V (default: package.json's), --out DIR (default: release/).
const option = (name) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
};
const version = option('--version') ?? pkg.version;
const release = resolve(option('--out') ?? join(root, 'release'));
const work = join(root, '.tmp', `package-${process.pid}`);

/** Packages the bundle requires at run time (scripts/bundle.mjs `external`, less cpu-features: only ssh2 wants it, and ssh2 is stubbed). */
const runtimeExternals = ['systeminformation', 'node-cron', 'pino', 'yaml'];
/** What scripts/bundle.mjs writes: the bundle and the MQTT client it requires only for an MQTT sink. */
const bundleFiles = ['resolver.bundle.cjs', 'resolver-mqtt.cjs'];

function fail(message) {
  process.stderr.write(`package: ${message}\n`);
  process.exit(1);
}

function epoch() {
  if (process.env.SOURCE_DATE_EPOCH !== undefined) return Number(process.env.SOURCE_DATE_EPOCH);
  try {
    return Number(execFileSync('git', ['-C', root, 'log', '-1', '--format=%ct'], { encoding: 'utf8' }).trim());
  } catch {
    return Math.floor(Date.now() / 1000);
  }
}

/** Node's resolution from `fromDir`: the nearest node_modules/<name> going up, within the project. */
function resolvePackage(name, fromDir) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === root || dir === dirname(dir)) return undefined;
  }
}

/** Every package directory the externals need (dependencies and installed optional dependencies), transitively. */
function runtimeClosure() {
  const found = new Set();
  const visit = (dir) => {
    if (found.has(dir)) return;
    found.add(dir);
    const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    for (const name of Object.keys(meta.dependencies ?? {})) {
      const dep = resolvePackage(name, dir);
      if (dep === undefined) fail(`${relative(root, dir)} needs ${name}, which is not installed: run npm ci first`);
      visit(dep);
    }
    for (const name of Object.keys(meta.optionalDependencies ?? {})) {
      const dep = resolvePackage(name, dir);
      if (dep !== undefined) visit(dep);
    }
  };
  for (const name of runtimeExternals) {
    const dir = resolvePackage(name, root);
    if (dir === undefined) fail(`${name} is not installed: run npm ci first`);
    visit(dir);
  }
  return [...found].sort();
}

const nativeFile = /\.(node|so|dylib|dll)$|binding\.gyp$/;
// What a package ships for its developers, not for require(): its tests, benchmarks, docs site, VCS files.
const devOnlyTop = new Set(['test', 'tests', '__tests__', 'benchmarks', 'bench', 'docs', 'docsify', 'examples', '.github']);
const devOnlyFile = /(^|\/)\.(git\w*|npmignore|eslintrc[\w.]*|editorconfig|prettierrc[\w.]*|taprc|nycrc)$|\.html$/;

/** Copies one package without its nested node_modules (the closure copies those it needs) and fails on native code. */
function copyPackage(src, dest) {
  cpSync(src, dest, {
    recursive: true,
    filter: (from) => {
      const rel = relative(src, from);
      const top = rel.split('/')[0] ?? '';
      if (top === 'node_modules' || devOnlyTop.has(top) || devOnlyFile.test(rel)) return false;
      if (nativeFile.test(from)) fail(`${relative(root, from)} is native code: the package is Architecture: all`);
      return true;
    },
  });
}

/** Where the packaged scripts expect the application and the snapshot (a root-only folder, like the code cache's rules). */
const installed = { app: '/usr/lib/resolver', cache: '/var/cache/resolver' };
const snapshotScript = (name) => readFileSync(join(root, 'packaging', 'snapshot', name), 'utf8').replaceAll('@APP@', installed.app).replaceAll('@CACHE@', installed.cache);

/** The application folder, /usr/lib/resolver on a device. */
function stageApp(app) {
  mkdirSync(join(app, 'bin'), { recursive: true });
  mkdirSync(join(app, 'dist'), { recursive: true });
  cpSync(join(root, 'bin', 'resolver.cjs'), join(app, 'bin', 'resolver.cjs'));
  chmodSync(join(app, 'bin', 'resolver.cjs'), 0o755);
  // The V8 startup snapshot (docs/packaging.md §Startup snapshot): its entry, the sh builder and the sh
  // front end that uses the blob when it matches the Node it would run (the .deb's /usr/bin/resolver).
  cpSync(join(root, 'bin', 'resolver-snapshot.cjs'), join(app, 'bin', 'resolver-snapshot.cjs'));
  for (const [from, to] of [['resolver-build-snapshot.sh', 'resolver-build-snapshot'], ['resolver.sh', 'resolver']]) {
    writeFileSync(join(app, 'bin', to), snapshotScript(from), { mode: 0o755 });
  }
  for (const f of bundleFiles) cpSync(join(root, 'dist', f), join(app, 'dist', f));
  cpSync(join(root, 'config'), join(app, 'config'), { recursive: true });
  cpSync(join(root, 'systemd'), join(app, 'systemd'), { recursive: true });
  cpSync(join(root, 'README.md'), join(app, 'README.md'));
  const meta = { name: pkg.name, version, description: pkg.description, license: pkg.license, engines: pkg.engines, bin: pkg.bin, private: true };
  writeFileSync(join(app, 'package.json'), `${JSON.stringify(meta, null, 2)}\n`);
  for (const dir of runtimeClosure()) copyPackage(dir, join(app, relative(root, dir)));
}

function walk(dir, out = []) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    out.push(path);
    if (lstatSync(path).isDirectory()) walk(path, out);
  }
  return out;
}

/** Modes a Debian package wants (0755 folders and executables, 0644 the rest) and one timestamp. */
function normalise(tree, time) {
  for (const path of walk(tree).reverse()) {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) continue;
    if (st.isDirectory()) chmodSync(path, 0o755);
    else chmodSync(path, st.mode & 0o111 ? 0o755 : 0o644);
    utimesSync(path, time, time);
  }
  utimesSync(tree, time, time);
}

function buildDeb(time) {
  const tree = join(work, 'deb');
  const app = join(tree, 'usr', 'lib', 'resolver');
  stageApp(app);
  mkdirSync(join(tree, 'usr', 'bin'), { recursive: true });
  // A /bin/sh front end: the startup snapshot when it matches the installed Node, else the launcher (exec, both).
  writeFileSync(join(tree, 'usr', 'bin', 'resolver'), snapshotScript('resolver.sh'), { mode: 0o755 });
  const units = join(tree, 'usr', 'lib', 'systemd', 'system');
  mkdirSync(units, { recursive: true });
  for (const unit of readdirSync(join(root, 'systemd'))) cpSync(join(root, 'systemd', unit), join(units, unit));
  mkdirSync(join(tree, 'etc', 'resolver'), { recursive: true });
  cpSync(join(root, 'packaging', 'resolver.yaml'), join(tree, 'etc', 'resolver', 'resolver.yaml'));
  const doc = join(tree, 'usr', 'share', 'doc', 'resolver');
  mkdirSync(join(doc, 'examples'), { recursive: true });
  cpSync(join(root, 'config', 'resolver.example.yaml'), join(doc, 'examples', 'resolver.example.yaml'));
  cpSync(join(root, 'packaging', 'copyright'), join(doc, 'copyright'));
  const date = new Date(time * 1000).toUTCString().replace('GMT', '+0000');
  const changelog = `resolver (${version}) unstable; urgency=medium\n\n  * Release ${version}.\n\n -- resolver maintainers <resolver@localhost>  ${date}\n`;
  writeFileSync(join(doc, 'changelog.gz'), gzipSync(changelog, { level: 9 }).fill(0, 4, 8));

  normalise(tree, time);
  const control = join(tree, 'DEBIAN');
  mkdirSync(control);
  const files = walk(tree).filter((p) => !p.startsWith(control) && lstatSync(p).isFile());
  const sizeKiB = walk(tree).filter((p) => !p.startsWith(control)).reduce((sum, p) => sum + Math.ceil((lstatSync(p).isFile() ? statSync(p).size : 0) / 1024) + 1, 0);
  const controlText = readFileSync(join(root, 'packaging', 'debian', 'control.in'), 'utf8').replace('@VERSION@', version).replace('@INSTALLED_SIZE@', String(sizeKiB));
  writeFileSync(join(control, 'control'), controlText);
  writeFileSync(join(control, 'conffiles'), readFileSync(join(root, 'packaging', 'debian', 'conffiles')));
  const md5 = files.filter((p) => !p.startsWith(join(tree, 'etc'))).map((p) => `${createHash('md5').update(readFileSync(p)).digest('hex')}  ${relative(tree, p)}\n`).join('');
  writeFileSync(join(control, 'md5sums'), md5);
  for (const script of ['postinst', 'prerm', 'postrm']) cpSync(join(root, 'packaging', 'debian', script), join(control, script));
  // A file trigger on Node's files: an upgrade of nodejs (or its libnode) rebuilds the startup snapshot.
  cpSync(join(root, 'packaging', 'debian', 'triggers'), join(control, 'triggers'));
  normalise(control, time);
  for (const f of ['control', 'conffiles', 'md5sums', 'triggers']) chmodSync(join(control, f), 0o644);

  const out = join(release, `${pkg.name}_${version}_all.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', tree, out], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, SOURCE_DATE_EPOCH: String(time) } });
  return out;
}

function buildTarball(time) {
  const tree = join(work, 'tar');
  stageApp(join(tree, 'resolver'));
  cpSync(join(root, 'packaging', 'resolver.yaml'), join(tree, 'resolver', 'config', 'resolver.yaml'));
  normalise(tree, time);
  const out = join(release, `${pkg.name}-${version}.tar.gz`);
  const tar = execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', `--mtime=@${time}`, '--format=gnu', '-C', tree, '-cf', '-', 'resolver'], { maxBuffer: 1 << 30 });
  writeFileSync(out, gzipSync(tar, { level: 9 }).fill(0, 4, 8));
  return out;
}

if (!/^\d+\.\d+\.\d+([~+.-][0-9A-Za-z.~+-]+)?$/.test(version)) fail(`version ${version} is not a Debian upstream version`);
for (const f of bundleFiles) if (!existsSync(join(root, 'dist', f))) fail(`dist/${f} is missing: run npm run build first`);
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
mkdirSync(release, { recursive: true });
const time = epoch();
for (const out of [buildDeb(time), buildTarball(time)]) {
  process.stdout.write(`${relative(root, out)}\t${statSync(out).size} bytes\n`);
}
rmSync(work, { recursive: true, force: true });
