/**
 * The registry budget across restarts (issue 12 §2; docs/budget.md): `budget.json` in the state folder holds
 * each registry's announced allowance (`ratelimit-remaining` and its window, when it was seen) and a 429's
 * deferral. Without it a restarted daemon forgot both: it could spend the reserve, or ask a registry again in
 * the middle of its `Retry-After`.
 *
 * - Loaded once, before the first check; checked with zod (src/budget/snapshot.ts). A file that is
 *   unreadable, too large or does not match is ignored with a warning naming it (the budget starts empty, as
 *   before) and replaced at the next change.
 * - Written durably (temp file, fsync, rename: src/state/durable-file.ts) when the budget changes: at once
 *   when a wait begins or grows (a 429, the reserve reached), else at most once per `lazyMs` (the count of a
 *   busy registry moves at every answer; an SD card should not be written at every HEAD); and at stop.
 *   Bounded: 64 accounts, one write in flight, the newest snapshot wins.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RegistryBudget } from '../budget/budget.js';
import { budgetFileText, maxBudgetFileBytes, parseBudgetFile } from '../budget/snapshot.js';
import { writeFileDurable } from '../state/durable-file.js';

/** What the file needs. */
export interface BudgetFileOptions {
  readonly budget: RegistryBudget;
  /** The state folder (known once the config is loaded and the lock taken). */
  readonly stateDir: () => string;
  readonly warn: (message: string) => void;
  /** Longest delay of a write that is not urgent (default 30 s). */
  readonly lazyMs?: number;
}

/** The budget's file. */
export class BudgetFile {
  readonly #o: BudgetFileOptions;
  #off: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;
  #dirty = false;
  #failedOnce = false;

  constructor(o: BudgetFileOptions) {
    this.#o = o;
  }

  get path(): string {
    return join(this.#o.stateDir(), 'budget.json');
  }

  /** Restores what the file holds (once), then writes every change. */
  async open(): Promise<void> {
    if (this.#off !== undefined) return;
    const path = this.path;
    const text = await readFile(path, 'utf8').catch((error: unknown) => {
      if ((error as { code?: string }).code !== 'ENOENT') this.#o.warn(`ignoring the registry budget file ${path}: ${(error as Error).message}`);
      return undefined;
    });
    if (text !== undefined) {
      const parsed = text.length > maxBudgetFileBytes * 4 ? { problem: `larger than ${maxBudgetFileBytes} bytes` } : parseBudgetFile(text);
      if ('problem' in parsed) this.#o.warn(`ignoring the registry budget file ${path} (${parsed.problem}); the budget starts from the registry's next answer`);
      else this.#o.budget.restore(parsed.accounts);
    }
    this.#off = this.#o.budget.onChange((urgent) => this.#changed(urgent));
  }

  #changed(urgent: boolean): void {
    this.#dirty = true;
    if (urgent) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      void this.#write();
    } else if (this.#timer === undefined && this.#writing === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        void this.#write();
      }, this.#o.lazyMs ?? 30_000);
      this.#timer.unref();
    }
  }

  /** One write at a time; a change during a write is written right after it. */
  #write(): Promise<void> {
    if (this.#writing !== undefined) return this.#writing;
    this.#writing = (async () => {
      while (this.#dirty) {
        this.#dirty = false;
        try {
          await writeFileDurable(this.path, budgetFileText(this.#o.budget.snapshot()));
          this.#failedOnce = false;
        } catch (error) {
          // Kept in memory; tried again at the next change. Said once per run of failures.
          if (!this.#failedOnce) this.#o.warn(`could not write the registry budget file ${this.path}: ${(error as Error).message}`);
          this.#failedOnce = true;
          break;
        }
      }
    })().finally(() => (this.#writing = undefined));
    return this.#writing;
  }

  /** Writes what is pending now and stops listening (daemon stop). */
  async close(): Promise<void> {
    this.#off?.();
    this.#off = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#writing;
    if (this.#dirty) await this.#write();
  }
}
