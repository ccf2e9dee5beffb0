/**
 * Hooks (issue 11 §2): a command run on `pulled`, `activated`, `held`, `failed` … for one image or for all,
 * without a shell, with the notification's fields in `RESOLVER_*` environment variables (docs/notifications.md)
 * on top of the daemon's own environment. A hook runs in its own process group; at its timeout the group
 * gets SIGTERM, and SIGKILL 5 s later. Its exit code, duration and output (at most 4 KiB of each stream,
 * secrets redacted) are logged. Hooks run one at a time, in event order, off the check path; a hook that
 * fails, hangs or cannot start is logged and never stops the daemon. They are not persisted: a hook is a
 * local action of this moment, and one missed during a restart is not run later.
 */
import { spawn } from 'node:child_process';
import type { Logger } from '../log/logger.js';
import { settleWithin } from '../limit/deadline.js';
import { formatReference, parseReference, withDefaultTag } from '../reference/reference.js';
import type { HookConfig } from './config.js';
import { durationMs } from './config.js';
import type { Notification } from './notification.js';

/** Bytes of stdout and of stderr kept for the log. */
export const hookOutputLimit = 4096;

/** The environment variables a hook gets for a notification. */
export function hookEnvironment(n: Notification, host: string): Record<string, string> {
  const env: Record<string, string> = {
    RESOLVER_EVENT: n.kind,
    RESOLVER_EVENT_ID: n.id,
    RESOLVER_AT: n.at,
    RESOLVER_HOST: host,
    RESOLVER_IMAGE: n.image,
    RESOLVER_PLATFORM: n.platform,
    RESOLVER_STATUS: n.state.status,
  };
  const optional: Record<string, string | number | undefined> = {
    RESOLVER_OLD_DIGEST: n.oldDigest,
    RESOLVER_NEW_DIGEST: n.newDigest,
    RESOLVER_INDEX_DIGEST: n.indexDigest,
    RESOLVER_CHILD_DIGEST: n.state.childDigest,
    RESOLVER_SIZE: n.size,
    RESOLVER_MESSAGE: n.message,
    RESOLVER_ERROR_CODE: n.code,
    RESOLVER_FAILURES: n.failures,
  };
  for (const [k, v] of Object.entries(optional)) if (v !== undefined) env[k] = String(v);
  return env;
}

/** How a hook ended. */
export interface HookResult {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly durationMs: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Set when the command could not start (ENOENT, EACCES). */
  readonly error?: string | undefined;
}

function bounded(): { push(chunk: Buffer): void; text(): string } {
  const parts: Buffer[] = [];
  let size = 0;
  let cut = false;
  return {
    push(chunk) {
      if (size >= hookOutputLimit) {
        cut = true;
        return;
      }
      const part = chunk.subarray(0, hookOutputLimit - size);
      if (part.length < chunk.length) cut = true;
      parts.push(part);
      size += part.length;
    },
    text: () => `${Buffer.concat(parts).toString('utf8')}${cut ? '…[truncated]' : ''}`,
  };
}

/** Runs one command to its end (or its timeout); never rejects. */
export function runHook(command: readonly string[], env: Readonly<Record<string, string | undefined>>, timeoutMs: number, killGraceMs = 5000): Promise<HookResult> {
  const started = performance.now();
  const [file, ...args] = command;
  return new Promise((resolve) => {
    const out = bounded();
    const err = bounded();
    let timedOut = false;
    let settled = false;
    const child = spawn(file ?? '', args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const killGroup = (signal: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // Already gone.
      }
    };
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), killGraceMs);
    }, timeoutMs);
    const finish = (result: Omit<HookResult, 'durationMs' | 'stdout' | 'stderr' | 'timedOut'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (killTimer !== undefined) clearTimeout(killTimer);
      // Whatever the hook left running in its group goes with it.
      killGroup('SIGKILL');
      resolve({ ...result, timedOut, durationMs: Math.round(performance.now() - started), stdout: out.text(), stderr: err.text() });
    };
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => finish({ exitCode: null, signal: null, error: e.message }));
    child.on('close', (code, signal) => finish({ exitCode: code, signal }));
  });
}

/** Runs the configured hooks for notifications, one at a time, in order. */
export class HookRunner {
  readonly #logger: Logger;
  readonly #host: string;
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #redact: (text: string) => string;
  #hooks: readonly { name: string; config: HookConfig; image: string | undefined }[] = [];
  #chain: Promise<void> = Promise.resolve();
  #pending = 0;
  #closed = false;

  constructor(deps: { logger: Logger; host: string; env: Readonly<Record<string, string | undefined>>; redact: (text: string) => string }) {
    this.#logger = deps.logger;
    this.#host = deps.host;
    this.#env = deps.env;
    this.#redact = deps.redact;
  }

  /** Sets the hooks (start and reload). */
  configure(hooks: readonly HookConfig[]): void {
    this.#hooks = hooks.map((config, i) => ({ name: config.name ?? `hook-${i + 1}`, config, image: config.image === undefined ? undefined : canonical(config.image) }));
  }

  /** Queues the hooks a notification triggers. */
  push(n: Notification): void {
    if (this.#closed) return;
    for (const hook of this.#hooks) {
      if (!(hook.config.events as readonly string[]).includes(n.kind)) continue;
      if (hook.image !== undefined && hook.image !== n.image) continue;
      if (this.#pending >= 100) {
        this.#logger.warn({ hook: hook.name, event: n.kind, image: n.image }, 'too many hooks waiting; this one is skipped');
        continue;
      }
      this.#pending++;
      this.#chain = this.#chain.then(() => this.#run(hook.name, hook.config, n)).finally(() => this.#pending--);
    }
  }

  async #run(name: string, config: HookConfig, n: Notification): Promise<void> {
    if (this.#closed) return;
    const r = await runHook(config.command, { ...this.#env, ...hookEnvironment(n, this.#host) }, durationMs(config.timeout));
    const fields = {
      hook: name, event: n.kind, image: n.image, platform: n.platform, exitCode: r.exitCode, signal: r.signal ?? undefined, durationMs: r.durationMs,
      stdout: r.stdout === '' ? undefined : this.#redact(r.stdout), stderr: r.stderr === '' ? undefined : this.#redact(r.stderr),
    };
    if (r.error !== undefined) this.#logger.error({ ...fields, err: this.#redact(r.error) }, 'hook could not start');
    else if (r.timedOut) this.#logger.error(fields, 'hook timed out; its process group was killed');
    else if (r.exitCode !== 0) this.#logger.warn(fields, 'hook failed');
    else this.#logger.info(fields, 'hook ran');
  }

  /** Waits for queued hooks (at most `deadlineMs`), then runs no more. */
  async close(deadlineMs: number): Promise<void> {
    await settleWithin(this.#chain, deadlineMs);
    this.#closed = true;
  }
}

function canonical(image: string): string {
  try {
    return formatReference(withDefaultTag(parseReference(image)));
  } catch {
    return image;
  }
}
