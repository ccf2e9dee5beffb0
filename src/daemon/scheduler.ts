/**
 * When each entry runs. The next slot comes from ./next-run.ts for the plain cron grammar, else from a
 * node-cron task (a task per distinct schedule, never started; node-cron's own slots page in ICU's data,
 * ~8.7 MB of resident memory: issue 10 §4); the scheduler arms one timer per entry, capped at 30 s and re-armed when the wall clock jumps
 * (node-cron walks every missed slot after a forward jump and stops after a backward one; reliability.md
 * §2.4). `set` swaps the whole schedule at once: the old timers are cleared and unused tasks destroyed
 * before the new ones are armed, so timers == entries and node-cron's registry holds one task per schedule
 * however many reloads happen (issue 13.6). The watchdog tick is also the liveness signal of /healthz.
 */
import cron from 'node-cron';
import { nextRun, parseCron } from './next-run.js';

/** What a slot needs of a schedule: its next runs, and to be let go. */
interface Task {
  getNextRuns(count: number): Date[];
  destroy(): unknown;
}

/** The plain grammar computed here; anything else (`L`, `W`, `#` …) by node-cron. */
function createTask(schedule: string): Task {
  const fields = parseCron(schedule);
  if (fields === undefined) return cron.createTask(schedule, () => undefined);
  return {
    getNextRuns: (count) => {
      const runs: Date[] = [];
      for (let next = nextRun(fields, new Date()); next !== undefined && runs.length < count; next = nextRun(fields, next)) runs.push(next);
      return runs;
    },
    destroy: () => undefined,
  };
}

/** What the scheduler needs. */
export interface SchedulerDeps {
  /** An entry's slot came. */
  readonly onDue: (key: string) => void;
  /** An entry's next slot, for status. */
  readonly onArmed: (key: string, next: Date | undefined) => void;
  /** The wall clock jumped by this much (ms) against monotonic time. */
  readonly onJump: (jumpMs: number) => void;
  readonly monotonic: () => number;
  /** Longest single timer; shorter means quicker notice of a clock change. */
  readonly maxTimerMs?: number;
}

interface Slot {
  readonly key: string;
  readonly schedule: string;
  readonly task: Task;
  timer: NodeJS.Timeout | undefined;
  next: Date | undefined;
}

/** The longest splay `splay: auto` gives (docs/rollout.md): a daily schedule must not delay a booted device's first check by hours. */
export const autoSplayCapMs = 15 * 60_000;

const periods = new Map<string, number | undefined>();

/**
 * The period of a schedule: the shortest gap between its next 8 slots (`*\/15 * * * *`: 15 min; `0 3 * * *`:
 * 24 h), or undefined when there are fewer than two. Remembered per expression. The default `splay: auto`
 * and `run`'s daemon trust ask this of every schedule, so the plain grammar goes through ./next-run.ts:
 * node-cron's getNextRuns would page in ICU's data through Intl.DateTimeFormat (~10 MB of the daemon's
 * resident memory, bench/README.md).
 */
export function schedulePeriodMs(schedule: string): number | undefined {
  if (periods.has(schedule)) return periods.get(schedule);
  let period: number | undefined;
  try {
    const task = createTask(schedule);
    const runs = task.getNextRuns(8).map((d) => d.getTime());
    void task.destroy();
    for (let i = 1; i < runs.length; i++) period = Math.min(period ?? Number.POSITIVE_INFINITY, (runs[i] ?? 0) - (runs[i - 1] ?? 0));
  } catch {
    period = undefined;
  }
  if (periods.size < 1024) periods.set(schedule, period);
  return period;
}

/** The splay of an entry: the configured one, or for `auto` (undefined) its schedule's period capped at 15 min. */
export function splayOf(configured: number | undefined, schedule: string): number {
  return configured ?? Math.min(schedulePeriodMs(schedule) ?? autoSplayCapMs, autoSplayCapMs);
}

/** The watchdog period. */
export const watchdogMs = 5000;

