/**
 * The `budget:` fragment of the daemon's config (issue 12 §2; docs/budget.md). Pure.
 */
import { z } from 'zod';
import { defaultBudgetPolicy, type BudgetPolicy } from './budget.js';

const Budget = z.strictObject({
  reservePercent: z
    .number()
    .min(0)
    .max(50)
    .default(defaultBudgetPolicy.reservePercent)
    .describe("share of the registry's announced allowance (ratelimit-limit) kept back: counted requests (manifest GETs) stop when ratelimit-remaining is at or below it, until the registry's window has passed; @default 5"),
});

/** The field as `config/schema.ts` embeds it: optional; `budget:` with nothing under it means the defaults. */
export const budgetField = Budget.nullish()
  .transform((v) => v ?? Budget.parse({}))
  .describe('the registry request budget (ratelimit-limit/-remaining headers): a reserve kept back, every image of a registry deferred after a 429');

/** The policy a config gives. */
export function budgetPolicyOf(config: { readonly budget: z.infer<typeof budgetField> }): Partial<BudgetPolicy> {
  return { reservePercent: config.budget.reservePercent };
}
