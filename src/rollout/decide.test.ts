import { describe, expect, it } from 'vitest';
import { rolloutPolicyOf } from './config.js';
import { controlDocument, parseControl } from './control.js';
import { cohortOf, decide, noControl, type RolloutPolicy } from './decide.js';
import { rolloutField } from './config.js';

const h = 3_600_000;
const t0 = Date.parse('2026-12-02T00:00:00Z');
const child = `sha256:${'c'.repeat(64)}`;
const policy: RolloutPolicy = { cooldownMs: 0, steps: [0.01, 0.1, 0.5, 1], stepEveryMs: 6 * h, window: undefined, seed: '' };
const fleet = Array.from({ length: 10_000 }, (_, i) => `device-${i}`);
const at = (now: number) => ({ now, utcOffsetMinutes: 0 });

describe('decide', () => {
  it('is deterministic: the same device, child and clock give the same decision', () => {
    const a = decide({ device: 'pi-7', child, firstSeen: t0 }, at(t0 + 7 * h), policy, noControl);
    expect(decide({ device: 'pi-7', child, firstSeen: t0 }, at(t0 + 7 * h), policy, noControl)).toEqual(a);
    expect(cohortOf('', 'pi-7', child)).toBe(a.u);
    expect(cohortOf('', 'pi-7', `sha256:${'d'.repeat(64)}`)).not.toBe(a.u);
  });

  it('ramps a 10,000-device fleet 1 % → 10 % → 50 % → 100 % one step every 6 h from first-seen', () => {
    const share = (now: number): number => fleet.filter((device) => decide({ device, child, firstSeen: t0 }, at(now), policy, noControl).kind === 'pull').length / fleet.length;
    const shares = [0, 6, 12, 18].map((hours) => share(t0 + hours * h));
    expect(shares[0]).toBeCloseTo(0.01, 2);
    expect(shares[1]).toBeCloseTo(0.1, 1);
    expect(shares[2]).toBeCloseTo(0.5, 1);
    expect(shares[3]).toBe(1);
    const w = decide({ device: fleet.find((d) => cohortOf('', d, child) > 0.5) ?? '', child, firstSeen: t0 }, at(t0), policy, noControl);
    expect(w).toMatchObject({ kind: 'wait', reason: 'cohort', until: t0 + 18 * h, step: 3 });
  });

  it('cooldown, prefetch window (wrapping midnight), and the control document', () => {
    const cool = { ...policy, steps: [1], cooldownMs: 48 * h };
    expect(decide({ device: 'a', child, firstSeen: t0 }, at(t0 + 47 * h), cool, noControl)).toMatchObject({ kind: 'wait', reason: 'cooldown', until: t0 + 48 * h });
    const night = { ...policy, steps: [1], window: { startMinute: 23 * 60, endMinute: 5 * 60 } };
    expect(decide({ device: 'a', child, firstSeen: t0 }, at(t0 + 12 * h), night, noControl)).toMatchObject({ kind: 'wait', reason: 'window', until: t0 + 23 * h });
    expect(decide({ device: 'a', child, firstSeen: t0 }, at(t0 + 2 * h), night, noControl).kind).toBe('pull');
    expect(decide({ device: 'a', child, firstSeen: t0 }, at(t0 + 24 * h), policy, { ...noControl, paused: true }).kind).toBe('paused');
    expect(decide({ device: 'a', child, firstSeen: t0 }, at(t0 + 24 * h), policy, { ...noControl, blocked: [child] }).kind).toBe('blocked');
    // Forced to step 3 (100 %) at first-seen: everyone pulls; forced to step 0: only the first 1 %.
    expect(fleet.slice(0, 500).every((device) => decide({ device, child, firstSeen: t0 }, at(t0), policy, { ...noControl, step: 3 }).kind === 'pull')).toBe(true);
    const held = fleet.filter((device) => decide({ device, child, firstSeen: t0 }, at(t0 + 30 * h), policy, { ...noControl, step: 0 }).kind === 'paused').length;
    expect(held / fleet.length).toBeCloseTo(0.99, 1);
  });
});

describe('the control document and the config', () => {
  it('round-trips pause, blocked digests and a step; rejects a bad digest', () => {
    expect(parseControl(controlDocument({ paused: true, blocked: [child], step: 2 }))).toEqual({ paused: true, blocked: [child], step: 2 });
    expect(parseControl(controlDocument({}))).toEqual(noControl);
    expect(parseControl(Buffer.from(JSON.stringify({ annotations: { 'io.resolver.rollout.blocked': 'latest' } })))).toMatchObject({ problem: expect.stringMatching(/not a sha256 digest/) });
  });

  it('resolves the policy: image over global over defaults; steps end at 100 %', () => {
    const global = rolloutField.parse({ steps: ['1%', '10%', '50%'], stepEvery: '6h', cooldown: '2d', prefetchWindow: '01:00-05:00' });
    expect(rolloutPolicyOf(global, undefined)).toEqual({ cooldownMs: 48 * h, steps: [0.01, 0.1, 0.5, 1], stepEveryMs: 6 * h, window: { startMinute: 60, endMinute: 300 }, seed: '', control: false });
    expect(rolloutPolicyOf(global, { cooldown: '0s', control: true })).toMatchObject({ cooldownMs: 0, control: true, steps: [0.01, 0.1, 0.5, 1] });
    expect(rolloutPolicyOf(rolloutField.parse(undefined), undefined)).toMatchObject({ steps: [1], cooldownMs: 0, window: undefined });
  });
});