/** The scheduler. */
export class Scheduler {
  readonly #deps: SchedulerDeps;
  #tasks = new Map<string, Task>();
  #slots: Slot[] = [];
  #watchdog: NodeJS.Timeout | undefined;
  #stopped = false;
  /** Monotonic time of the last watchdog tick (or start). */
  lastTick: number;

  constructor(deps: SchedulerDeps) {
    this.#deps = deps;
    this.lastTick = deps.monotonic();
  }

  /** Replaces the schedule of every entry at once. */
  set(entries: readonly { readonly key: string; readonly schedule: string }[]): void {
    for (const slot of this.#slots) clearTimeout(slot.timer);
    const tasks = new Map<string, Task>();
    const taskOf = (schedule: string): Task => {
      const task = tasks.get(schedule) ?? this.#tasks.get(schedule) ?? createTask(schedule);
      tasks.set(schedule, task);
      return task;
    };
    for (const e of entries) taskOf(e.schedule);
    for (const [schedule, task] of this.#tasks) if (!tasks.has(schedule)) void task.destroy();
    this.#tasks = tasks;
    // An entry whose schedule did not change keeps its next slot (a reload does not skip or repeat a run).
    const previous = new Map(this.#slots.map((s) => [`${s.key}\0${s.schedule}`, s.next]));
    this.#slots = entries.map((e) => ({ key: e.key, schedule: e.schedule, task: taskOf(e.schedule), timer: undefined, next: previous.get(`${e.key}\0${e.schedule}`) }));
    if (this.#stopped) return;
    for (const slot of this.#slots) {
      const kept = slot.next;
      this.#arm(slot);
      if (kept !== undefined && slot.next === kept) this.#deps.onArmed(slot.key, kept);
    }
    this.#startWatchdog();
  }

  #arm(slot: Slot): void {
    clearTimeout(slot.timer);
    slot.timer = undefined;
    if (this.#stopped) return;
    if (slot.next === undefined || slot.next.getTime() <= Date.now() - 1000) {
      slot.next = slot.task.getNextRuns(1)[0];
      this.#deps.onArmed(slot.key, slot.next);
    }
    if (slot.next === undefined) return;
    const delay = Math.max(0, Math.min(this.#deps.maxTimerMs ?? 30_000, slot.next.getTime() - Date.now()));
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      if (slot.next !== undefined && Date.now() >= slot.next.getTime()) {
        slot.next = undefined;
        this.#deps.onDue(slot.key);
      }
      this.#arm(slot);
    }, delay);
  }

  #startWatchdog(): void {
    if (this.#watchdog !== undefined) return;
    let wall = Date.now();
    let mono = this.#deps.monotonic();
    this.lastTick = mono;
    this.#watchdog = setInterval(() => {
      const w = Date.now();
      const m = this.#deps.monotonic();
      const drift = w - wall - (m - mono);
      wall = w;
      mono = m;
      this.lastTick = m;
      if (Math.abs(drift) > 2000) {
        this.#deps.onJump(Math.round(drift));
        for (const slot of this.#slots) {
          slot.next = undefined;
          this.#arm(slot);
        }
      }
    }, watchdogMs);
    this.#watchdog.unref();
  }

  /** True while the watchdog ticks (a blocked event loop or a stopped scheduler is not alive). */
  alive(toleranceMs = 6 * watchdogMs): boolean {
    return !this.#stopped && this.#watchdog !== undefined && this.#deps.monotonic() - this.lastTick <= toleranceMs;
  }

  /** Schedules held (one task per distinct schedule). */
  get tasks(): number {
    return this.#tasks.size;
  }

  /** Armed timers (one per entry with a next slot). */
  get timers(): number {
    return this.#slots.filter((s) => s.timer !== undefined).length + (this.#watchdog === undefined ? 0 : 1);
  }

  /** Stops every timer and destroys the tasks. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#watchdog);
    this.#watchdog = undefined;
    for (const slot of this.#slots) clearTimeout(slot.timer);
    for (const task of this.#tasks.values()) void task.destroy();
    this.#tasks.clear();
    this.#slots = [];
  }
}
