/**
 * Debian 13 userlands for the packaging and ARM tests: built once by scripts/package-rootfs.sh (cached in
 * .tmp/debian/), unpacked fresh per test file, and entered with packaging/qemu/in-userns.sh: a private user,
 * mount and PID namespace whose own binfmt_misc runs arm64 and armhf binaries with qemu-user-static. The
 * network namespace is the host's, so loopback registries are reachable; the engine socket is bind-mounted.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type Arch = 'amd64' | 'arm64' | 'armhf';

/** What one command printed. */
export interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Fetches qemu-user-static and the npm Node runtimes into .tmp/ (once). */
export async function ensureDeps(): Promise<void> {
  await run('scripts/package-deps.sh', [], { maxBuffer: 1 << 24, timeout: 600_000 });
}

/** Thrown when Debian's archive cannot be reached to build a userland (scripts/package-rootfs.sh exit 75): tests skip, saying this. */
export class ArchiveUnreachable extends Error {}

/** The cached rootfs tarball of `arch`, built if missing. */
export async function rootfsTarball(arch: Arch): Promise<string> {
  try {
    const { stdout } = await run('scripts/package-rootfs.sh', [arch], { maxBuffer: 1 << 24, timeout: 1_200_000 });
    return resolve(stdout.trim().split('\n').at(-1) ?? '');
  } catch (e) {
    const err = e as { code?: unknown; stderr?: unknown };
    if (err.code === 75) throw new ArchiveUnreachable(String(err.stderr).trim());
    throw e;
  }
}

/** A fresh copy of the `arch` userland under .tmp/roots/. */
export async function freshRoot(arch: Arch): Promise<string> {
  const tarball = await rootfsTarball(arch);
  await mkdir(resolve('.tmp/roots'), { recursive: true });
  const dir = await mkdtemp(resolve('.tmp/roots', `${arch}-`));
  await run('tar', ['-xf', tarball, '-C', dir], { timeout: 300_000 });
  // Mount points (an extracted userland has none) and a resolv.conf-free, empty /run.
  for (const sub of ['proc', 'sys', 'dev', 'run', 'tmp']) await mkdir(join(dir, sub), { recursive: true });
  return dir;
}

export async function removeRoot(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** A host file or folder mounted at a path inside the root. */
export interface Bind {
  readonly source: string;
  readonly target: string;
}

const inner = `set -e
r="$1"; shift
mount -t proc proc "$r/proc"
mount --rbind /dev "$r/dev"
mount --rbind /sys "$r/sys"
while [ "$1" != -- ]; do
  src="$1"; dst="$r$2"; shift 2
  if [ -d "$src" ]; then mkdir -p "$dst"; else mkdir -p "$(dirname "$dst")"; [ -e "$dst" ] || : >"$dst"; fi
  mount --bind "$src" "$dst"
done
shift
exec chroot "$r" "$@"`;

/** Runs `argv` chrooted into `root` (as root in the namespace), with a deadline. */
export function inRoot(root: string, argv: readonly string[], o: { binds?: readonly Bind[]; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Ran> {
  const binds = (o.binds ?? []).flatMap((b) => [b.source, b.target]);
  const env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C.UTF-8', DEBIAN_FRONTEND: 'noninteractive', ...o.env };
  const args = [resolve('.tmp/qemu'), 'sh', '-c', inner, 'inner', root, ...binds, '--', ...argv];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(resolve('packaging/qemu/in-userns.sh'), args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      reject(new Error(`inRoot: no exit within ${String(o.timeoutMs ?? 300_000)} ms: ${argv.join(' ')}\n${stderr}`));
    }, o.timeoutMs ?? 300_000);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** The socket path of a `unix://` DOCKER_HOST. */
export function socketPath(dockerHost: string): string {
  if (!dockerHost.startsWith('unix://')) throw new Error(`not a unix socket: ${dockerHost}`);
  return dockerHost.slice('unix://'.length);
}

/** Builds the release artifacts of `version` into a new folder (for the upgrade). */
export async function packageVersion(version: string): Promise<string> {
  const out = await mkdtemp(join(resolve('.tmp'), 'release-'));
  await run('node', ['scripts/package.mjs', '--version', version, '--out', out], { timeout: 300_000 });
  return out;
}
