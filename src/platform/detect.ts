/**
 * Host platform detection (shared/spec/platform-matching.md §4, §7 step 1): the engine's Os/Arch from
 * `/version`, the ARM variant from /proc/cpuinfo (or uname), the amd64 level from CPU flags where Docker
 * applies it, the Windows build from `/info`; overrides from `--platform` / `DOCKER_DEFAULT_PLATFORM`.
 * Without an engine, the local process's view, said so. IO edge: host facts come through `HostFacts`,
 * whose default reads files under a root folder so tests can use fixture trees.
 */
import { readFile } from 'node:fs/promises';
import { machine } from 'node:os';
import { join } from 'node:path';
import type { EngineFacts } from './engine-facts.js';
import { amd64LevelFromFlags, cpuinfoFlags, detectArmVariant, mapRawVariant, variantFromUname } from './cpuinfo.js';
import { parsePlatform, platform, type ParseContext, type Platform } from './platform.js';
import { podmanCpuVariant, podmanSplit, podmanWanted, type PodmanHost } from './podman.js';
import { defaultRules, rulesFor, type MatchRules } from './rules.js';

/** Facts about the machine the engine runs on. */
export interface HostFacts {
  cpuinfo(): Promise<string>;
  unameMachine(): Promise<string>;
  cpuFlags(): Promise<string[]>;
}

/**
 * Reads `<root>/proc/cpuinfo`. For `root = '/'` uname comes from `os.machine()`; for a fixture root, from
 * `<root>/uname-m`. CPU flags come from the cpuinfo `flags` line; only where there is none (macOS, Windows)
 * from systeminformation. On Linux systeminformation runs `lscpu` through a shell (~130 ms measured) to
 * read these same kernel flags, so the file is read directly.
 */
export function hostFacts(root = '/'): HostFacts {
  const cpuinfo = (): Promise<string> => readFile(join(root, 'proc/cpuinfo'), 'utf8').catch(() => '');
  return {
    cpuinfo,
    async unameMachine() {
      if (root === '/') return machine();
      return (await readFile(join(root, 'uname-m'), 'utf8').catch(() => '')).trim();
    },
    async cpuFlags() {
      const fromFile = cpuinfoFlags(await cpuinfo());
      if (fromFile.length > 0 || root !== '/') return fromFile;
      const si = await import('systeminformation');
      return (await si.cpuFlags()).split(/\s+/).filter((f) => f !== '');
    },
  };
}

/** A value and where it came from. */
export interface Sourced {
  readonly value: string;
  readonly source: string;
}

/** The platform `resolver` matches against, and why. */
export interface TargetPlatform {
  /** R: what the index entries are matched against. */
  readonly platform: Platform;
  /** What Docker prints in its no-match message. */
  readonly display: Platform;
  /** True when the user gave the platform. */
  readonly requested: boolean;
  readonly parts: { readonly os: Sourced; readonly architecture: Sourced; readonly variant: Sourced; readonly osVersion: Sourced };
  readonly engine: EngineFacts | undefined;
  readonly rules: MatchRules;
  readonly rulesSource: string;
  /** The context `--platform` strings are completed from. */
  readonly parseContext: ParseContext;
  readonly warnings: readonly string[];
  /**
   * Set when the engine is Podman: what Podman's own pull would want (containers/image's list), for
   * showing where it differs from Docker's choice. resolver still follows Docker's rules.
   */
  readonly podman?: { readonly host: PodmanHost; readonly wanted: readonly Platform[] } | undefined;
}

/** Inputs of detection. */
export interface DetectOptions {
  readonly engine: EngineFacts | undefined;
  /** Why the engine could not be reached, when it could not. */
  readonly engineError?: string | undefined;
  readonly facts: HostFacts;
  readonly processArch: string;
  readonly processPlatform: string;
  readonly override?: { readonly spec: string; readonly source: string } | undefined;
  readonly rulesOverride?: { readonly store?: 'containerd' | 'classic' | undefined; readonly engineVersion?: string | undefined } | undefined;
}

