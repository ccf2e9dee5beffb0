/**
 * The registry budget in the daemon (issue 12 §2; docs/budget.md): one `RegistryBudget` for the daemon's life
 * (the composition root hands the same one to every generation's registry client), its policy from each
 * config's `budget:`, its file across restarts (budget-file.ts, opened once the state folder is known), and
 * the `quota` events after each check: a registry's announced allowance, or the budget's account of it where
 * the budget keeps one (its reserve, window and wait).
 */
import { RegistryBudget, type BudgetView } from '../budget/budget.js';
import { budgetPolicyOf } from '../budget/config.js';
import type { Config } from '../config/schema.js';
import type { RateLimit } from '../registry/client.js';
import { BudgetFile } from './budget-file.js';
import type { DaemonEvent } from './events.js';

/** The `quota` events of the registries whose `ratelimit-remaining` is known, the budget's figures first. */
export function quotaEvents(rateLimits: ReadonlyMap<string, RateLimit>, budgets: readonly BudgetView[]): DaemonEvent[] {
  const byRegistry = new Map(budgets.map((b) => [b.registry, b]));
  const events: DaemonEvent[] = [];
  for (const [host, rl] of rateLimits) {
    const b = byRegistry.get(host);
    if (rl.remaining === undefined) continue;
    events.push({ type: 'quota', registry: host, remaining: b?.remaining ?? rl.remaining, limit: b?.limit ?? rl.limit, ...(b === undefined ? {} : { reserve: b.reserve, windowSeconds: b.windowSeconds, waitUntil: b.waitUntil }) });
  }
  return events;
}

/** What the wiring needs. */
export interface QuotaDeps {
  /** The budget shared across reloads; default: one of its own (seen only by `status`). */
  readonly budget?: RegistryBudget | undefined;
  readonly emit: (event: DaemonEvent) => void;
  readonly warn: (message: string) => void;
}

/** The budget, its policy, its file and its events. */
export class Quota {
  readonly budget: RegistryBudget;
  readonly #file: BudgetFile;
  readonly #emit: (event: DaemonEvent) => void;
  #stateDir = '.';

  constructor(deps: QuotaDeps) {
    this.budget = deps.budget ?? new RegistryBudget();
    this.#emit = deps.emit;
    this.#file = new BudgetFile({ budget: this.budget, stateDir: () => this.#stateDir, warn: deps.warn });
  }

  /** Applies a config's `budget:` (the counts are kept). */
  configure(config: Config): void {
    this.budget.configure(budgetPolicyOf(config));
  }

  /** Restores `budget.json` of `stateDir` (once; before the first check) and writes every change there. */
  async open(stateDir: string): Promise<void> {
    this.#stateDir = stateDir;
    await this.#file.open();
  }

  /** Writes what is pending (daemon stop). */
  close(): Promise<void> {
    return this.#file.close();
  }

  /** After a check: the `quota` events of the registry client's last `ratelimit-*` headers. */
  report(rateLimits: ReadonlyMap<string, RateLimit>): void {
    for (const e of quotaEvents(rateLimits, this.budget.view())) this.#emit(e);
  }

  view(): BudgetView[] {
    return this.budget.view();
  }
}
