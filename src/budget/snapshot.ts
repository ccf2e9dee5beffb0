/**
 * The file the registry budget survives a restart in (`budget.json` in the state folder; docs/budget.md):
 * its schema, checked with zod on load, and its bytes. Pure: the daemon reads and writes it
 * (src/daemon/budget-file.ts). A file that does not parse is not trusted at all: the caller warns and starts
 * from nothing, as before this file existed.
 */
import { z } from 'zod';
import { describeFirstIssue, parseJson } from '../json/parse-json.js';
import { maxSnapshotAccounts, type AccountSnapshot } from './budget.js';

/** The largest file read (64 accounts take about 16 KiB). */
export const maxBudgetFileBytes = 64 * 1024;

const epochMs = z.number().int().min(0).max(8.64e15);
const count = z.number().int().min(0).max(1e9);

const Account = z.strictObject({
  registry: z.string().min(1).max(256),
  identity: z.string().min(1).max(512),
  limit: count.optional(),
  remaining: count.optional(),
  windowMs: z.number().int().positive().max(8.64e15).optional(),
  seenAt: epochMs,
  throttledUntil: epochMs,
  throttledInRow: z.number().int().min(0).max(1000),
});

const BudgetFile = z.strictObject({
  version: z.literal(1),
  accounts: z.array(Account).max(maxSnapshotAccounts),
});

/** The bytes of a snapshot. */
export function budgetFileText(accounts: readonly AccountSnapshot[]): string {
  const clean = accounts.slice(0, maxSnapshotAccounts).map((a) => ({
    registry: a.registry, identity: a.identity,
    ...(a.limit === undefined ? {} : { limit: a.limit }), ...(a.remaining === undefined ? {} : { remaining: a.remaining }), ...(a.windowMs === undefined ? {} : { windowMs: a.windowMs }),
    seenAt: a.seenAt, throttledUntil: a.throttledUntil, throttledInRow: a.throttledInRow,
  }));
  return `${JSON.stringify({ version: 1, accounts: clean }, null, 1)}\n`;
}

/** The accounts of a file's text, or what is wrong with it (for a warning; the file is then ignored). */
export function parseBudgetFile(text: string): { readonly accounts: AccountSnapshot[] } | { readonly problem: string } {
  if (Buffer.byteLength(text, 'utf8') > maxBudgetFileBytes) return { problem: `larger than ${maxBudgetFileBytes} bytes` };
  const r = parseJson(BudgetFile, text);
  if (!r.success && r.reason === 'syntax') return { problem: 'not JSON' };
  if (!r.success) return { problem: describeFirstIssue(r.issues, 'the document') ?? 'the document: invalid' };
  return { accounts: r.data.accounts.map((a) => ({ ...a, limit: a.limit, remaining: a.remaining, windowMs: a.windowMs })) };
}
