/**
 * The version switches of Docker's platform matching (shared/spec/platform-matching.md §0, §4.5, §6.4).
 * A `MatchRules` value says which Docker Engine and image store the resolver imitates. Pure.
 */

/** Which Docker behaviour to follow. */
export interface MatchRules {
  /** Image store: the containerd store (default on fresh 29.x installs) or the classic graphdriver store. */
  readonly store: 'containerd' | 'classic';
  /** Engine version imitated, `major.minor`. */
  readonly engineVersion: string;
  /** containerd/platforms rc.3+ (Docker ≥ 29.6): a candidate's os.features must be a subset of the host's. */
  readonly osFeatures: boolean;
  /** Whether a pull without `--platform` adds the CPU's amd64 level (classic ≥ 23.0, containerd ≥ 29.6). */
  readonly amd64Level: boolean;
  /** arm64 minor variants (v8.x, v9.x) take part in vectors (platforms rc.1+, Docker ≥ 28). */
  readonly arm64Minors: boolean;
  /**
   * Windows os.version compatibility floor for hosts at build 20348 or later, by containerd/platforms
   * release: `rc1` (v0.2.x and rc.1, Docker ≤ 28: WS2022 is the only LTSC, so the floor is 20348);
   * `rc4` (rc.2–rc.4, Docker 29.0–29.7: the LTSC strictly below the host, so a 26200 host refuses WS2022,
   * moby#53397); `rc5` (the fix, Docker ≥ 29.8: the LTSC before the host's generation).
   */
  readonly windowsFloor: 'rc1' | 'rc4' | 'rc5';
  /** Windows os.version matching on non-Windows daemons (Docker ≥ 28). */
  readonly windowsVersionOnAnyHost: boolean;
  /**
   * The containerd store's no-match error names the platform (`no matching manifest for P in the
   * manifest list entries: …`) since Docker 27.3 (moby c7f8557); before, it is containerd's bare
   * `no match for platform in manifest: not found` (seen from dockerd 26.1.5).
   */
  readonly c8dNoMatchNamesPlatform: boolean;
}

/** Compares dotted engine versions by number (`20.10.24+dfsg1` < `24` < `28.2`): negative, 0 or positive. */
export function compareVersion(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The latest released Docker Engine this program imitates by default. */
export const currentEngineVersion = '29.7';

/** Rules for an engine version and image store. */
export function rulesFor(engineVersion: string, store: 'containerd' | 'classic'): MatchRules {
  const atLeast = (v: string): boolean => compareVersion(engineVersion, v) >= 0;
  return {
    store,
    engineVersion,
    osFeatures: atLeast('29.6'),
    amd64Level: store === 'classic' ? atLeast('23.0') : atLeast('29.6'),
    arm64Minors: atLeast('28.0'),
    windowsFloor: atLeast('29.8') ? 'rc5' : atLeast('29.0') ? 'rc4' : 'rc1',
    windowsVersionOnAnyHost: atLeast('28.0'),
    c8dNoMatchNamesPlatform: atLeast('27.3'),
  };
}

/** Current Docker (29.7, containerd image store). */
export const defaultRules: MatchRules = rulesFor(currentEngineVersion, 'containerd');
