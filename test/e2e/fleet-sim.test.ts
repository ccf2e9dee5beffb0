/**
 * A small, bounded run of the fleet simulator (bench/fleet.mjs: the built splay, rollout and budget code on a
 * virtual clock; the full 10,000-device run is `node bench/fleet.mjs`, figures in bench/README.md). Needs
 * `npm run build` (the integration project runs after it).
 */
import { describe, expect, it } from 'vitest';
import { simulate } from '../../bench/fleet.mjs';

const h = 3_600_000;

describe('fleet simulator (400 devices, 2 days)', () => {
  it('shows the ramp through a mirror: about half the fleet at 12 h, all by 18 h; 2 counted requests at the origin', () => {
    const r = simulate({ n: 400, days: 2, mirror: true, steps: [0.01, 0.1, 0.5, 1] });
    expect(r.pulled).toBe(400);
    expect(r.t99).toBeGreaterThanOrEqual(18 * h);
    expect(r.t99).toBeLessThan(18.5 * h);
    expect(r.t50).toBeGreaterThanOrEqual(12 * h);
    expect(r.originCounted).toBe(2);
    expect(r.throttled).toBe(0);
  });

  it('without a mirror the budget keeps the fleet at the allowance minus the reserve and gets no 429', () => {
    const r = simulate({ n: 400, days: 1, mirror: false, limit: 100 });
    expect(r.throttled).toBe(0);
    // 24 h = 4 windows of 6 h; at most 95 counted per window (5 % reserve), 2 per device.
    expect(r.originCounted).toBeLessThanOrEqual(4 * 96);
    expect(r.pulled).toBe(r.originCounted / 2);
  });

  it('spreads the checks with splay = the schedule period (the default, auto): far below the old 60 s default\'s peak', () => {
    const spread = simulate({ n: 400, days: 0, mirror: true, splayMs: 15 * 60_000 });
    const bunched = simulate({ n: 400, days: 0, mirror: true, splayMs: 60_000 });
    expect(bunched.peakOverMean).toBe(15);
    expect(spread.peakOverMean).toBeLessThan(2);
  });
});
