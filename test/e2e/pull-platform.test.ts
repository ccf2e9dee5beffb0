/**
 * `pull --platform` and `run --platform` of a single-platform image of another platform (the harness's
 * `single`, linux/arm64, on these amd64 engines), resolver side by side with the real docker CLI on the same
 * private engines: Debian 12's dockerd 20.10 (warns, exit 0), Debian 13's 26.1.5 (fails the pull after
 * tagging the image), and 26.1.5 with the containerd image store (no check at all). The warning line is
 * docker's word for word (docker pull prints its stream on stdout, resolver its progress on stderr), the
 * error too; exit codes: docker pull's 0 is resolver's 0, its 1 for this platform failure is resolver's 3
 * (README, exit codes); docker run's 125/126 are resolver run's. Every command runs under a deadline.
 */
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { cliPath, runWithin, type TimedRun } from './cli.js';

const s = inject('services');
const dockerCli = ['/usr/local/bin/docker', '/usr/bin/docker'].find((p) => existsSync(p));
const image = `${s.anonymous}/single:latest`;

type Outcome = TimedRun;

const timed = (file: string, args: readonly string[], env: Record<string, string>, deadlineMs = 90_000): Promise<Outcome> => runWithin(file, args, env, deadlineMs);

/** The `WARNING: …` lines of an output. */
const warnings = (text: string): string[] => text.split('\n').filter((l) => l.startsWith('WARNING: '));
/** The error after the program's prefix (`docker: …`, `resolver: …`), or docker pull's bare error line. */
const errorOf = (stderr: string, prefix: string): string | undefined => {
  const lines = stderr.split('\n').filter((l) => l !== '');
  const prefixed = lines.find((l) => l.startsWith(`${prefix}: `));
  return prefixed === undefined ? lines.at(-1) : prefixed.slice(prefix.length + 2).replace(/^Error response from daemon: /, '');
};

const engines = [
  ['dockerd 20.10 (classic store)', s.engine],
  ['dockerd 26.1.5 (classic store)', s.oracle],
  ['dockerd 26.1.5 (containerd store)', s.containerdStore],
] as const;

describe.each(engines)('%s: --platform and a single-platform image of another platform', (name, host) => {
  const present = host !== undefined && dockerCli !== undefined;
  let env: Record<string, string> = {};
  const docker = (args: readonly string[]): Promise<Outcome> => timed(dockerCli ?? 'docker', args, env);
  const resolver = (args: readonly string[]): Promise<Outcome> => timed(process.execPath, [cliPath, ...args], env);
  /** Runs `args` with the image removed first (a fresh pull each time). */
  const fresh = async (run: (args: readonly string[]) => Promise<Outcome>, args: readonly string[]): Promise<Outcome> => {
    await docker(['rmi', '-f', image]);
    return run(args);
  };
  const arch = async (): Promise<string> => (await docker(['image', 'inspect', '--format', '{{.Architecture}}', image])).stdout.trim();

  it.runIf(present || process.env['CI'] === 'true')('setup', async () => {
    expect(host, `${name} must run in CI`).toBeDefined();
    expect(dockerCli, 'a docker CLI').toBeDefined();
    const dir = await mkdtemp(join(s.tmp, 'pull-platform-'));
    env = { DOCKER_HOST: host ?? '', DOCKER_CONFIG: join(dir, 'docker'), RESOLVER_STATE_DIR: join(dir, 'state'), RESOLVER_RUN_DAEMON_TIMEOUT_MS: '0' };
  });

  it.runIf(present)('pull --platform linux/amd64: the same warning or error, the same success, the image pulled and tagged either way', async () => {
    const theirs = await fresh(docker, ['pull', '--platform', 'linux/amd64', image]);
    const theirArch = await arch();
    const ours = await fresh(resolver, ['pull', '--platform', 'linux/amd64', image]);
    expect(await arch()).toBe(theirArch);
    expect(theirArch).toBe('arm64');
    expect(ours.code === 0, `docker exited ${theirs.code}: ${theirs.stderr}; resolver ${ours.code}: ${ours.stderr}`).toBe(theirs.code === 0);
    expect(warnings(ours.stderr)).toEqual(warnings(theirs.stdout));
    if (theirs.code === 0) return;
    expect(ours.code).toBe(3);
    expect(errorOf(ours.stderr, 'resolver')).toBe(errorOf(theirs.stderr, 'docker'));
  });

  it.runIf(present)('pull -q --platform: the warning goes with the stream, as docker pull -q drops it', async () => {
    const theirs = await fresh(docker, ['pull', '-q', '--platform', 'linux/amd64', image]);
    const ours = await fresh(resolver, ['pull', '-q', '--platform', 'linux/amd64', image]);
    expect(ours.code === 0).toBe(theirs.code === 0);
    expect(warnings(ours.stderr)).toEqual(warnings(theirs.stdout + theirs.stderr));
  });

  it.runIf(present)('pull without --platform: no warning, exit 0, from both', async () => {
    const theirs = await fresh(docker, ['pull', image]);
    const ours = await fresh(resolver, ['pull', image]);
    expect([theirs.code, ours.code]).toEqual([0, 0]);
    expect([warnings(theirs.stdout + theirs.stderr), warnings(ours.stderr)]).toEqual([[], []]);
  });

  it.runIf(present)('run --platform linux/amd64: the pull\'s warning, if any, then exit 125 and the engine\'s refusal', async () => {
    const theirs = await fresh(docker, ['run', '--rm', '--network', 'none', '--platform', 'linux/amd64', image, '/s']);
    const ours = await fresh(resolver, ['run', '--rm', '--network', 'none', '--platform', 'linux/amd64', image, '/s']);
    expect([ours.code, theirs.code], `docker: ${theirs.stderr}\nresolver: ${ours.stderr}`).toEqual([125, 125]);
    expect(warnings(ours.stderr)).toEqual(warnings(theirs.stderr));
    // docker run names the image by its tag, resolver by the child digest it pinned.
    const name = (e: string | undefined): string | undefined => e?.replace(/(\/single)(:latest|@sha256:[0-9a-f]{64})/g, '$1:REF');
    expect(name(errorOf(ours.stderr, 'resolver'))).toBe(name(errorOf(theirs.stderr, 'docker')));
  });

  it.runIf(present)('run --platform linux/arm64 (the image\'s own): no platform warning from either; the same start failure (126)', async () => {
    const theirs = await fresh(docker, ['run', '--rm', '--network', 'none', '--platform', 'linux/arm64', image, '/s']);
    const ours = await fresh(resolver, ['run', '--rm', '--network', 'none', '--platform', 'linux/arm64', image, '/s']);
    expect([ours.code, theirs.code], `docker: ${theirs.stderr}\nresolver: ${ours.stderr}`).toEqual([126, 126]);
    expect([warnings(theirs.stderr), warnings(ours.stderr)]).toEqual([[], []]);
  });

  it.runIf(present)('run without --platform: the engine\'s "no specific platform was requested" warning, word for word', async () => {
    const theirs = await fresh(docker, ['run', '--rm', '--network', 'none', image, '/s']);
    const ours = await fresh(resolver, ['run', '--rm', '--network', 'none', image, '/s']);
    expect([ours.code, theirs.code]).toEqual([126, 126]);
    expect(warnings(theirs.stderr)).toEqual([expect.stringMatching(/^WARNING: The requested image's platform \(linux\/arm64\) does not match the detected host platform \(linux\/amd64[^)]*\) and no specific platform was requested$/)]);
    expect(warnings(ours.stderr)).toEqual(warnings(theirs.stderr));
    await docker(['rmi', '-f', image]);
  });
});
