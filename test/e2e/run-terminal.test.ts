/**
 * `resolver run` as a person at a terminal meets it, side by side with the docker CLI on the same private
 * dockerd: `-t` sizes the container's terminal (read back with `stty size` inside a real pty made by
 * util-linux `script`), the third Ctrl-C gives up on a container that ignores SIGINT, the engine's
 * platform-mismatch warning, an empty `--platform`, and the help text. Every command runs under a deadline.
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
const dockerCli = ['/usr/local/bin/docker', '/usr/bin/docker'].find((p) => existsSync(p));
const image = `${s.anonymous}/super-golang:latest`;
let env: Record<string, string> = {};

type Outcome = TimedRun;

const timed = (file: string, args: readonly string[], extraEnv: Record<string, string> = {}, deadlineMs = 60_000): Promise<Outcome> => runWithin(file, args, { ...env, ...extraEnv }, deadlineMs);

const shellQuote = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;

/** Runs `argv` inside a fresh 100x30 pty (util-linux script); returns what the terminal showed. */
function inPty(argv: readonly string[]): Promise<Outcome> {
  const inner = `stty cols 100 rows 30; ${argv.map(shellQuote).join(' ')}`;
  return timed('script', ['-qec', inner, '/dev/null']);
}

/** Polls the engine until the container `name` runs (deadline 30 s). */
async function running(name: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if ((await api?.get(`/containers/${name}/json`))?.json?.State?.Running === true) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`container ${name} did not start within 30 s`);
}

/** Starts `file args` (a run of `sleep 100` named `name`), sends SIGINT three times once it runs, and returns the outcome. */
async function interruptThrice(file: string, args: readonly string[], name: string): Promise<Outcome & { ms: number }> {
  const child = spawn(file, args, { env: { PATH: process.env['PATH'], HOME: process.env['HOME'], ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  await running(name);
  const started = performance.now();
  for (let i = 0; i < 3; i++) {
    child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 300));
  }
  const code = await closed;
  clearTimeout(timer);
  return { code, stdout, stderr, ms: performance.now() - started };
}

beforeAll(async () => {
  const stateDir = await mkdtemp(join(s.tmp, 'run-terminal-'));
  const dockerConfig = await mkdtemp(join(s.tmp, 'run-terminal-docker-'));
  env = { DOCKER_HOST: dockerHost ?? '', RESOLVER_STATE_DIR: stateDir, DOCKER_CONFIG: dockerConfig };
  const pull = await timed(process.execPath, [cliPath, 'pull', '-q', image]);
  expect(pull.code, pull.stderr).toBe(0);
});
afterAll(async () => {
  await api?.close();
});

describe.runIf(dockerHost !== undefined || process.env['CI'] === 'true')('resolver run at a terminal', () => {
  it('-t sizes the container’s terminal as docker does (stty size inside a 100x30 pty)', async () => {
    const command = ['--rm', '-it', '--network', 'none', image, 'sh', '-c', 'sleep 1; stty size'];
    const ours = await inPty([process.execPath, cliPath, 'run', '-q', ...command]);
    const theirs = await inPty([dockerCli ?? 'docker', 'run', ...command]);
    expect(theirs.stdout, theirs.stderr).toMatch(/\b30 100\r?$/m);
    expect(ours.stdout, ours.stderr).toMatch(/\b30 100\r?$/m);
    expect(ours.code).toBe(0);
  });

  it('the third SIGINT makes it give up on a container that ignores them: docker’s line, exit 1, the container left running as docker leaves it', async () => {
    const names = [`resolver-int-${process.pid}`, `docker-int-${process.pid}`];
    try {
      const args = (name: string): string[] => ['--rm', '--name', name, '--network', 'none', image, 'sleep', '100'];
      const ours = await interruptThrice(process.execPath, [cliPath, 'run', '-q', ...args(names[0] ?? '')], names[0] ?? '');
      const theirs = await interruptThrice(dockerCli ?? 'docker', ['run', ...args(names[1] ?? '')], names[1] ?? '');
      expect(theirs.code, theirs.stderr).toBe(1);
      expect(theirs.stderr).toContain('got 3 SIGTERM/SIGINTs, forcefully exiting\n');
      expect(ours.code, ours.stderr).toBe(1);
      expect(ours.stderr).toBe('got 3 SIGTERM/SIGINTs, forcefully exiting\n');
      expect(ours.ms).toBeLessThan(20_000);
      for (const name of names) expect((await api?.get(`/containers/${name}/json`))?.json?.State?.Running, name).toBe(true);
    } finally {
      for (const name of names) await api?.del(`/containers/${name}?force=1`);
    }
  });

  it('an image whose platform is not the host’s: the engine’s warning on stderr, as docker run prints it', async () => {
    const single = `${s.anonymous}/single:latest`;
    const ours = await timed(process.execPath, [cliPath, 'run', '-q', '--rm', '--network', 'none', single, 'true']);
    const theirs = await timed(dockerCli ?? 'docker', ['run', '--rm', '--network', 'none', single, 'true']);
    const warning = (text: string): string | undefined => text.split('\n').find((l) => l.startsWith('WARNING: '));
    expect(warning(theirs.stderr), theirs.stderr).toMatch(/^WARNING: The requested image's platform \(linux\/arm64\) does not match the detected host platform/);
    expect(warning(ours.stderr), ours.stderr).toBe(warning(theirs.stderr));
    expect(ours.stdout).not.toContain('WARNING');
  });

  it('an empty --platform is no platform (the host’s), also over DOCKER_DEFAULT_PLATFORM, as docker pull --platform ""', async () => {
    const plain = await timed(process.execPath, [cliPath, 'which', image]);
    expect(plain.code, plain.stderr).toBe(0);
    for (const extra of [{}, { DOCKER_DEFAULT_PLATFORM: 'linux/arm64' }] as Record<string, string>[]) {
      const empty = await timed(process.execPath, [cliPath, 'which', '--platform', '', image], extra);
      expect(empty.code, empty.stderr).toBe(0);
      expect(empty.stdout).toBe(plain.stdout);
    }
    const pull = await timed(process.execPath, [cliPath, 'pull', '-q', '--platform', '', image]);
    expect(pull.code, pull.stderr).toBe(0);
    const run = await timed(process.execPath, [cliPath, 'run', '-q', '--rm', '--network', 'none', '--platform', '', image, 'true']);
    expect(run.code, run.stderr).toBe(0);
  });

  it('--help: the description is whole sentences, the command list one short line', async () => {
    const help = await timed(process.execPath, [cliPath, 'run', '--help']);
    const description = (help.stdout.split('\n\n')[1] ?? '').replace(/\s+/g, ' ').trim();
    expect(description).toMatch(/125 .*126 .*127 /);
    expect(description).not.toMatch(/, else the container's$/);
    const top = await timed(process.execPath, [cliPath, '--help']);
    const line = top.stdout.split('\n').findIndex((l) => l.startsWith('  run '));
    expect(line).toBeGreaterThan(-1);
    // At most one continuation line under `run` in the command list.
    expect(top.stdout.split('\n')[line + 2]?.startsWith('  ') === true && !/^ {10,}/.test(top.stdout.split('\n')[line + 2] ?? '')).toBe(true);
  });
});
