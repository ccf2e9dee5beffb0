/**
 * CPU variant detection as containerd/platforms does it on Linux (cpuinfo_linux.go:
 * `getCPUInfo`, `getCPUVariantFromArch`, `getCPUVariant`), and the amd64 micro-architecture
 * level that moby adds (go-archvariant), approximated from /proc/cpuinfo flags
 * (shared/spec/platform-matching.md §4.2–4.3). Pure: callers pass the file text.
 */

/** First value of a /proc/cpuinfo field (case-insensitive key), or undefined. */
export function cpuinfoField(text: string, key: string): string | undefined {
  const want = key.toLowerCase();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    if (line.slice(0, colon).trim().toLowerCase() !== want) continue;
    const rest = line.slice(colon + 1);
    const second = rest.indexOf(':');
    return (second === -1 ? rest : rest.slice(0, second)).trim();
  }
  return undefined;
}

/** `getCPUVariantFromArch`: the raw variant from `uname -m`, or undefined (an error upstream). */
export function variantFromUname(machine: string): string | undefined {
  const m = machine.toLowerCase();
  if (m === 'aarch64') return '8';
  if (m.length >= 5 && m.startsWith('armv')) {
    const digit = m.slice(4, 5);
    return ['3', '4', '5', '6', '7', '8'].includes(digit) ? digit : 'unknown';
  }
  return undefined;
}

/** Maps the raw `CPU architecture` value to a variant (`getCPUVariant`). */
export function mapRawVariant(raw: string): string {
  switch (raw.toLowerCase()) {
    case '8':
    case 'aarch64':
      return 'v8';
    case '7':
    case '7m':
    case '?(12)':
    case '?(13)':
    case '?(14)':
    case '?(15)':
    case '?(16)':
    case '?(17)':
      return 'v7';
    case '6':
    case '6tej':
      return 'v6';
    case '5':
    case '5t':
    case '5te':
    case '5tej':
      return 'v5';
    case '4':
    case '4t':
      return 'v4';
    case '3':
      return 'v3';
    default:
      return 'unknown';
  }
}

/** Where the ARM variant came from. */
export type VariantSource = 'cpuinfo' | 'uname';

/**
 * containerd's `cpuVariant()` for an arm or arm64 build (`goarch`).
 * Returns undefined when neither cpuinfo nor uname gives an answer (containerd logs and leaves it empty).
 */
export function detectArmVariant(
  cpuinfo: string,
  goarch: string,
  unameMachine: string,
): { variant: string; source: VariantSource } | undefined {
  let raw = cpuinfoField(cpuinfo, 'Cpu architecture');
  let source: VariantSource = 'cpuinfo';
  if (raw === undefined) {
    raw = variantFromUname(unameMachine);
    source = 'uname';
    if (raw === undefined) return undefined;
  }
  // Raspberry Pi Zero/1: an ARMv6 core whose kernel prints "CPU architecture: 7".
  if (goarch === 'arm' && raw === '7') {
    const model = cpuinfoField(cpuinfo, 'model name')?.toLowerCase() ?? '';
    if (model.startsWith('armv6-compatible')) raw = '6';
  }
  return { variant: mapRawVariant(raw), source };
}

const v2Flags = ['pni', 'ssse3', 'cx16', 'sse4_1', 'sse4_2', 'popcnt', 'lahf_lm'];
const v3Flags = ['fma', 'movbe', 'xsave', 'avx', 'f16c', 'bmi1', 'avx2', 'bmi2', 'abm'];
const v4Flags = ['avx512f', 'avx512dq', 'avx512cd', 'avx512bw', 'avx512vl'];

/** The `flags` line of /proc/cpuinfo as a list. */
export function cpuinfoFlags(cpuinfo: string): string[] {
  return (cpuinfoField(cpuinfo, 'flags') ?? '').split(/\s+/).filter((f) => f !== '');
}

/**
 * The x86-64 psABI level (`v1`…`v4`) from kernel CPU flags, as go-archvariant computes it from CPUID.
 * The kernel clears avx* flags when the OS does not enable their XSAVE state, which stands in for XCR0.
 */
export function amd64LevelFromFlags(flags: readonly string[]): 'v1' | 'v2' | 'v3' | 'v4' {
  const have = new Set(flags);
  // LZCNT (kernel flag `abm`) ships on every CPU that has AVX2, BMI1 and BMI2 (Intel Haswell+, AMD
  // Excavator+), but some hypervisor kernels hide `abm` from /proc/cpuinfo while CPUID reports it
  // (seen on the CI machines: CPUID 0x80000001 ECX bit 5 set, no `abm` flag; dockerd 26 picked v4).
  if (have.has('avx2') && have.has('bmi1') && have.has('bmi2')) have.add('abm');
  const all = (list: readonly string[]): boolean => list.every((f) => have.has(f));
  if (!all(v2Flags)) return 'v1';
  if (!all(v3Flags)) return 'v2';
  if (!all(v4Flags)) return 'v3';
  return 'v4';
}

/** The amd64 flags a level is missing, to explain a result. */
export function missingForLevel(flags: readonly string[], level: 'v2' | 'v3' | 'v4'): string[] {
  const have = new Set(flags);
  const need = level === 'v2' ? v2Flags : level === 'v3' ? [...v2Flags, ...v3Flags] : [...v2Flags, ...v3Flags, ...v4Flags];
  return need.filter((f) => !have.has(f));
}
