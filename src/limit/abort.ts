/**
 * The two cancellation helpers every IO layer needs, written once (issue 14): follow an outer signal with
 * an inner controller, and sleep until a time or an abort. Both remove their listener when done, so a
 * long-lived signal (the daemon's shutdown) does not collect one per request or backoff.
 */
import { ResolverError } from '../errors.js';

/**
 * Aborts `inner` when `outer` aborts (at once if it already has). Returns the function that unlinks them;
 * call it when the inner work ends.
 */
export function linkAbort(outer: AbortSignal | undefined, inner: AbortController): () => void {
  if (outer === undefined) return () => undefined;
  if (outer.aborted) {
    inner.abort(outer.reason);
    return () => undefined;
  }
  const onAbort = (): void => inner.abort(outer.reason);
  outer.addEventListener('abort', onAbort, { once: true });
  return () => outer.removeEventListener('abort', onAbort);
}

/**
 * Waits `ms` (none at all for `ms <= 0`), or rejects with ERR_ABORTED (`message`) when `signal` aborts first;
 * leaves no listener behind either way.
 */
export function sleep(ms: number, signal?: AbortSignal, message = 'cancelled while waiting to retry'): Promise<void> {
  return new Promise((resolve, reject) => {
    const cancelled = (): ResolverError => new ResolverError('ERR_ABORTED', message);
    if (signal?.aborted === true) {
      reject(cancelled());
      return;
    }
    if (ms <= 0) {
      resolve();
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(cancelled());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
