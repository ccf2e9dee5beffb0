/**
 * A registry request budget (issue 12 §2; docs/budget.md), as pure accounting on an injected clock:
 * per registry host and credential it keeps the allowance the registry announced in its `ratelimit-limit`
 * / `ratelimit-remaining` headers (`100;w=21600`: the numbers and the window come from the registry, never
 * from here) and decides whether the next request may go.
 *
 * - *Counted* requests (the ones the registry charges: a GET of a manifest on Docker Hub; a HEAD is free)
 *   stop when `remaining` falls to the reserve (a share of `limit`, default 5 %), and wait until the window
 *   the registry named has passed since the allowance was last seen; then one request may go and learns the
 *   new count. Between two answers that carry headers, every counted request sent lowers `remaining` by one.
 * - A 429 (whatever its body: JSON, HTML or none) stops *every* request to that registry and credential:
 *   for its `Retry-After` (capped at 15 min) or, without one, 60 s doubling with each 429 in a row up to the
 *   cap. The daemon's runner also defers every image of the registry for that long.
 * Nothing here sends a request or reads a clock of its own: the registry layer (`layer.ts`) and the fleet
 * simulator (bench/fleet.mjs) drive it.
 *
 * What must survive a restart (the allowance with its window, a 429's deferral) is `snapshot()`; the daemon
 * writes it to `budget.json` in the state folder whenever it changes (`onChange`) and `restore()`s it at
 * start (src/daemon/budget-file.ts, the file's schema in snapshot.ts; docs/budget.md).
 */

/** The policy of a budget (the `budget:` config fragment, resolved). */
export interface BudgetPolicy {
  /** Share of `ratelimit-limit` kept back, in percent: counted requests stop when `remaining` ≤ this share. */
  readonly reservePercent: number;
  /** Wait after a 429 without `Retry-After` (doubled for each 429 in a row, up to `maxThrottleMs`). */
  readonly throttleMs: number;
  /** Longest wait a 429 imposes (a `Retry-After: 86400` is cut to this; issue 13.15). */
  readonly maxThrottleMs: number;
  /** Longest window honoured (a `w=` beyond it is cut to this). */
  readonly maxWindowMs: number;
}

/** The defaults: 5 % reserve, 60 s after a bare 429, 15 min at most, windows up to 24 h. */
export const defaultBudgetPolicy: BudgetPolicy = { reservePercent: 5, throttleMs: 60_000, maxThrottleMs: 15 * 60_000, maxWindowMs: 24 * 3_600_000 };

/** What a registry said about its allowance (parsed `ratelimit-*` headers). */
export interface AllowanceHeaders {
  readonly limit: number | undefined;
  readonly remaining: number | undefined;
  /** The `w=` parameter, in seconds, as text. */
  readonly window: string | undefined;
}

/** Why a request may not go now, and when it may. */
export interface Refusal {
  readonly reason: 'reserve' | 'throttled';
  /** Epoch milliseconds when a request may go again. */
  readonly until: number;
  readonly message: string;
}

/** One budget as `status` and the metrics show it. */
export interface BudgetView {
  readonly registry: string;
  /** `anonymous`, or where the credential came from and its user name (never a secret). */
  readonly identity: string;
  readonly limit: number | undefined;
  readonly remaining: number | undefined;
  readonly windowSeconds: number | undefined;
  /** Counted requests stop when `remaining` is at or below this. */
  readonly reserve: number;
  /** Counted requests this process sent to it. */
  readonly counted: number;
  /** 429 answers received. */
  readonly throttled: number;
  /** Requests refused here, without being sent. */
  readonly refused: number;
  /** ISO time until which requests wait, if they do. */
  readonly waitUntil: string | undefined;
  readonly waitReason: 'reserve' | 'throttled' | undefined;
}

interface Account {
  readonly registry: string;
  readonly identity: string;
  limit: number | undefined;
  remaining: number | undefined;
  windowMs: number | undefined;
  /** When the headers were last seen. */
  seenAt: number;
  throttledUntil: number;
  throttledInRow: number;
  counted: number;
  throttled: number;
  refused: number;
}

/** What of one account survives a restart (times in epoch ms). */
export interface AccountSnapshot {
  readonly registry: string;
  readonly identity: string;
  readonly limit: number | undefined;
  readonly remaining: number | undefined;
  readonly windowMs: number | undefined;
  readonly seenAt: number;
  readonly throttledUntil: number;
  readonly throttledInRow: number;
}