const goarch: Readonly<Record<string, string>> = { x64: 'amd64', ia32: '386', arm: 'arm', arm64: 'arm64', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64', mips: 'mips', mipsel: 'mipsle' };
const goos: Readonly<Record<string, string>> = { win32: 'windows', darwin: 'darwin', linux: 'linux', freebsd: 'freebsd', openbsd: 'openbsd', sunos: 'solaris', aix: 'aix' };

/** Node's `process.arch` as a Go GOARCH. */
export function goArch(nodeArch: string): string {
  return goarch[nodeArch] ?? nodeArch;
}

/** Node's `process.platform` as a Go GOOS. */
export function goOS(nodePlatform: string): string {
  return goos[nodePlatform] ?? nodePlatform;
}

/** `10.0 20348 (20348.1.amd64fre…)` or `10.0.20348.1` → `10.0.20348`. */
export function windowsVersionFromKernel(kernel: string | undefined): string {
  const m = /^(\d+)\.(\d+)[ .](\d+)/.exec(kernel ?? '');
  return m === null ? '' : `${m[1]}.${m[2]}.${m[3]}`;
}

function majorMinor(version: string): string {
  const m = /^(\d+)\.(\d+)/.exec(version);
  return m === null ? '0.0' : `${m[1]}.${m[2]}`;
}

/** Computes the target platform. */
export async function detectTarget(o: DetectOptions): Promise<TargetPlatform> {
  const warnings: string[] = [];
  const engine = o.engine;
  const processArch = goArch(o.processArch);
  const os = engine?.os ?? goOS(o.processPlatform);
  const arch = engine?.arch ?? processArch;
  const baseSource = engine === undefined ? 'this process (no engine reachable)' : `engine /version (${engine.endpoint})`;
  if (engine === undefined) {
    warnings.push(`no Docker Engine reachable${o.engineError === undefined ? '' : ` (${o.engineError})`}: using this process's view, ${os}/${arch}`);
  }

  let rules: MatchRules = defaultRules;
  let rulesSource = `default: Docker ${defaultRules.engineVersion}, containerd image store`;
  if (engine?.product === 'podman') {
    // Podman's Version is its own (4.3.1), not a Docker release: keep today's Docker rules, the child a
    // fresh Docker on this host would pull; resolver pulls it by digest, so Podman's matcher never runs.
    rulesSource = `Podman Engine ${engine.version} (Docker API ${engine.apiVersion}): resolver keeps Docker's rules (Docker ${defaultRules.engineVersion}, containerd image store)`;
  } else if (engine !== undefined) {
    let version = majorMinor(engine.version);
    if (Number.parseInt(version, 10) < 23) {
      warnings.push(`Docker Engine ${engine.version} predates today's platform rules (no arm64→arm or amd64→386 fallback); resolver applies Docker 23.0's rules`);
      version = '23.0';
    }
    rules = rulesFor(version, engine.store);
    rulesSource = `engine: Docker ${engine.version}, ${engine.store} image store`;
  }
  if (o.rulesOverride?.engineVersion !== undefined || o.rulesOverride?.store !== undefined) {
    rules = rulesFor(o.rulesOverride.engineVersion ?? rules.engineVersion, o.rulesOverride.store ?? rules.store);
    rulesSource = `override: Docker ${rules.engineVersion}, ${rules.store} image store`;
  }

  // containerd's cpuVariant(): only for arm and arm64 builds.
  let cpuVariant = '';
  let variantSource = 'none (no variant on this architecture)';
  if (arch === 'arm' || arch === 'arm64') {
    if (engine !== undefined && !engine.local) {
      const raw = variantFromUname(engine.kernelArch ?? '');
      cpuVariant = arch === 'arm64' ? 'v8' : raw === undefined ? '' : mapRawVariant(raw);
      variantSource = `engine /info Architecture ${engine.kernelArch ?? '?'} (remote engine: a weak hint; Docker reads the engine host's cpuinfo)`;
    } else {
      const uname = engine?.kernelArch ?? (await o.facts.unameMachine());
      const got = detectArmVariant(await o.facts.cpuinfo(), arch, uname);
      cpuVariant = got?.variant ?? '';
      variantSource = got === undefined ? 'undetectable (no CPU architecture line, unknown uname)' : got.source === 'cpuinfo' ? '/proc/cpuinfo "CPU architecture"' : `uname -m (${uname})`;
    }
  }
  const parseContext: ParseContext = { os, architecture: arch, cpuVariant };

  if (engine !== undefined && engine.local && processArch !== arch) {
    warnings.push(`this process runs as ${processArch} but the engine is ${arch}: resolver follows the engine`);
  }
  const kernel = (engine?.kernelArch ?? '').toLowerCase();
  if (arch === 'arm' && (kernel === 'aarch64' || kernel === 'arm64' || cpuVariant === 'v8')) {
    warnings.push('a 32-bit (arm) engine on a 64-bit kernel: Docker matches linux/arm/v8 and will not pull arm64 children');
  }
  if (arch === '386' && kernel === 'x86_64') warnings.push('a 32-bit (386) engine on a 64-bit kernel: Docker will not pull amd64 children');
  if (engine === undefined && processArch === 'arm' && ['aarch64', 'arm64', 'armv8l'].includes((await o.facts.unameMachine()).toLowerCase())) {
    warnings.push('an arm64 kernel with a 32-bit userland: this process sees linux/arm/v8; an arm64 engine would use linux/arm64/v8');
  }

  let podman: TargetPlatform['podman'];
  if (engine?.product === 'podman') {
    const host: PodmanHost = { os, architecture: arch, cpuVariant: engine.local ? podmanCpuVariant(await o.facts.cpuinfo(), arch) : cpuVariant };
    podman = { host, wanted: podmanWanted(o.override === undefined ? undefined : podmanSplit(o.override.spec), host) };
  }

  if (o.override !== undefined) {
    const p = parsePlatform(o.override.spec, parseContext);
    const src = `${o.override.source} ${o.override.spec}`;
    return {
      platform: p, display: p, requested: true,
      parts: { os: { value: p.os, source: src }, architecture: { value: p.architecture, source: src }, variant: { value: p.variant, source: src }, osVersion: { value: p.osVersion, source: src } },
      engine, rules, rulesSource, parseContext, warnings, podman,
    };
  }

  let variant = arch === 'arm' || arch === 'arm64' ? cpuVariant : '';
  if (arch === 'amd64') {
    if (!rules.amd64Level) {
      variantSource = `none (Docker ${rules.engineVersion} with the ${rules.store} store adds no amd64 level)`;
    } else if (engine !== undefined && !engine.local) {
      variantSource = 'none (the amd64 level of a remote engine cannot be known)';
    } else {
      // moby's AMD64Variant() answers "v1" on a baseline CPU and hostPlatformSpec()/maximumSpec() keep
      // it: the match is the same as with no variant (Normalize drops v1), but the containerd store's
      // no-match message prints linux/amd64/v1.
      const level = amd64LevelFromFlags(await o.facts.cpuFlags());
      variant = level;
      variantSource = `CPU flags (x86-64 level ${level})`;
    }
  }
  const osVersion = os === 'windows' ? windowsVersionFromKernel(engine?.kernelVersion) : '';
  const p = platform(os, arch, variant, { osVersion });
  // Classic store prints DefaultSpec (no amd64 level); the containerd store prints what it matched.
  const display = rules.store === 'classic' && arch === 'amd64' ? platform(os, arch, '', { osVersion }) : p;
  return {
    platform: p, display, requested: false,
    parts: {
      os: { value: os, source: baseSource },
      architecture: { value: arch, source: baseSource },
      variant: { value: variant, source: variantSource },
      osVersion: { value: osVersion, source: os === 'windows' ? 'engine /info KernelVersion' : 'not used on this OS' },
    },
    engine, rules, rulesSource, parseContext, warnings, podman,
  };
}
