/**
 * Issue 12 §4: the disk preflight against real engines whose data root is a size-limited tmpfs (64 MiB), on
 * both image stores (Docker 20.10 classic with vfs; Docker 26.1.5 with the containerd snapshotter, native).
 * A pull that fits proceeds; a second image that shares the first one's base layer fits because that layer
 * is not counted again; one that does not fit is refused by `pull` (exit 14), `run` (125) and held by the
 * daemon's check (`held`, not `failed`), with a message naming the bytes needed, the bytes free and the
 * data root, and the engine's images, its data root and resolver's state are exactly as before.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, stat, statfs, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient } from '../../src/http/http.js';
import { startDockerd, unmountUnder, type RunningDockerd } from '../sandbox/dockerd.js';
import { buildIndex, buildLayeredImage, platformObject, type BuiltImage } from '../sandbox/oci-builder.js';
import { Pusher } from '../sandbox/push.js';
import { cli } from '../e2e/cli.js';
import { engineApi, type EngineApi } from '../e2e/engine-api.js';

const s = inject('services');
const oracle = [process.env['RESOLVER_ORACLE_DOCKERD'], resolve('.tmp/oracle/usr/sbin/dockerd')].find((p) => p !== undefined && existsSync(p));
const root = process.getuid?.() === 0;
const MB = 1_000_000;

const stores = [
  { store: 'classic', binary: existsSync('/usr/sbin/dockerd') ? '/usr/sbin/dockerd' : undefined, containerd: false },
  { store: 'containerd', binary: oracle, containerd: true },
];

/** Every file under `dir` with its size (what a pull would change), sorted. */
async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(`${p.slice(dir.length)} ${(await stat(p)).size}`);
      else out.push(p.slice(dir.length));
    }
  };
  await walk(dir);
  return out.sort();
}

/** The state folder's files and their bytes. */
async function stateBytes(dir: string): Promise<Record<string, string>> {
  const files = await readdir(dir).catch(() => [] as string[]);
  const out: Record<string, string> = {};
  for (const f of files.filter((n) => !n.endsWith('.lock') && n !== 'daemon.sock')) out[f] = (await readFile(join(dir, f))).toString('base64');
  return out;
}

