#!/usr/bin/env node
// Fleet simulator (issue 12 §3; docs/rollout.md): N daemons in one process on a virtual clock, using the real
// splay (dist/daemon/timing.js), rollout decision (dist/rollout/decide.js) and budget (dist/budget/budget.js),
// against a Docker Hub model whose allowance is shared by one NAT address. Run after `npm run build`:
//   node bench/fleet.mjs            (N=10000, 100 pulls / 6 h, schedule every 15 m, splay auto = 15 m)
//   FLEET_N=2000 FLEET_LIMIT=200 FLEET_DAYS=10 node bench/fleet.mjs
import { splayFor } from '../dist/daemon/timing.js';
import { splayOf } from '../dist/daemon/scheduler.js';
import { decide, noControl } from '../dist/rollout/decide.js';
import { RegistryBudget } from '../dist/budget/budget.js';

/** Simulates one change (splay: the daemon's default, `auto`, for the default schedule `*\/15 * * * *`) of the tag at t=0 (after a day of steady state) and returns the figures. */
export function simulate({ n = 10_000, limit = 100, windowS = 21_600, periodMs = 15 * 60_000, splayMs = splayOf(undefined, '*/15 * * * *'), days = 3, mirror = false, steps = [1], stepEveryMs = 6 * 3_600_000, reservePercent = 5 } = {}) {
  const key = 'docker.io/library/app:stable linux/amd64';
  const child = `sha256:${'2'.repeat(64)}`;
  const policy = { cooldownMs: 0, steps, stepEveryMs, window: undefined, seed: '' };
  const devices = Array.from({ length: n }, (_, i) => `device-${String(i).padStart(5, '0')}`);
  const offset = devices.map((d) => splayFor(d, key, splayMs));
  let now = 0;
  const budgets = devices.map(() => new RegistryBudget({ reservePercent }, () => now));
  const pulledAt = new Array(n).fill(undefined);
  const firstSeen = new Array(n).fill(undefined);
  // Hub: counted GETs of the shared address inside the sliding window.
  const counted = [];
  let throttled = 0;
  let originCounted = 0;
  const buckets = new Map();
  const hit = (t) => buckets.set(Math.floor(t / 60_000), (buckets.get(Math.floor(t / 60_000)) ?? 0) + 1);
  const hub = (t) => {
    while (counted.length > 0 && counted[0] <= t - windowS * 1000) counted.shift();
    if (counted.length >= limit) return { status: 429, remaining: 0 };
    counted.push(t);
    originCounted++;
    return { status: 200, remaining: limit - counted.length };
  };
  let mirrorHas = false;
  const changeAt = 24 * 3_600_000;
  const end = changeAt + days * 86_400_000;
  // Every device checks at slot + its splay; events in time order.
  for (let slot = 0; slot < end; slot += periodMs) {
    const order = devices.map((_, i) => i).sort((a, b) => offset[a] - offset[b]);
    for (const i of order) {
      now = slot + offset[i];
      if (now >= end) continue;
      hit(now); // the HEAD (free); Hub's HEAD answers carry the shared allowance too
      if (!mirror) {
        while (counted.length > 0 && counted[0] <= now - windowS * 1000) counted.shift();
        budgets[i].answered('hub', 'anonymous', false, 200, { limit, remaining: limit - counted.length, window: String(windowS) }, undefined);
      }
      if (now < changeAt || pulledAt[i] !== undefined) continue;
      firstSeen[i] ??= now;
      const d = decide({ device: devices[i], child, firstSeen: firstSeen[i] }, { now, utcOffsetMinutes: 0 }, policy, noControl);
      if (d.kind !== 'pull') continue;
      if (mirror) {
        // The mirror pulls from the origin once per change (index + child); devices GET from the mirror.
        if (!mirrorHas) {
          hub(now); hub(now); hit(now); hit(now);
          mirrorHas = true;
        }
        pulledAt[i] = now;
        continue;
      }
      const b = budgets[i];
      if (b.admit('hub', 'anonymous', true) !== undefined) continue;
      let ok = true;
      for (let r = 0; r < 2 && ok; r++) {
        hit(now);
        const res = hub(now);
        if (res.status === 429) throttled++;
        b.answered('hub', 'anonymous', true, res.status, { limit, remaining: res.remaining, window: String(windowS) }, undefined);
        ok = res.status === 200;
      }
      if (ok) pulledAt[i] = now;
    }
  }
  const reached = (share) => {
    const times = pulledAt.filter((t) => t !== undefined).map((t) => t - changeAt).sort((a, b) => a - b);
    const k = Math.ceil(share * n) - 1;
    return times.length > k ? times[k] : undefined;
  };
  // Peak/mean per 60 s bucket over the steady day before the change (HEADs only).
  const steady = [...buckets].filter(([m]) => m * 60_000 < changeAt).map(([, c]) => c);
  const mean = steady.reduce((a, b) => a + b, 0) / (changeAt / 60_000);
  return {
    n, limit, windowS, splayMs, mirror, steps, days,
    peakOverMean: Math.max(...steady) / mean, mean,
    t50: reached(0.5), t99: reached(0.99), pulled: pulledAt.filter((t) => t !== undefined).length, throttled, originCounted,
  };
}

const hours = (ms) => (ms === undefined ? 'not within the horizon' : `${(ms / 3_600_000).toFixed(1)} h`);
if (import.meta.url === `file://${process.argv[1]}`) {
  const n = Number(process.env.FLEET_N ?? 10_000);
  const limit = Number(process.env.FLEET_LIMIT ?? 100);
  const days = Number(process.env.FLEET_DAYS ?? 3);
  const rows = [
    ['splay 60 s (the old default), mirror', { splayMs: 60_000, mirror: true }],
    ['splay 60 s (the old default), no mirror', { splayMs: 60_000, mirror: false }],
    ['splay auto = 15 m (the default), mirror', { mirror: true }],
    ['splay auto = 15 m, mirror, ramp 1/10/50/100 % every 6 h', { mirror: true, steps: [0.01, 0.1, 0.5, 1] }],
    ['splay auto = 15 m, no mirror', { mirror: false }],
  ];
  console.log(`fleet: N=${n}, Hub allowance ${limit} counted pulls per 6 h shared by one NAT address, checks every 15 min, ${days} days after the change`);
  console.log('| case | peak/mean per 60 s | 50 % reached | 99 % reached | pulled | 429s | counted at origin |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const [name, o] of rows) {
    const started = performance.now();
    const r = simulate({ n, limit, days, ...o });
    console.log(`| ${name} | ${r.peakOverMean.toFixed(2)} | ${hours(r.t50)} | ${hours(r.t99)} | ${r.pulled} | ${r.throttled} | ${r.originCounted} |`);
    console.error(`  (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
}
