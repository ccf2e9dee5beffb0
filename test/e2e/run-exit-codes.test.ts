/**
 * `resolver run` side by side with the real docker CLI, both talking to the same private dockerd: exit
 * codes of start failures (125/126/127) and their message, what is left behind with and without --rm, the
 * argument convention (everything after IMAGE is the container's), `-e KEY`, `-d`, `--name` conflicts,
 * `-it` without a terminal, forwarded signals. Every command runs under a deadline.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cliPath, runWithin, type TimedRun } from './cli.js';
import { engineApi } from './engine-api.js';

const s = inject('services');
const dockerHost = s.engine;
const api = dockerHost === undefined ? undefined : engineApi(dockerHost);
// The docker CLI 28 where it is installed, else Debian's (docker.io, installed by scripts/ensure-deps.sh).
const dockerCli = ['/usr/local/bin/docker', '/usr/bin/docker'].find((p) => existsSync(p));
const image = `${s.anonymous}/super-golang:latest`;
let env: Record<string, string> = {};

type Outcome = TimedRun;

/** Runs a program with a deadline: a command that hangs is killed and fails the test. */
const timed = (file: string, args: readonly string[], extraEnv: Record<string, string>, deadlineMs = 30_000): Promise<Outcome> => runWithin(file, args, { ...env, ...extraEnv }, deadlineMs);

const resolverRun = (args: readonly string[], extraEnv: Record<string, string> = {}): Promise<Outcome> => timed(process.execPath, [cliPath, 'run', '-q', ...args], extraEnv);
const dockerRun = (args: readonly string[], extraEnv: Record<string, string> = {}): Promise<Outcome> => timed(dockerCli ?? 'docker', ['run', ...args], extraEnv);
/** The error line after the program's prefix (`resolver: …`, `docker: …`). */
const errorLine = (stderr: string, prefix: string): string | undefined => stderr.split('\n').find((l) => l.startsWith(`${prefix}: `))?.slice(prefix.length + 2).replace(/\.$/, '');
const containerIds = async (): Promise<Set<string>> => new Set(((await api?.get('/containers/json?all=1'))?.json ?? []).map((c: { Id: string }) => c.Id));
const removeAll = async (ids: Iterable<string>): Promise<void> => {
  for (const id of ids) await api?.del(`/containers/${id}?force=1`);
};
/** Containers created since `before`. */
async function createdSince(before: Set<string>): Promise<string[]> {
  return [...(await containerIds())].filter((id) => !before.has(id));
}

beforeAll(async () => {
  const stateDir = await mkdtemp(join(s.tmp, 'run-codes-'));
  const dockerConfig = await mkdtemp(join(s.tmp, 'run-codes-docker-'));
  env = { DOCKER_HOST: dockerHost ?? '', RESOLVER_STATE_DIR: stateDir, DOCKER_CONFIG: dockerConfig };
  // resolver pull tags name:tag, so the docker CLI finds the same image locally and pulls nothing.
  const pull = await timed(process.execPath, [cliPath, 'pull', '-q', image], {});
  expect(pull.code, pull.stderr).toBe(0);
});
afterAll(async () => {
  await api?.close();
});

