import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { amd64LevelFromFlags, cpuinfoFlags, detectArmVariant, mapRawVariant, variantFromUname } from './cpuinfo.js';

const fixture = (name: string): string => readFileSync(new URL(`../../test/fixtures/cpuinfo/${name}/proc/cpuinfo`, import.meta.url), 'utf8');

describe('variantFromUname (spec §8.9 C1–C5)', () => {
  it.each([
    ['aarch64', '8'],
    ['Armv8', '8'],
    ['armv7', '7'],
    ['armv7l', '7'],
    ['armv6l', '6'],
    ['armv5tel', '5'],
    ['armv4', '4'],
    ['armv3', '3'],
    ['armv9', 'unknown'],
  ])('%s → %s', (machine, raw) => {
    expect(variantFromUname(machine)).toBe(raw);
  });

  it.each(['armxxxx', 'armv', 'x86_64', ''])('%j is an error (undefined)', (machine) => {
    expect(variantFromUname(machine)).toBeUndefined();
  });
});

describe('mapRawVariant (C8)', () => {
  it.each([
    ['7M', 'v7'],
    ['?(12)', 'v7'],
    ['6TEJ', 'v6'],
    ['5TE', 'v5'],
    ['4T', 'v4'],
    ['3', 'v3'],
    ['aarch64', 'v8'],
    ['9', 'unknown'],
  ])('%s → %s', (raw, variant) => {
    expect(mapRawVariant(raw)).toBe(variant);
  });
});

describe('detectArmVariant on captured /proc/cpuinfo', () => {
  it('Raspberry Pi Zero/1 (ARMv6 core printing "7") is v6 for a 32-bit build (C6)', () => {
    expect(detectArmVariant(fixture('rpi1-armv6'), 'arm', 'armv6l')).toEqual({ variant: 'v6', source: 'cpuinfo' });
  });
  it('Raspberry Pi 3, 32-bit OS, is v7', () => {
    expect(detectArmVariant(fixture('rpi3-armv7'), 'arm', 'armv7l')).toEqual({ variant: 'v7', source: 'cpuinfo' });
  });
  it('Raspberry Pi 4 aarch64 is v8 (C7)', () => {
    expect(detectArmVariant(fixture('rpi4-aarch64'), 'arm64', 'aarch64')).toEqual({ variant: 'v8', source: 'cpuinfo' });
  });
  it('a 32-bit build on a 64-bit kernel reads 8 and becomes arm/v8', () => {
    expect(detectArmVariant(fixture('rpi4-aarch64'), 'arm', 'aarch64')).toEqual({ variant: 'v8', source: 'cpuinfo' });
  });
  it('falls back to uname without a CPU architecture line (qemu-user)', () => {
    expect(detectArmVariant('processor\t: 0\n', 'arm', 'armv7l')).toEqual({ variant: 'v7', source: 'uname' });
    expect(detectArmVariant('', 'arm', 'x86_64')).toBeUndefined();
  });
  it('matches the key case-insensitively and takes the first line', () => {
    expect(detectArmVariant('cpu ARCHITECTURE : 6\nCPU architecture: 7\n', 'arm', '')).toEqual({ variant: 'v6', source: 'cpuinfo' });
  });
});

describe('amd64LevelFromFlags', () => {
  it.each([
    ['x86_64-v1', 'v1'],
    ['x86_64-v2', 'v2'],
    ['x86_64-avx2', 'v3'],
    ['x86_64-avx512', 'v4'],
  ])('%s → %s', (name, level) => {
    expect(amd64LevelFromFlags(cpuinfoFlags(fixture(name)))).toBe(level);
  });
  it('infers abm (LZCNT) from AVX2+BMI1+BMI2, which hypervisor kernels may hide', () => {
    const flags = cpuinfoFlags(fixture('x86_64-avx512')).filter((f) => f !== 'abm');
    expect(amd64LevelFromFlags(flags)).toBe('v4');
  });
  it('drops to v2 when a v3 flag other than abm is missing', () => {
    expect(amd64LevelFromFlags(cpuinfoFlags(fixture('x86_64-avx512')).filter((f) => f !== 'movbe'))).toBe('v2');
    expect(amd64LevelFromFlags(cpuinfoFlags(fixture('x86_64-avx2')).filter((f) => f !== 'abm' && f !== 'bmi2'))).toBe('v2');
  });
  it('drops to v3 when an AVX-512 flag is missing', () => {
    expect(amd64LevelFromFlags(cpuinfoFlags(fixture('x86_64-avx512')).filter((f) => f !== 'avx512vl'))).toBe('v3');
  });
});
