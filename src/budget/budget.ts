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

/** The budgets of every registry and credential this process talks to. */
export class RegistryBudget {
  #policy: BudgetPolicy;
  readonly #now: () => number;
  readonly #accounts = new Map<string, Account>();

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