describe.runIf(dockerHost !== undefined || process.env['CI'] === 'true')('resolver run exits like docker run', () => {
  it('the private engine and a docker CLI are there', () => {
    expect(dockerHost, 'CI must be able to start Debian 12 dockerd').toBeDefined();
    expect(dockerCli, 'docker.io provides /usr/bin/docker').toBeDefined();
  });

  it.each([
    ['a command that does not exist', 127, ['--network', 'none', image, '/nonexistent'], /stat \/nonexistent: no such file or directory/],
    ['a command not in PATH', 127, ['--network', 'none', image, 'nosuchcmd'], /exec: "nosuchcmd": executable file not found in \$PATH/],
    ['a directory as the command', 126, ['--network', 'none', image, '/etc'], /exec: "\/etc": permission denied/],
    ['`--` after IMAGE (it is the command)', 127, ['--network', 'none', image, '--', 'sh'], /exec: "--": executable file not found/],
    ['an option after IMAGE (it is the command)', 127, ['--network', 'none', image, '--rm', 'true'], /exec: "--rm": executable file not found/],
    ['a network the engine does not know', 125, ['--network', 'resolver-no-such-net', image, 'true'], /network resolver-no-such-net not found/],
    ['a bind mount with a bad mode', 125, ['--network', 'none', '-v', '/x:/y:zz', image, 'true'], /invalid mode: zz/],
  ] as [string, number, string[], RegExp][])('%s: exit %i with the engine’s message, at once; --rm leaves nothing, without --rm what docker leaves', async (_what, code, args, message) => {
    for (const rm of [true, false]) {
      const full = rm ? ['--rm', ...args] : args;
      const before = await containerIds();
      const ours = await resolverRun(full);
      const oursLeft = await createdSince(before);
      await removeAll(oursLeft);
      const theirs = await dockerRun(full);
      const theirsLeft = await createdSince(before);
      await removeAll(theirsLeft);

      expect(ours.code, ours.stderr).toBe(code);
      expect(theirs.code, theirs.stderr).toBe(code);
      expect(ours.ms).toBeLessThan(15_000);
      expect(ours.stdout).toBe('');
      expect(errorLine(ours.stderr, 'resolver')).toMatch(/^Error response from daemon: /);
      expect(errorLine(ours.stderr, 'resolver')).toMatch(message);
      expect(errorLine(ours.stderr, 'resolver')).toBe(errorLine(theirs.stderr, 'docker'));
      expect(oursLeft.length, `--rm=${rm}`).toBe(theirsLeft.length);
      if (rm) expect(oursLeft).toEqual([]);
    }
  });

  it('a start failure without --rm leaves the created container, as docker does', async () => {
    const before = await containerIds();
    const r = await resolverRun(['--network', 'none', image, '/nonexistent']);
    const left = await createdSince(before);
    expect(r.code).toBe(127);
    expect(left).toHaveLength(1);
    const c = await api?.get(`/containers/${left[0] ?? ''}/json`);
    expect(c?.json.State.Status).toBe('created');
    await removeAll(left);
  });

  it('-d prints the container ID, also when the start then fails (127); with --rm nothing stays', async () => {
    for (const rm of [false, true]) {
      const before = await containerIds();
      const r = await resolverRun([...(rm ? ['--rm'] : []), '-d', '--network', 'none', image, '/nonexistent']);
      const left = await createdSince(before);
      expect(r.code, r.stderr).toBe(127);
      expect(r.stdout).toMatch(/^[0-9a-f]{64}\n$/);
      expect(left).toEqual(rm ? [] : [r.stdout.trim()]);
      await removeAll(left);
    }
    const ok = await resolverRun(['-d', '--rm', '--network', 'none', image, 'sh', '-c', 'exit 0']);
    expect(ok.code).toBe(0);
    const id = ok.stdout.trim();
    // -d --rm: the engine removes the container when it exits (AutoRemove), as with docker run -d --rm.
    const deadline = Date.now() + 20_000;
    while ((await api?.get(`/containers/${id}/json`))?.status === 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect((await api?.get(`/containers/${id}/json`))?.status).toBe(404);
  });

  it('--name of an existing container: 125 with docker’s conflict message', async () => {
    const name = `resolver-conflict-${process.pid}`;
    const created = await api?.postJson(`/containers/create?name=${name}`, { Image: image, Cmd: ['true'] });
    try {
      const ours = await resolverRun(['--rm', '--name', name, '--network', 'none', image, 'true']);
      const theirs = await dockerRun(['--rm', '--name', name, '--network', 'none', image, 'true']);
      expect(ours.code).toBe(125);
      expect(theirs.code).toBe(125);
      expect(errorLine(ours.stderr, 'resolver')).toContain(`Conflict. The container name "/${name}" is already in use by container "${created.Id}"`);
      expect(errorLine(ours.stderr, 'resolver')).toBe(errorLine(theirs.stderr, 'docker'));
    } finally {
      await api?.del(`/containers/${created.Id}?force=1`);
    }
  });

  it('-it without a terminal: docker’s error, exit 1, nothing created', async () => {
    const before = await containerIds();
    const ours = await resolverRun(['--rm', '-it', image, 'true']);
    const theirs = await dockerRun(['--rm', '-it', image, 'true']);
    expect(ours.code).toBe(1);
    expect(theirs.code).toBe(1);
    expect(ours.stderr).toBe('resolver: the input device is not a TTY\n');
    expect(theirs.stderr).toContain('the input device is not a TTY');
    expect(await createdSince(before)).toEqual([]);
  });

  it('usage errors exit as docker run’s: an unknown option 125, no IMAGE 1; --help 0', async () => {
    for (const [args, code] of [[['--resolver-bogus', image, 'true'], 125], [[], 1]] as [string[], number][]) {
      const ours = await timed(process.execPath, [cliPath, 'run', ...args], {});
      const theirs = await dockerRun(args);
      expect(ours.code, ours.stderr).toBe(code);
      expect(theirs.code, theirs.stderr).toBe(code);
    }
    expect((await timed(process.execPath, [cliPath, 'run', '--help'], {})).code).toBe(0);
  });

  it('a bad --pull value and a failure before the container exists exit 125', async () => {
    const bad = await resolverRun(['--pull', 'sometimes', image, 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain(`invalid pull option: 'sometimes'`);
    const nomatch = await resolverRun(['--rm', '--platform', 'linux/arm64', `${s.anonymous}/nomatch:latest`]);
    expect(nomatch.code).toBe(125);
    expect(nomatch.stderr).toContain('no matching manifest for linux/arm64');
    const absent = await resolverRun(['--rm', `${s.anonymous}/does-not-exist:latest`, 'true']);
    const theirs = await dockerRun(['--rm', `${s.anonymous}/does-not-exist:latest`, 'true']);
    expect(absent.code).toBe(125);
    expect(theirs.code).toBe(125);
  });

  it('options before IMAGE are resolver’s, `--` before IMAGE ends them; the container’s own options pass through', async () => {
    const r = await resolverRun(['--rm', '--network', 'none', '--', image, 'sh', '-c', 'echo "$0 $1"', '-e', '--rm']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('-e --rm\n');
    const help = await timed(process.execPath, [cliPath, 'run', '--help'], {});
    expect(help.stdout).toMatch(/^Usage: resolver run \[OPTIONS\] IMAGE \[COMMAND\] \[ARG\.\.\.\]$/m);
  });

  it('-e KEY with KEY unset leaves it unset, with KEY set passes its value: Config.Env as docker’s', async () => {
    const names = [`resolver-env-${process.pid}`, `docker-env-${process.pid}`];
    const args = (name: string): string[] => ['--name', name, '--network', 'none', '-e', 'RESOLVER_UNSET', '-e', 'RESOLVER_SET', '-e', 'EMPTY=', '-e', 'GIVEN=x=y', image, 'env'];
    const extra = { RESOLVER_SET: 'from the caller' };
    try {
      const ours = await resolverRun(args(names[0] ?? ''), extra);
      const theirs = await dockerRun(args(names[1] ?? ''), extra);
      expect(ours.code, ours.stderr).toBe(0);
      expect(theirs.code, theirs.stderr).toBe(0);
      const seen = `resolver: ${JSON.stringify(ours)}\ndocker: ${JSON.stringify(theirs)}`;
      expect(ours.stdout, seen).toContain('RESOLVER_SET=from the caller\n');
      expect(ours.stdout, seen).toContain('EMPTY=\n');
      expect(ours.stdout, seen).toContain('GIVEN=x=y\n');
      expect(ours.stdout, seen).not.toContain('RESOLVER_UNSET');
      const env = async (name: string): Promise<string[]> => ((await api?.get(`/containers/${name}/json`))?.json.Config.Env as string[]).toSorted();
      expect(await env(names[0] ?? ''), seen).toEqual(await env(names[1] ?? ''));
      // Sorted: the docker CLI passes -e values through a Go map, so their order changes from run to run.
      const lines = (out: string): string[] => out.split('\n').filter((l) => !l.startsWith('HOSTNAME=')).toSorted();
      expect(lines(theirs.stdout), seen).toEqual(lines(ours.stdout));
    } finally {
      for (const n of names) await api?.del(`/containers/${n}?force=1`);
    }
  });

  it.each([['SIGHUP', 41], ['SIGUSR1', 42], ['SIGTERM', 43]] as const)('forwards %s to the container and exits with its code', async (signal, code) => {
    const trap = `trap "echo got ${signal.slice(3)}; exit ${code}" ${signal.slice(3)}; echo ready; while true; do sleep 0.1; done`;
    const child = spawn(process.execPath, [cliPath, 'run', '--rm', '-q', '--network', 'none', image, 'sh', '-c', trap], { env: { PATH: process.env['PATH'], HOME: process.env['HOME'], ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    let out = '';
    await new Promise<void>((resolve) => child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('ready')) resolve();
    }));
    child.kill(signal);
    const exit = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(timer);
    expect(exit).toBe(code);
    expect(out).toBe(`ready\ngot ${signal.slice(3)}\n`);
  });
});
