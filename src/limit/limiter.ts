/**
 * Concurrency limiting, written once (issue 14): the daemon's per-registry admission (`daemon/runner.ts`)
 * and `manifest push --from-spec`'s blob copies (`inPool` in `publish/push-spec.ts`) wait here. A counting limit per key,
 * first come first served within a key; keys do not wait for one another, so a registry that never
 * answers holds only its own slots (issue 13.11). A waiter whose signal aborts leaves the queue at once and
 * takes no slot; a slot is freed once however often its release is called, so neither an abort nor a
 * failure of the work leaks one.
 */
import { ResolverError } from '../errors.js';

/** What `acquire` rejects with when the signal aborts first (`ERR_ABORTED`, the limiter's `abortMessage`). */
function aborted(message: string): ResolverError {
  return new ResolverError('ERR_ABORTED', message);
}

/** A counting limit per key, FIFO within a key. */
export class KeyedLimiter<K = string> {
  #limit: number;
  readonly #abortMessage: string;
  readonly #active = new Map<K, number>();
  readonly #waiting = new Map<K, (() => void)[]>();

  /** `limit` slots per key (at least 1 is admitted at a time even for 0 or less, so nothing waits forever). */
  constructor(limit: number, options: { readonly abortMessage?: string } = {}) {
    this.#limit = limit;
    this.#abortMessage = options.abortMessage ?? 'cancelled while waiting for a slot';
  }

  /** The slots per key. */
  get limit(): number {
    return this.#limit;
  }

  /** Changes the limit; waiters are admitted as slots free (at once when it grows). */
  set limit(n: number) {
    this.#limit = n;
    for (const key of [...this.#waiting.keys()]) this.#admit(key);
  }

  #admit(key: K): void {
    const queue = this.#waiting.get(key) ?? [];
    while (queue.length > 0 && (this.#active.get(key) ?? 0) < Math.max(1, this.#limit)) {
      this.#active.set(key, (this.#active.get(key) ?? 0) + 1);
      queue.shift()?.();
    }
    if (queue.length === 0) this.#waiting.delete(key);
  }

  /** A slot of `key` now, without waiting (its release function), or undefined when none is free or others wait. */
  tryAcquire(key: K): (() => void) | undefined {
    if (this.waiting(key) > 0 || this.active(key) >= Math.max(1, this.#limit)) return undefined;
    this.#active.set(key, this.active(key) + 1);
    return this.#releaser(key);
  }

  /** The function that frees one slot of `key`, once however often it is called. */
  #releaser(key: K): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = this.active(key) - 1;
      if (left <= 0) this.#active.delete(key);
      else this.#active.set(key, left);
      this.#admit(key);
    };
  }

  /**
   * Waits for a slot of `key`; the returned function frees it (once, however often called). Rejects with
   * ERR_ABORTED when `signal` aborts first (at once when it already has), leaving no listener on it either way.
   */
  acquire(key: K, signal?: AbortSignal): Promise<() => void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted === true) {
        reject(aborted(this.#abortMessage));
        return;
      }
      const grant = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(this.#releaser(key));
      };
      const onAbort = (): void => {
        const queue = this.#waiting.get(key);
        const i = queue?.indexOf(grant) ?? -1;
        if (queue !== undefined && i !== -1) queue.splice(i, 1);
        if (queue?.length === 0) this.#waiting.delete(key);
        reject(aborted(this.#abortMessage));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const queue = this.#waiting.get(key) ?? [];
      queue.push(grant);
      this.#waiting.set(key, queue);
      this.#admit(key);
    });
  }

  /** Runs `work` in a slot of `key` and frees the slot however `work` ends. */
  async run<T>(key: K, work: () => Promise<T>, options: { readonly signal?: AbortSignal | undefined } = {}): Promise<T> {
    const release = await this.acquire(key, options.signal);
    try {
      return await work();
    } finally {
      release();
    }
  }

  /** Slots in use for `key`. */
  active(key: K): number {
    return this.#active.get(key) ?? 0;
  }

  /** Callers waiting for a slot of `key`. */
  waiting(key: K): number {
    return this.#waiting.get(key)?.length ?? 0;
  }
}
