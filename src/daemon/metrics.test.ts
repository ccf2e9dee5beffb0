import { describe, expect, it } from 'vitest';
import type { DaemonEvent } from './events.js';
import { Metrics } from './metrics.js';

const entry = { key: 'k', image: 'registry.example.com/app:1', platform: 'linux/arm/v7' };
const at = '2026-12-01T12:00:00.000Z';
const sample = { residentMemoryBytes: 50_000_000, cpuSeconds: 1.25, startTimeSeconds: 1_796_000_000.5, heapUsedBytes: 10, heapTotalBytes: 20, eventLoopLagMaxSeconds: 0.012, eventLoopLagP99Seconds: 0.011 };

const events: DaemonEvent[] = [
  { type: 'checked', entry, result: 'unchanged', indexDigest: 'sha256:i', childDigest: 'sha256:c', pulledAt: undefined, at },
  { type: 'pulled', entry, indexDigest: 'sha256:i', childDigest: 'sha256:d', previous: 'sha256:c', pruned: [], at },
  { type: 'held', entry, indexDigest: 'sha256:i', childDigest: 'sha256:d', pulledAt: undefined, message: 'm', available: [], repeat: false, at },
  { type: 'failed', entry, code: 'ERR_NETWORK', message: 'm', failures: 1, retryInMs: 1, retryAfterMs: undefined, backoffUntil: at, recorded: undefined, at },
];

describe('Metrics', () => {
  it('every per-image series carries image and platform; build info, activations at 0, notifications and process metrics are there', () => {
    const m = new Metrics({ build: { version: '1.2.3', node: '20.19.0', runtime: 'linux/x64' }, sample: () => sample });
    for (const e of events) m.apply(e);
    m.notification('hook"1', 'delivered');
    m.notification('hook"1', 'retry');
    m.notification('mqtt', 'dropped');
    const text = m.render();
    const perImage = text.split('\n').filter((l) => /^resolver_(checks|pulls|failures|last_success|held)/.test(l));
    expect(perImage.length).toBeGreaterThanOrEqual(7);
    for (const line of perImage) expect(line).toContain(`image="${entry.image}",platform="linux/arm/v7"`);
    expect(text).toContain('resolver_build_info{version="1.2.3",node="20.19.0",runtime="linux/x64"} 1');
    expect(text).toContain('resolver_activations_total{result="activated"} 0\nresolver_activations_total{result="rolled-back"} 0');
    expect(text).toContain('resolver_notifications_total{sink="hook\\"1",result="delivered"} 1');
    expect(text).toContain('resolver_notifications_total{sink="hook\\"1",result="failed"} 1');
    expect(text).toContain('resolver_notifications_total{sink="mqtt",result="dropped"} 1');
    expect(text).toContain('process_resident_memory_bytes 50000000');
    expect(text).toContain('process_cpu_seconds_total 1.25');
    expect(text).toContain('process_start_time_seconds 1796000000.5');
    expect(text).toContain('nodejs_eventloop_lag_max_seconds 0.012');
    expect(text).toContain('nodejs_eventloop_lag_p99_seconds 0.011');
    // Each family once, HELP then TYPE.
    const families = text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]);
    expect(new Set(families).size).toBe(families.length);
  });

  it('counts the activation events (activated, rolled-back)', () => {
    const m = new Metrics();
    m.apply({ type: 'activated', entry, container: 'web', childDigest: 'sha256:d', previous: 'sha256:c', at });
    m.apply({ type: 'rolled-back', entry, container: 'web', childDigest: 'sha256:c', badDigest: 'sha256:d', message: 'unhealthy', at });
    m.apply({ type: 'rolled-back', entry, container: 'web', childDigest: 'sha256:c', badDigest: 'sha256:d', message: 'unhealthy', at });
    expect(m.render()).toContain('resolver_activations_total{result="activated"} 1\nresolver_activations_total{result="rolled-back"} 2');
  });

  it('a reload drops the gauges of removed entries', () => {
    const m = new Metrics();
    for (const e of events.slice(0, 1)) m.apply(e);
    m.apply({ type: 'configured', entries: [], reload: true, at } as unknown as DaemonEvent);
    expect(m.render()).not.toContain('resolver_held{');
    expect(m.render()).toContain('resolver_checks_total{');
  });
});
