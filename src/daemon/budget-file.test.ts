/**
 * The registry budget's file (docs/budget.md): restored before the first check, written at once when a wait
 * begins, lazily when only the count moves, at close; a corrupt file is ignored with a warning naming it.
 */
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RegistryBudget } from '../budget/budget.js';
import { BudgetFile } from './budget-file.js';

const hdr = (limit: number, remaining: number) => ({ limit, remaining, window: '600' });

async function setup(lazyMs = 60_000): Promise<{ dir: string; budget: RegistryBudget; file: BudgetFile; warnings: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'budget-file-'));
  const budget = new RegistryBudget();
  const warnings: string[] = [];
  return { dir, budget, file: new BudgetFile({ budget, stateDir: () => dir, warn: (m) => warnings.push(m), lazyMs }), warnings };
}

const saved = async (dir: string): Promise<{ accounts: { registry: string; remaining?: number; throttledUntil: number }[] }> => JSON.parse(await readFile(join(dir, 'budget.json'), 'utf8')) as never;

describe('BudgetFile', () => {
  it('writes a 429 at once, a moved count only lazily or at close, and a restarted budget takes both back', async () => {
    const { dir, budget, file } = await setup();
    await file.open();
    budget.answered('hub', 'anonymous', true, 200, hdr(100, 40), undefined);
    await new Promise((r) => setTimeout(r, 50));
    expect(await readdir(dir)).toEqual([]);
    budget.answered('hub', 'anonymous', true, 429, undefined, 600_000);
    await expect.poll(async () => (await readdir(dir)).includes('budget.json')).toBe(true);
    await expect.poll(async () => (await saved(dir)).accounts[0]?.throttledUntil).toBeGreaterThan(Date.now());
    budget.answered('other', 'anonymous', true, 200, hdr(100, 70), undefined);
    await file.close();
    expect((await saved(dir)).accounts.map((a) => a.registry).sort()).toEqual(['hub', 'other']);
    const again = new RegistryBudget();
    await new BudgetFile({ budget: again, stateDir: () => dir, warn: () => undefined }).open();
    expect(again.admit('hub', 'anonymous', false)).toMatchObject({ reason: 'throttled' });
    expect(again.view().find((v) => v.registry === 'other')?.remaining).toBe(70);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('ignores a corrupt or foreign file with a warning naming it, and replaces it at the next change', async () => {
    for (const text of ['{"version":1,"accounts":[{"registry":"hub"', '{"version":1,"accounts":[{"registry":"hub","identity":"anonymous","seenAt":"yesterday","throttledUntil":0,"throttledInRow":0}]}']) {
      const { dir, budget, file, warnings } = await setup();
      await writeFile(join(dir, 'budget.json'), text);
      await file.open();
      expect(warnings).toEqual([expect.stringMatching(new RegExp(`^ignoring the registry budget file ${join(dir, 'budget.json')} \\((not JSON|accounts\\.0\\.seenAt: .+)\\)`))]);
      expect(budget.view()).toEqual([]);
      budget.answered('hub', 'anonymous', true, 429, undefined, 60_000);
      await file.close();
      expect((await saved(dir)).accounts).toHaveLength(1);
    }
  });
});
