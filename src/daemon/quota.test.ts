import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RegistryBudget } from '../budget/budget.js';
import { parseConfig } from '../config/load.js';
import type { DaemonEvent } from './events.js';
import { Quota, quotaEvents } from './quota.js';

const hdr = (limit: number, remaining: number) => ({ limit, remaining, window: '600' });
const config = (extra = '') => parseConfig(`stateDir: /tmp/unused\n${extra}images:\n  - image: localhost:5001/app:1\n`, 'quota.yaml');

function quota(budget?: RegistryBudget): { q: Quota; events: DaemonEvent[]; warnings: string[] } {
  const events: DaemonEvent[] = [];
  const warnings: string[] = [];
  return { q: new Quota({ budget, emit: (e) => events.push(e), warn: (m) => warnings.push(m) }), events, warnings };
}

describe('quotaEvents', () => {
  it('one event per registry whose remaining allowance is known; the budget\'s account (reserve, window, wait) where it keeps one', () => {
    const budget = new RegistryBudget();
    budget.answered('hub', 'anonymous', true, 200, hdr(100, 40), undefined);
    const rateLimits = new Map([
      ['hub', { limit: 100, remaining: 41, window: '600' }],
      ['ghcr', { limit: 5000, remaining: 4999, window: undefined }],
      ['quiet', { limit: 10, remaining: undefined, window: undefined }],
    ]);
    expect(quotaEvents(rateLimits, budget.view())).toEqual([
      { type: 'quota', registry: 'hub', remaining: 40, limit: 100, reserve: 5, windowSeconds: 600, waitUntil: undefined },
      { type: 'quota', registry: 'ghcr', remaining: 4999, limit: 5000 },
    ]);
    expect(quotaEvents(new Map(), budget.view())).toEqual([]);
  });
});

describe('Quota', () => {
  it('keeps the budget it is given (the composition root shares it with every registry client), else one of its own', () => {
    const shared = new RegistryBudget();
    expect(quota(shared).q.budget).toBe(shared);
    expect(quota().q.budget).toBeInstanceOf(RegistryBudget);
  });

  it('applies each config\'s budget: policy and keeps the counts', () => {
    const { q } = quota();
    q.budget.answered('hub', 'anonymous', true, 200, hdr(100, 40), undefined);
    q.configure(config('budget:\n  reservePercent: 20\n'));
    expect(q.budget.policy.reservePercent).toBe(20);
    expect(q.view()[0]).toMatchObject({ registry: 'hub', remaining: 40, reserve: 20 });
    q.configure(config());
    expect(q.budget.policy.reservePercent).toBe(5);
  });

  it('emits the quota events of a check\'s rate limits', () => {
    const { q, events } = quota();
    q.report(new Map([['ghcr', { limit: 5000, remaining: 4999, window: undefined }]]));
    expect(events).toEqual([{ type: 'quota', registry: 'ghcr', remaining: 4999, limit: 5000 }]);
  });

  it('opens budget.json of the state folder once it is known, and a restarted daemon takes the allowance back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quota-'));
    const first = quota();
    await first.q.open(dir);
    first.q.budget.answered('hub', 'anonymous', true, 200, hdr(100, 40), undefined);
    await first.q.close();
    expect(JSON.parse(await readFile(join(dir, 'budget.json'), 'utf8'))).toMatchObject({ accounts: [{ registry: 'hub', remaining: 40 }] });
    const second = quota();
    await second.q.open(dir);
    expect(second.q.view()).toEqual([expect.objectContaining({ registry: 'hub', remaining: 40, limit: 100 })]);
    expect(second.warnings).toEqual([]);
    await second.q.close();
  });
});
