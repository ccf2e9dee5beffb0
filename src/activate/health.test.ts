import { describe, expect, it } from 'vitest';
import type { ContainerOps } from '../engine/container-ops.js';
import { waitHealthy } from './health.js';

/** An engine whose container is running with a HEALTHCHECK that reports `streak` failures. */
function unhealthy(streak: number): ContainerOps {
  const doc = {
    Config: { Healthcheck: { Test: ['CMD', 'false'] } },
    RestartCount: 0,
    State: { Running: true, StartedAt: '2026-12-02T07:00:00Z', Health: { Status: 'unhealthy', FailingStreak: streak } },
  };
  return { inspectFull: () => Promise.resolve(doc) } as unknown as ContainerOps;
}

const clock = { monotonic: () => 0, sleep: () => Promise.resolve() };
const rule = { healthTimeoutMs: 1000, stableForMs: 1000 };

describe('the unhealthy verdict', () => {
  it('counts the failing streak in words a person reads', async () => {
    expect(await waitHealthy(unhealthy(1), 'c', rule, clock)).toEqual({ ok: false, reason: "the new container's HEALTHCHECK reported unhealthy (1 failure in a row)" });
    expect(await waitHealthy(unhealthy(3), 'c', rule, clock)).toEqual({ ok: false, reason: "the new container's HEALTHCHECK reported unhealthy (3 failures in a row)" });
  });
});
