/**
 * The built daemon as a child process for e2e tests: its JSON log lines parsed as they arrive, and a
 * deadline-bound `until`. (daemon-control and notify-daemon still have their own copies: to switch when
 * their owners next touch them.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { cliPath } from './cli.js';

/** A running daemon. */
export interface DaemonProcess {
  readonly child: ChildProcess;
  readonly logs: () => Record<string, unknown>[];
  readonly exited: Promise<number | null>;
  /** SIGTERM, then the exit code (SIGKILL after 15 s). */
  stop(): Promise<number | null>;
}

/** Starts `resolver daemon --config FILE` with a minimal environment plus `env`. */
export function startDaemon(config: string, env: Record<string, string> = {}): DaemonProcess {
  const child = spawn(process.execPath, [cliPath, 'daemon', '--config', config], { env: { PATH: process.env['PATH'], HOME: process.env['HOME'], ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const parsed: Record<string, unknown>[] = [];
  const feed = (): ((c: Buffer) => void) => {
    let rest = '';
    return (c) => {
      const lines = (rest + c.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) parsed.push(l.startsWith('{') ? (JSON.parse(l) as Record<string, unknown>) : { text: l });
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

/** Polls `probe` until it gives a value (not undefined/false), or fails naming `what` after `timeoutMs`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(everyMs);
  }
}