describe.runIf(root).each(stores)('disk preflight on a 64 MiB tmpfs data root ($store store)', ({ store, binary, containerd }) => {
  const http = createHttpClient();
  let dir = '';
  let engine: RunningDockerd | undefined;
  let api: EngineApi;
  const repo = `preflight-${store}`;
  const base = [{ path: 'base', content: randomBytes(2 * MB) }];
  const image = (label: string, layers: { path: string; content: Buffer }[][]): BuiltImage => buildLayeredImage({ platform: { os: 'linux', architecture: 'amd64' }, layers, format: 'oci', label, level: 1 });
  const a = image('a', [base, [{ path: 'a', content: randomBytes(10_000) }]]);
  const b = image('b', [base, [{ path: 'b', content: randomBytes(10_000) }]]);
  const big = image('big', [[{ path: 'big', content: randomBytes(40 * MB) }]]);
  const ref = (name: string): string => `${s.anonymous}/${repo}/${name}:latest`;

  beforeAll(async () => {
    if (binary === undefined) return;
    dir = await mkdtemp(join(s.tmp, `preflight-${store}-`));
    await mkdir(join(dir, 'data'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', join(dir, 'data')]);
    const extraArgs: string[] = [];
    if (containerd) {
      await writeFile(join(dir, 'daemon.json'), JSON.stringify({ features: { 'containerd-snapshotter': true } }));
      extraArgs.push('--config-file', join(dir, 'daemon.json'), '--storage-driver', 'native');
    }
    engine = await startDockerd({ binary, dir, extraArgs });
    api = engineApi(engine.dockerHost);
    for (const [name, img] of [['a', a], ['b', b], ['big', big]] as const) {
      const pusher = new Pusher({ http, host: s.anonymous, repository: `${repo}/${name}` });
      await pusher.image(img);
      await pusher.manifest(buildIndex([{ manifest: img.manifest, platform: platformObject(img.platform) }], 'oci'), 'latest');
    }
  }, 240_000);

  afterAll(async () => {
    if (engine !== undefined) await api.close();
    await engine?.stop();
    // engine.stop() unmounts what is mounted under its folder, the tmpfs included.
    await unmountUnder(dir);
    await http.close();
  });

  it.runIf(binary !== undefined)('a pull that fits proceeds; an image sharing its base layer fits because that layer is not counted again', async () => {
    const env = (minFree: string): Record<string, string> => ({ DOCKER_HOST: engine?.dockerHost ?? '', RESOLVER_STATE_DIR: join(dir, 'state'), RESOLVER_PREFLIGHT_MIN_FREE: minFree });
    const first = await cli(['pull', ref('a')], env('1MB'));
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout.trim()).toBe(a.manifest.digest);
    // The watermark leaves room for b's new layer (about 6.4 MB on a copying driver: 2 MB × 3 for the copy of
    // its base, plus its own) but not for b counted whole (about 14.5 MB: the base again, 2 MB + 6 MB, as well).
    const fs = await statfs(join(dir, 'data'));
    const free = fs.bavail * fs.bsize;
    const second = await cli(['pull', ref('b')], env(String(free - 10 * MB)));
    expect(second.code, second.stderr).toBe(0);
    expect((await api.get(`/images/${ref('b')}/json`)).json.RootFS.Layers[0]).toBe((await api.get(`/images/${ref('a')}/json`)).json.RootFS.Layers[0]);
  });

  it.runIf(binary !== undefined)('a pull that does not fit is refused by pull (14) and run (125) and held by check, with the bytes and the path; nothing changes', async () => {
    const stateDir = join(dir, 'state');
    const dataRoot = join(dir, 'data');
    const env = { DOCKER_HOST: engine?.dockerHost ?? '', RESOLVER_STATE_DIR: stateDir };
    // Sorted: both images were created at time 0, so the engine lists them in no fixed order.
    const images = async (): Promise<unknown[]> => ((await api.get('/images/json')).json as { Id: string }[]).sort((x, y) => x.Id.localeCompare(y.Id));
    const imagesBefore = await images();
    const filesBefore = await listing(dataRoot);
    const stateBefore = await stateBytes(stateDir);
    const digestRef = `${s.anonymous}/${repo}/big@${big.manifest.digest}`;
    const message = new RegExp(`not enough disk space to pull ${digestRef.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: it needs about 1\\d\\d MB \\(1 new of 1 layers, 4\\d\\.\\d MB to download\\) and 10% \\(6\\.\\d\\d MB\\) must stay free, but ${dataRoot} has \\d+(\\.\\d+)? MB free`);

    const pull = await cli(['pull', ref('big')], env);
    expect(pull.code, pull.stderr).toBe(14);
    expect(pull.stderr).toMatch(message);
    expect(pull.stderr).toMatch(/nothing was pulled; the current image is kept/);
    expect(pull.stderr).not.toMatch(/\n\s+at /);
    expect(pull.stdout).toBe('');

    const run = await cli(['run', '--rm', '--network', 'none', ref('big'), 'true'], env);
    expect(run.code, run.stderr).toBe(125);
    expect(run.stderr).toMatch(message);

    const config = join(dir, 'resolver.yaml');
    await writeFile(config, `engine:\n  host: ${engine?.dockerHost ?? ''}\nsplay: 0s\nstateDir: ${stateDir}\nimages:\n  - image: ${ref('big')}\n`);
    const check = await cli(['check', '--config', config, '--json'], {});
    expect(check.stderr).not.toMatch(/check failed/);
    const statuses = JSON.parse(check.stdout) as { state: string; held: string; lastResult: string; failures: number }[];
    expect(statuses).toHaveLength(1);
    expect(statuses[0]).toMatchObject({ state: 'held', lastResult: 'held', failures: 0 });
    expect(statuses[0]?.held).toMatch(message);
    expect(check.code).toBe(3);

    expect(await images()).toEqual(imagesBefore);
    expect(await listing(dataRoot)).toEqual(filesBefore);
    // The check wrote nothing for an entry it never pulled; pull and run wrote nothing either.
    expect(await stateBytes(stateDir)).toEqual(stateBefore);
  });
});
