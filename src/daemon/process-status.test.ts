import { afterEach, describe, expect, it } from 'vitest';
import type { BudgetView } from '../budget/budget.js';
import type { EntrySpec } from './events.js';
import { ProcessMonitor } from './process-status.js';
import { emptyStatus, reduceStatus } from './status.js';

const at = '2026-12-01T12:00:00.000Z';
const spec: EntrySpec = { key: 'localhost:5001/app:1 detected', image: 'localhost:5001/app:1', platformSpec: undefined, registry: 'localhost:5001', schedule: '* * * * *', onMissingPlatform: 'hold', retain: 1 };
const summary = { images: 1, schedule: '* * * * *', splayMs: 0, concurrency: 1, platform: undefined, onMissingPlatform: 'hold', retain: 1, logLevel: 'info', metrics: undefined, notifications: undefined } as const;
const budget: BudgetView = { registry: 'hub', identity: 'anonymous', limit: 100, remaining: 40, windowSeconds: 600, reserve: 5, counted: 3, throttled: 0, refused: 0, waitUntil: undefined, waitReason: undefined };

let monitor: ProcessMonitor | undefined;
afterEach(() => {
  monitor?.disable();
  monitor = undefined;
});

describe('ProcessMonitor', () => {
  it('the status document: pid, start time, budgets and copies of the entries\' statuses', () => {
    monitor = new ProcessMonitor();
    const state = reduceStatus(emptyStatus, { type: 'configured', entries: [spec], reload: false, summary, at });
    const status = monitor.status(4242, state, [budget]);
    expect(status).toEqual({ pid: 4242, startedAt: monitor.startedAt, eventLoopMaxDelayMs: 0, images: [state.get(spec.key)], budgets: [budget] });
    expect(Date.parse(status.startedAt)).not.toBeNaN();
    expect(status.images[0]).not.toBe(state.get(spec.key));
  });

  it('a scrape\'s sample: the process figures, and no event-loop lag before the histograms run', () => {
    monitor = new ProcessMonitor();
    const sample = monitor.sample();
    expect(sample).toMatchObject({ eventLoopLagMaxSeconds: 0, eventLoopLagP99Seconds: 0 });
    expect(sample.residentMemoryBytes).toBeGreaterThan(0);
    expect(sample.heapUsedBytes).toBeGreaterThan(0);
    expect(sample.heapTotalBytes).toBeGreaterThanOrEqual(sample.heapUsedBytes);
    expect(sample.cpuSeconds).toBeGreaterThan(0);
    expect(sample.startTimeSeconds).toBeLessThanOrEqual(Date.now() / 1000);
  });

  it('measures the event-loop lag between enable and disable, and each scrape starts the next one\'s histogram', async () => {
    monitor = new ProcessMonitor();
    monitor.enable();
    // Block the loop for a while, then let the histogram's timer fire.
    const end = Date.now() + 60;
    while (Date.now() < end) { /* busy */ }
    await new Promise((r) => setTimeout(r, 30));
    expect(monitor.sample().eventLoopLagMaxSeconds).toBeGreaterThan(0);
    monitor.disable();
    expect(monitor.sample()).toMatchObject({ eventLoopLagMaxSeconds: 0, eventLoopLagP99Seconds: 0 });
    expect(monitor.status(1, emptyStatus, []).eventLoopMaxDelayMs).toBeGreaterThan(0);
  });
});
