/**
 * The one deadline race, written once (issue 14): "this work, but no longer than `ms`, and not after the
 * caller cancels". Before, each of the MQTT sink, discovery, the engine's events stream, the command
 * deadline, the daemon's check runner and the HTTP stack wrote its own timer, race and cleanup. Both helpers
 * clear their timer and remove their abort listener on every path (resolved, rejected, timed out, cancelled),
 * so a long-lived outer signal (the daemon's shutdown) collects nothing per request, and a deadline always
 * rejects with a `DeadlineError`: a `ResolverError` of the caller's code that names what timed out.
 *
 * - `deadlineSignal(ms, spec)`: a signal for work that reacts to its signal and is awaited to the end (an HTTP
 *   request, a check): it aborts with the `DeadlineError` at the deadline or with the outer reason.
 * - `withDeadline(work, ms, spec)`: the race, for work that may not react (an MQTT publish, a dockerode call):
 *   it rejects at the deadline at once, whatever the work still waits for; the work's signal aborts too.
 * - `settleWithin(work, ms)`: waits for `work` at most `ms`, and says whether it settled (a grace period).
 */
import { ResolverError, type ErrorCode } from '../errors.js';
import { linkAbort } from './abort.js';

// Node's timers cannot arm more than 2^31-1 ms (about 24.8 days); a longer one would fire at once.
const maxTimerMs = 2 ** 31 - 1;

/** What timed out, as the error says it. */
export interface DeadlineSpec {
  /** What was waited for: `listing containers`, `publishing to mqtt://broker:1883`. */
  readonly what: string;
  /** The error's stable code (what the deadline means to the caller: ERR_NETWORK, ERR_ENGINE_UNAVAILABLE, …). */
  readonly code: ErrorCode;
  /** The message; default `WHAT did not finish within S s`. */
  readonly message?: string;
  /** Lines shown under the message (what to do). */
  readonly details?: readonly string[];
}

/** The deadline of `what` (`ms`) passed. */
export class DeadlineError extends ResolverError {
  override name = 'DeadlineError';
  readonly what: string;
  readonly ms: number;

  constructor(spec: DeadlineSpec, ms: number) {
    super(spec.code, spec.message ?? `${spec.what} did not finish within ${ms / 1000} s`, spec.details === undefined ? {} : { details: spec.details });
    this.what = spec.what;
    this.ms = ms;
  }
}

/** The deadline and the outer signal. */
export interface DeadlineOptions extends DeadlineSpec {
  /** The caller's signal (shutdown, SIGINT): its abort aborts the work's signal with its reason. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Called with the error when `ms` passed before `clear()`: before the signal aborts with it, and also
   * after an outer abort (the signal then keeps the outer reason; the work may still be running).
   */
  readonly onTimeout?: (error: DeadlineError) => void;
}

/** A deadline's signal. */
export interface Deadline {
  /** Aborts with the `DeadlineError` at the deadline, or with the outer signal's reason. */
  readonly signal: AbortSignal;
  /** True once the deadline (not the outer signal) aborted `signal`. */
  readonly expired: boolean;
  /** Disarms the timer and unlinks the outer signal; call it when the work ends (again is harmless). */
  clear(): void;
}

/**
 * A signal that aborts after `ms` (with a `DeadlineError`) or when `options.signal` aborts (with its reason,
 * at once when it already has). `ms` of 2^31-1 or more (Infinity) arms no timer.
 */
export function deadlineSignal(ms: number, options: DeadlineOptions): Deadline {
  const controller = new AbortController();
  let expired = false;
  const unlink = linkAbort(options.signal, controller);
  const timer = ms >= maxTimerMs ? undefined : setTimeout(() => {
    unlink();
    const error = new DeadlineError(options, ms);
    options.onTimeout?.(error);
    if (controller.signal.aborted) return;
    expired = true;
    controller.abort(error);
  }, Math.max(0, ms));
  return {
    signal: controller.signal,
    get expired() {
      return expired;
    },
    clear() {
      clearTimeout(timer);
      unlink();
    },
  };
}

/** `withDeadline`'s options: the deadline's, and what an outer abort does. */
export interface WithDeadlineOptions extends DeadlineOptions {
  /**
   * When the outer signal aborts, reject at once with this error. Without it the returned promise settles as
   * the work does (its signal aborted: ending is the work's job), and the deadline still bounds it.
   */
  readonly onAbort?: (reason: unknown) => Error;
}

/**
 * Runs `work` (a promise, or a function given the deadline's signal) and settles as it does, but rejects with
 * a `DeadlineError` once `ms` passed (then the work's signal aborts with it) and, with `onAbort`, with that
 * error once the outer signal aborted. The work's late result or failure is dropped, never unhandled.
 */
export function withDeadline<T>(work: Promise<T> | ((signal: AbortSignal) => Promise<T>), ms: number, options: WithDeadlineOptions): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const { onAbort, signal: outer } = options;
    if (outer?.aborted === true && onAbort !== undefined) {
      if (typeof work !== 'function') work.catch(() => undefined);
      reject(onAbort(outer.reason));
      return;
    }
    let settled = false;
    const settle = (end: () => void): void => {
      if (settled) return;
      settled = true;
      deadline.clear();
      outer?.removeEventListener('abort', onOuter);
      end();
    };
    // The timer's callback rejects before the work's signal aborts, so the deadline, not the work's reaction
    // to the abort, is what the caller sees.
    const deadline = deadlineSignal(ms, {
      ...options,
      onTimeout: (error) => {
        options.onTimeout?.(error);
        settle(() => reject(error));
      },
    });
    // Added after the deadline's link: the work's signal has aborted when this runs, and the work's reaction
    // (a promise callback) comes later.
    const onOuter = (): void => {
      if (onAbort !== undefined) settle(() => reject(onAbort(outer?.reason)));
    };
    if (onAbort !== undefined) outer?.addEventListener('abort', onOuter, { once: true });
    let running: Promise<T>;
    try {
      running = typeof work === 'function' ? work(deadline.signal) : work;
    } catch (error) {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the work's failure, passed through as it is
      settle(() => reject(error));
      return;
    }
    running.then(
      (value) => settle(() => resolve(value)),
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the work's failure, passed through as it is
      (error: unknown) => settle(() => reject(error)),
    );
  });
}

/**
 * Waits for `work` at most `ms` (a grace period: a container's last output, queued hooks): true when it
 * settled in time, false when the time ran out or `signal` aborted first. A failure of `work` in time
 * rejects, as it is.
 */
export async function settleWithin(work: Promise<unknown>, ms: number, signal?: AbortSignal): Promise<boolean> {
  let ended: Error | undefined;
  try {
    await withDeadline(work, ms, { what: 'a grace period', code: 'ERR_ABORTED', signal, onTimeout: (e) => (ended = e), onAbort: () => (ended = new Error('cancelled')) });
    return true;
  } catch (error) {
    if (ended !== undefined && error === ended) return false;
    throw error;
  }
}
