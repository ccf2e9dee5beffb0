/**
 * The built daemon as a child process for e2e tests: its JSON log lines parsed as they arrive, and a
 * deadline-bound `until` (or `poller`, for a file's own default deadline and poll interval).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { cliPath } from './cli.js';

/** A running daemon. */
export interface DaemonProcess {
  readonly child: ChildProcess;
  /** The JSON log lines so far (a line that is not JSON as `{ text }`). */
  readonly logs: () => Record<string, any>[];
  readonly exited: Promise<number | null>;
  /** SIGTERM, then the exit code (SIGKILL after 15 s). */
  stop(): Promise<number | null>;
}

/** How to start the daemon's process besides its environment. */
export interface DaemonProcessOptions {
  /** Flags of node before the CLI, e.g. heap limits (`--max-old-space-size=64`). */
  readonly nodeFlags?: readonly string[];
}

/**
 * Starts `resolver daemon --config FILE` with a minimal environment (PATH, HOME) plus `env`: e.g. libfaketime's
 * `fakeClock(file)`, or a webhook secret.
 */
export function startDaemon(config: string, env: Record<string, string> = {}, options: DaemonProcessOptions = {}): DaemonProcess {
  const args = [...(options.nodeFlags ?? []), cliPath, 'daemon', '--config', config];
  const child = spawn(process.execPath, args, { env: { PATH: process.env['PATH'], HOME: process.env['HOME'], ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  // Parsed as lines arrive (1,000s of reloads would make re-parsing everything at each poll quadratic).
  const parsed: Record<string, any>[] = [];
  const feed = (): ((c: Buffer) => void) => {
    let rest = '';
    return (c) => {
      const lines = (rest + c.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) parsed.push(l.startsWith('{') ? (JSON.parse(l) as Record<string, any>) : { text: l });
    };
  };
  child.stdout.on('data', feed());
  child.stderr.on('data', feed());
  const exited = new Promise<number | null>((r) => child.on('close', r));
  return {
    child, exited, logs: () => parsed,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** What `until` polls: a value ends the wait; undefined or false polls again. */
export type Probe<T> = () => Promise<T | undefined | false> | T | undefined | false;

/** Polls `probe` until it gives a value (not undefined/false), or fails naming `what` after `timeoutMs`. */
export async function until<T>(what: string, probe: Probe<T>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(everyMs);
  }
}

/** An `until` with this file's default deadline and poll interval. */
export function poller(defaults: { timeoutMs: number; everyMs: number }): <T>(what: string, probe: Probe<T>, timeoutMs?: number) => Promise<T> {
  return (what, probe, timeoutMs = defaults.timeoutMs) => until(what, probe, timeoutMs, defaults.everyMs);
}

/** The libfaketime library of this machine, if installed. */
export const libfaketime = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1'].find((p) => existsSync(p));

/**
 * The environment that runs the daemon under libfaketime with its wall clock read from `clockFile` on every
 * call (write `+0`, `+30d`, ... there), monotonic time left real.
 */
export function fakeClock(clockFile: string, library = libfaketime ?? ''): Record<string, string> {
  return { LD_PRELOAD: library, FAKETIME_TIMESTAMP_FILE: clockFile, FAKETIME_NO_CACHE: '1', DONT_FAKE_MONOTONIC: '1' };
}

/** The daemon's log lines with this `msg`. */
export const messages = (d: DaemonProcess, msg: string): Record<string, any>[] => d.logs().filter((l) => l['msg'] === msg);
