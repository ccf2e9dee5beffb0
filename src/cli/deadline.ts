/**
 * One overall deadline per command (13.23). The registry client bounds each operation (a HEAD, a GET, all
 * their tries and backoffs) by its own deadline, so a registry that trickles every body just under it kept
 * `which` busy for the sum: three operations of a minute each. A command's registry work now runs under one
 * deadline: `--timeout DURATION`, else `RESOLVER_TIMEOUT`, else 60 s; `0` turns it off. Like docker's client
 * timeouts (`docker stop --timeout`, compose's `COMPOSE_HTTP_TIMEOUT`) it is a number of seconds or a
 * duration (`90s`, `5m`). When it passes, the command fails with exit 6 (a network error) naming the deadline
 * and how to raise it; pending work is abandoned at once (undici cannot cancel a connect in progress, so the
 * command does not wait for one).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { durationToMs } from '../duration/duration.js';
import { ResolverError } from '../errors.js';
import { withDeadline, type DeadlineSpec } from '../limit/deadline.js';

/** The deadline when neither `--timeout` nor `RESOLVER_TIMEOUT` is given. */
export const defaultCommandTimeoutMs = 60_000;

/** The environment variable that sets the default deadline. */
export const timeoutVariable = 'RESOLVER_TIMEOUT';

// Node's timers cannot arm more than 2^31-1 ms (about 24.8 days).
const maxTimeoutMs = 2 ** 31 - 1;

/** Parses `30` (seconds), `500ms`, `90s`, `5m`, `1h` or `0` (no deadline) to milliseconds; undefined when invalid. */
export function timeoutMs(value: string): number | undefined {
  const ms = durationToMs(value, { bareSeconds: true });
  return ms === undefined || ms > maxTimeoutMs ? undefined : ms;
}

const accepted = 'a number of seconds or a duration such as 90s, 5m or 1h (0: no deadline; at most about 24 days)';

/** `--timeout DURATION`: the command's overall deadline. The parsed value is `timeout: number` (ms). */
export function addTimeoutOption(cmd: Command, what: string): Command {
  return cmd.option('--timeout <duration>', `give up on ${what} after this long (default $${timeoutVariable}, else 60s; 0: none)`, (value: string) => {
    const ms = timeoutMs(value);
    if (ms === undefined) throw new InvalidArgumentError(`use ${accepted} (got "${value}")`);
    return ms;
  });
}

/** The deadline in ms: the flag, else `RESOLVER_TIMEOUT`, else 60 s. @throws ResolverError ERR_USAGE for a bad variable. */
export function commandTimeoutMs(flag: number | undefined, env: Readonly<Record<string, string | undefined>>): number {
  if (flag !== undefined) return flag;
  const value = env[timeoutVariable];
  if (value === undefined || value === '') return defaultCommandTimeoutMs;
  const ms = timeoutMs(value);
  if (ms === undefined) throw new ResolverError('ERR_USAGE', `${timeoutVariable}="${value}" is not a timeout`, { details: [`set it to ${accepted}, or unset it`] });
  return ms;
}

/** The deadline error of a command whose deadline of `ms` passed while doing `what` (ERR_NETWORK, exit 6). */
export function commandDeadline(what: string, ms: number): DeadlineSpec {
  return {
    what, code: 'ERR_NETWORK', message: `${what} did not finish within ${ms / 1000} s (the command's deadline)`,
    details: [`raise it with --timeout (e.g. --timeout 5m) or ${timeoutVariable}; 0 means no deadline`],
  };
}

/**
 * Runs `work` under one deadline of `ms` (0: none), linked to `outer` (SIGINT/SIGTERM). When the deadline
 * passes first, `work`'s signal aborts and the returned promise rejects at once with a `DeadlineError` (by
 * default `commandDeadline(what)`), whatever `work` is still waiting for. An interruption stays the work's
 * own failure (ERR_ABORTED), not a deadline.
 */
export function withinDeadline<T>(ms: number, outer: AbortSignal | undefined, what: string | DeadlineSpec, work: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
  if (ms <= 0) return work(outer);
  return withDeadline(work, ms, { ...(typeof what === 'string' ? commandDeadline(what, ms) : what), signal: outer });
}
