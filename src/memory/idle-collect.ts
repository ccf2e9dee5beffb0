/**
 * A full garbage collection after bursts of checks (issue 10 §4; bench/README.md "The daemon collects after
 * bursts"). Between V8's own full collections the daemon's old space fills with what finished checks left
 * (responses, events, log records): at 1,000 tags its resident memory sat ~7 MB above what a collection
 * leaves. The daemon knows when that garbage is there, so it asks for the collection then: when checks went
 * quiet for `idleMs` after at least `minChecks` of them started, or after `maxChecks` started without a quiet
 * moment (a daemon whose checks never stop). A small daemon (fewer checks than `minChecks` a cycle) collects
 * every few cycles; nothing else changes. The timer never keeps the process alive.
 *
 * Pure policy over injected timers; the collection itself is `v8Collector()` (./v8-collector.ts).
 */

/** A timer handle: what setTimeout returns in Node (`unref` lets the process exit). */
export interface TimerHandle {
  unref?(): unknown;
}

export interface IdleCollectOptions {
  /** Runs one full collection. */
  readonly collect: () => void;
  /** Checks started since the last collection before a quiet moment triggers one. Default 50. */
  readonly minChecks?: number;
  /** Checks started since the last collection that trigger one without a quiet moment. Default 1,000. */
  readonly maxChecks?: number;
  /** How long no check must start before the quiet collection, ms. Default 2,000. */
  readonly idleMs?: number;
  readonly setTimer?: (fn: () => void, ms: number) => TimerHandle;
  readonly clearTimer?: (handle: TimerHandle) => void;
}

/** The collector's subscriber (`daemon.events.on(c.observe)`) and its stop. */
export interface IdleCollector {
  /** Folds one daemon event in: `check-started` counts, `stopped` stops. */
  readonly observe: (event: { readonly type: string }) => void;
  /** Cancels a pending collection; later events do nothing. */
  readonly stop: () => void;
  /** Collections so far. */
  readonly collections: () => number;
}

export function idleCollector(options: IdleCollectOptions): IdleCollector {
  const minChecks = options.minChecks ?? 50;
  const maxChecks = options.maxChecks ?? 1000;
  const idleMs = options.idleMs ?? 2000;
  const setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
  const clearTimer = options.clearTimer ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>));
  let started = 0;
  let collections = 0;
  let timer: TimerHandle | undefined;
  let stopped = false;
  const cancel = (): void => {
    if (timer !== undefined) clearTimer(timer);
    timer = undefined;
  };
  const collect = (): void => {
    cancel();
    started = 0;
    collections += 1;
    options.collect();
  };
  return {
    observe(event) {
      if (stopped) return;
      if (event.type === 'stopped') {
        stopped = true;
        cancel();
        return;
      }
      if (event.type !== 'check-started') return;
      started += 1;
      // Inside the emit of a check's first event: collect on the next timer turn, not in the middle of it.
      if (started >= maxChecks) {
        cancel();
        timer = setTimer(collect, 0);
        timer.unref?.();
        return;
      }
      cancel();
      if (started < minChecks) return;
      timer = setTimer(collect, idleMs);
      timer.unref?.();
    },
    stop() {
      stopped = true;
      cancel();
    },
    collections: () => collections,
  };
}
