/**
 * What the daemon says about its process: the Prometheus process sample of one scrape (memory, CPU, heap, the
 * event-loop lag since the previous scrape) and the `status` document (pid, start time, the largest event-loop
 * delay, every entry's status, the registry budgets). The two event-loop histograms run between `enable` and
 * `disable` (start and stop of the daemon).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { BudgetView } from '../budget/budget.js';
import type { ProcessSample } from './metrics.js';
import type { ImageStatus, StatusState } from './status.js';

/** What `status` answers. */
export interface DaemonStatus {
  readonly pid: number;
  readonly startedAt: string;
  readonly eventLoopMaxDelayMs: number;
  readonly images: ImageStatus[];
  /** The registry budgets (issue 12 §2). */
  readonly budgets?: BudgetView[];
}

/** The process's figures. */
export class ProcessMonitor {
  readonly startedAt = new Date().toISOString();
  readonly #loopDelay = monitorEventLoopDelay({ resolution: 10 });
  /** The event-loop delay between two scrapes of /metrics (reset by each). */
  readonly #scrapeDelay = monitorEventLoopDelay({ resolution: 10 });

  enable(): void {
    this.#loopDelay.enable();
    this.#scrapeDelay.enable();
  }

  disable(): void {
    this.#loopDelay.disable();
    this.#scrapeDelay.disable();
  }

  /** The process metrics of one scrape; starts the next scrape's lag histogram. */
  sample(): ProcessSample {
    const cpu = process.cpuUsage();
    const heap = process.memoryUsage();
    const lag = this.#scrapeDelay;
    // An empty histogram reports a huge min and max 0; percentile() of it is 0.
    const sample = {
      residentMemoryBytes: heap.rss, cpuSeconds: (cpu.user + cpu.system) / 1e6,
      startTimeSeconds: Math.round((Date.now() - process.uptime() * 1000) / 10) / 100,
      heapUsedBytes: heap.heapUsed, heapTotalBytes: heap.heapTotal,
      eventLoopLagMaxSeconds: lag.count === 0 ? 0 : lag.max / 1e9, eventLoopLagP99Seconds: lag.count === 0 ? 0 : lag.percentile(99) / 1e9,
    };
    lag.reset();
    return sample;
  }

  /** The `status` document: copies of the entries' statuses, never the fold's own objects. */
  status(pid: number, images: StatusState, budgets: BudgetView[]): DaemonStatus {
    return { pid, startedAt: this.startedAt, eventLoopMaxDelayMs: Math.round(this.#loopDelay.max / 1e6), images: [...images.values()].map((s) => ({ ...s })), budgets };
  }
}
