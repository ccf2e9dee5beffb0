import { describe, expect, it } from 'vitest';
import { defaultPreflight, parseWatermark, preflightField, preflightFromEnv, watermarkBytes } from './config.js';

describe('watermarks', () => {
  it('parses percentages, sizes with units and bare bytes', () => {
    expect(parseWatermark('10%')).toEqual({ kind: 'percent', value: 10 });
    expect(parseWatermark('2GiB')).toEqual({ kind: 'bytes', value: 2 * 1024 ** 3 });
    expect(parseWatermark('500MB')).toEqual({ kind: 'bytes', value: 500e6 });
    expect(parseWatermark('1048576')).toEqual({ kind: 'bytes', value: 1048576 });
    expect(parseWatermark(4096)).toEqual({ kind: 'bytes', value: 4096 });
    for (const bad of ['', '10 percent', '150%', '-1', '2 GiBs', 'lots']) expect(parseWatermark(bad)).toBeUndefined();
  });
  it('turns a percentage into bytes of the file system, rounding up', () => {
    expect(watermarkBytes({ kind: 'percent', value: 10 }, 1001)).toBe(101);
    expect(watermarkBytes({ kind: 'bytes', value: 7 }, 1001)).toBe(7);
  });
});

describe('preflight: in the config', () => {
  it('defaults when absent or empty', () => {
    expect(preflightField.parse(undefined)).toEqual(defaultPreflight);
    expect(preflightField.parse(null)).toEqual(defaultPreflight);
  });
  it('takes minFree, expansion, path and enabled', () => {
    expect(preflightField.parse({ minFree: '1GiB', expansion: 2.5, path: '/host/docker', enabled: false })).toEqual({ enabled: false, minFree: { kind: 'bytes', value: 1024 ** 3 }, expansion: 2.5, path: '/host/docker' });
  });
  it('rejects a bad watermark with a message naming the forms, and unknown keys', () => {
    const r = preflightField.safeParse({ minFree: 'lots' });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toMatch(/"lots" is not a watermark: a percentage such as 10% or a size such as 2GiB/);
    expect(preflightField.safeParse({ minfree: '1%' }).success).toBe(false);
    expect(preflightField.safeParse({ expansion: 0.5 }).success).toBe(false);
  });
});

describe('preflight for pull and run (environment)', () => {
  it('RESOLVER_PREFLIGHT=0 turns it off; the others set the watermark and path', () => {
    expect(preflightFromEnv({ RESOLVER_PREFLIGHT: '0' }).settings.enabled).toBe(false);
    expect(preflightFromEnv({}).settings).toEqual(defaultPreflight);
    const s = preflightFromEnv({ RESOLVER_PREFLIGHT_MIN_FREE: '1MB', RESOLVER_PREFLIGHT_PATH: '/d' });
    expect(s.settings).toEqual({ ...defaultPreflight, minFree: { kind: 'bytes', value: 1e6 }, path: '/d' });
    expect(s.problem).toBeUndefined();
  });
  it('an invalid watermark is reported and the default used', () => {
    const s = preflightFromEnv({ RESOLVER_PREFLIGHT_MIN_FREE: 'x' });
    expect(s.problem).toMatch(/RESOLVER_PREFLIGHT_MIN_FREE="x" is not a percentage/);
    expect(s.settings.minFree).toEqual(defaultPreflight.minFree);
  });
});