/**
 * A change of what `snapshot()` holds. `urgent`: a wait began or grew (a 429, the reserve reached), which a
 * restart must not forget even for a moment; otherwise only the count moved.
 */
export type BudgetChangeListener = (urgent: boolean) => void;

/** The most accounts kept in a snapshot (the newest by `seenAt`): a bound on the file. */
export const maxSnapshotAccounts = 64;

/** The budgets of every registry and credential this process talks to. */
export class RegistryBudget {
  #policy: BudgetPolicy;
  readonly #now: () => number;
  readonly #accounts = new Map<string, Account>();
  readonly #listeners = new Set<BudgetChangeListener>();

  constructor(policy: Partial<BudgetPolicy> = {}, now: () => number = Date.now) {
    this.#policy = { ...defaultBudgetPolicy, ...policy };
    this.#now = now;
  }

  /** Applies a (reloaded) policy; the counts are kept. */
  configure(policy: Partial<BudgetPolicy>): void {
    this.#policy = { ...defaultBudgetPolicy, ...policy };
  }

  get policy(): BudgetPolicy {
    return this.#policy;
  }

  #account(registry: string, identity: string): Account {
    const key = `${registry}\0${identity}`;
    let a = this.#accounts.get(key);
    if (a === undefined) {
      a = { registry, identity, limit: undefined, remaining: undefined, windowMs: undefined, seenAt: 0, throttledUntil: 0, throttledInRow: 0, counted: 0, throttled: 0, refused: 0 };
      this.#accounts.set(key, a);
    }
    return a;
  }

  #reserve(a: Account): number {
    return a.limit === undefined ? 0 : Math.ceil((a.limit * this.#policy.reservePercent) / 100);
  }

  /** When the allowance seen at `seenAt` has surely refilled: the whole window later. */
  #refillAt(a: Account): number | undefined {
    if (a.remaining === undefined || a.remaining > this.#reserve(a)) return undefined;
    // No window named: assume Docker Hub's documented shape of a window and do not guess a shorter one.
    return a.seenAt + Math.min(a.windowMs ?? this.#policy.maxWindowMs, this.#policy.maxWindowMs);
  }

  /** Whether a request may be sent now; `counted` when the registry charges it. Undefined = go. */
  admit(registry: string, identity: string, counted: boolean): Refusal | undefined {
    const a = this.#account(registry, identity);
    const now = this.#now();
    if (now < a.throttledUntil) {
      a.refused++;
      return { reason: 'throttled', until: a.throttledUntil, message: `${registry} answered 429 (too many requests); waiting until ${new Date(a.throttledUntil).toISOString()}` };
    }
    if (!counted) return undefined;
    const refill = this.#refillAt(a);
    if (refill === undefined) return undefined;
    if (now >= refill) {
      // The window has passed: the allowance is unknown again until the next answer tells it.
      a.remaining = undefined;
      return undefined;
    }
    a.refused++;
    return {
      reason: 'reserve', until: refill,
      message: `${registry}: ${a.remaining ?? 0} of ${a.limit ?? '?'} requests left in the registry's window, at the reserve of ${this.#reserve(a)}; the next counted request waits until ${new Date(refill).toISOString()}`,
    };
  }

  /** A request was answered: `headers` are its `ratelimit-*` (if any), `status` its HTTP status. */
  answered(registry: string, identity: string, counted: boolean, status: number, headers: AllowanceHeaders | undefined, retryAfterMs: number | undefined): void {
    const a = this.#account(registry, identity);
    const before = { limit: a.limit, remaining: a.remaining, windowMs: a.windowMs, throttledUntil: a.throttledUntil, throttledInRow: a.throttledInRow, refill: this.#refillAt(a) };
    this.#answered(a, counted, status, headers, retryAfterMs);
    const refill = this.#refillAt(a);
    const urgent = a.throttledUntil > before.throttledUntil || (refill !== undefined && refill !== before.refill);
    const changed = urgent || a.limit !== before.limit || a.remaining !== before.remaining || a.windowMs !== before.windowMs || a.throttledInRow !== before.throttledInRow;
    if (changed) for (const l of this.#listeners) l(urgent);
  }

  /** Calls `listener` whenever what `snapshot()` holds changes; returns the unsubscribe function. */
  onChange(listener: BudgetChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** What must survive a restart: the newest `maxSnapshotAccounts` accounts that know anything. */
  snapshot(): AccountSnapshot[] {
    return [...this.#accounts.values()]
      .filter((a) => a.limit !== undefined || a.remaining !== undefined || a.throttledUntil > 0)
      .sort((x, y) => Math.max(y.seenAt, y.throttledUntil) - Math.max(x.seenAt, x.throttledUntil))
      .slice(0, maxSnapshotAccounts)
      .map((a) => ({ registry: a.registry, identity: a.identity, limit: a.limit, remaining: a.remaining, windowMs: a.windowMs, seenAt: a.seenAt, throttledUntil: a.throttledUntil, throttledInRow: a.throttledInRow }));
  }

  /**
   * Takes back what an earlier process knew (its `snapshot()`), for accounts this one has not heard of yet.
   * Distrusts the file as much as a registry: times in the future are cut to now (a clock that went back must
   * not stretch a wait), a 429's wait to `maxThrottleMs` from now, a window to `maxWindowMs`; an allowance
   * whose window has passed is forgotten.
   */
  restore(accounts: readonly AccountSnapshot[]): void {
    const now = this.#now();
    for (const s of accounts.slice(0, maxSnapshotAccounts)) {
      const a = this.#account(s.registry, s.identity);
      if (a.seenAt !== 0 || a.throttledUntil !== 0 || a.limit !== undefined) continue;
      const windowMs = s.windowMs === undefined ? undefined : Math.min(s.windowMs, this.#policy.maxWindowMs);
      const seenAt = Math.min(s.seenAt, now);
      const live = seenAt + Math.min(windowMs ?? this.#policy.maxWindowMs, this.#policy.maxWindowMs) > now;
      a.limit = s.limit;
      a.windowMs = windowMs;
      a.remaining = live ? s.remaining : undefined;
      a.seenAt = seenAt;
      a.throttledUntil = s.throttledUntil > now ? Math.min(s.throttledUntil, now + this.#policy.maxThrottleMs) : 0;
      a.throttledInRow = Math.min(Math.max(0, Math.trunc(s.throttledInRow)), 16);
    }
  }

  #answered(a: Account, counted: boolean, status: number, headers: AllowanceHeaders | undefined, retryAfterMs: number | undefined): void {
    const now = this.#now();
    if (counted && status !== 429) a.counted++;
    if (headers !== undefined && (headers.remaining !== undefined || headers.limit !== undefined)) {
      a.limit = headers.limit ?? a.limit;
      a.remaining = headers.remaining ?? a.remaining;
      const w = headers.window === undefined ? Number.NaN : Number.parseInt(headers.window, 10);
      if (Number.isFinite(w) && w > 0) a.windowMs = w * 1000;
      a.seenAt = now;
    } else if (counted && status !== 429 && a.remaining !== undefined) {
      a.remaining = Math.max(0, a.remaining - 1);
    }
    if (status === 429) {
      a.throttled++;
      a.throttledInRow++;
      const wait = retryAfterMs ?? this.#policy.throttleMs * 2 ** (a.throttledInRow - 1);
      a.throttledUntil = now + Math.min(Math.max(wait, 1000), this.#policy.maxThrottleMs);
      if (headers === undefined && a.remaining !== undefined) a.remaining = 0;
    } else if (status < 500) {
      a.throttledInRow = 0;
    }
  }

  /** Until when every request to `registry` waits after a 429 (any credential), or undefined. */
  throttledUntil(registry: string): number | undefined {
    const now = this.#now();
    let until: number | undefined;
    for (const a of this.#accounts.values()) {
      if (a.registry === registry && a.throttledUntil > now) until = Math.max(until ?? 0, a.throttledUntil);
    }
    return until;
  }

  /** Every budget, for `status` and the metrics. */
  view(): BudgetView[] {
    const now = this.#now();
    return [...this.#accounts.values()].map((a) => {
      const refill = this.#refillAt(a);
      const waitThrottled = a.throttledUntil > now ? a.throttledUntil : undefined;
      const waitReserve = refill !== undefined && refill > now ? refill : undefined;
      const until = waitThrottled ?? waitReserve;
      return {
        registry: a.registry, identity: a.identity, limit: a.limit, remaining: a.remaining, windowSeconds: a.windowMs === undefined ? undefined : a.windowMs / 1000,
        reserve: this.#reserve(a), counted: a.counted, throttled: a.throttled, refused: a.refused,
        waitUntil: until === undefined ? undefined : new Date(until).toISOString(), waitReason: waitThrottled !== undefined ? 'throttled' : waitReserve !== undefined ? 'reserve' : undefined,
      };
    });
  }
}
