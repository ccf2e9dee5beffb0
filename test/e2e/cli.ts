/** Runs the built CLI as a user would. */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

export const cliPath = resolve('bin/resolver.cjs');

/** Output of one run. */
export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Every captured output, for the secret-canary checks. */
export const transcript: string[] = [];

/** Runs `node dist/cli/main.js ...args` with `env` added to a minimal environment. */
export function cli(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      env: { PATH: process.env['PATH'], HOME: process.env['HOME'], DOCKER_HOST: 'unix:///nonexistent/docker.sock', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      transcript.push(stdout, stderr);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** One program run and how long it took (ms). */
export interface TimedRun extends CliRun {
  readonly ms: number;
}

/**
 * Runs `file args` with `env` added to PATH and HOME, killed with SIGKILL after `deadlineMs`: a command that
 * hangs fails its test instead of stalling the suite.
 */
export function runWithin(file: string, args: readonly string[], env: Record<string, string | undefined>, deadlineMs: number): Promise<TimedRun> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(file, args, { env: { PATH: process.env['PATH'], HOME: process.env['HOME'], ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}
