import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { detectTarget, hostFacts } from '../platform/detect.js';
import type { EngineFacts } from '../platform/engine-facts.js';
import { onlyMatcher } from '../platform/match.js';
import { parsePlatform } from '../platform/platform.js';
import { defaultRules, rulesFor, type MatchRules } from '../platform/rules.js';
import type { ImageIndex } from './schema.js';
import { availablePlatforms, noMatchMessage, selectManifest } from './select.js';

const ctx = { os: 'linux', architecture: 'amd64', cpuVariant: '' };
const d = (n: number): string => `sha256:${String(n).padStart(64, '0')}`;
const img = 'application/vnd.oci.image.manifest.v1+json';
type P = Record<string, unknown> | undefined;
const index = (platforms: P[], mediaTypes: string[] = []): ImageIndex => ({
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.index.v1+json',
  manifests: platforms.map((platform, i) => ({ mediaType: mediaTypes[i] ?? img, digest: d(i), size: 100, ...(platform === undefined ? {} : { platform }) })),
});
const pick = (idx: ImageIndex, host: string, rules: MatchRules = defaultRules): number | 'none' => {
  const sel = selectManifest(idx, onlyMatcher(parsePlatform(host, ctx), rules, 'linux'), rules);
  return sel.kind === 'matched' ? sel.position : 'none';
};
const L = (architecture: string, variant?: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ os: 'linux', architecture, ...(variant === undefined ? {} : { variant }), ...extra });
const att = { os: 'unknown', architecture: 'unknown' };

describe('selectManifest', () => {
  it('prefers the lowest rank, then document order', () => {
    const idx = index([L('386'), L('amd64', 'v2'), L('amd64'), L('amd64', 'v3')]);
    expect(pick(idx, 'linux/amd64/v3')).toBe(3);
    expect(pick(idx, 'linux/amd64/v2')).toBe(1);
    expect(pick(idx, 'linux/amd64')).toBe(2);
    expect(pick(idx, 'linux/386')).toBe(0);
  });

  it('treats spelling variants as ties decided by document order (spec §5.4)', () => {
    expect(pick(index([L('arm64', 'v8'), L('arm64')]), 'linux/arm64')).toBe(0);
    expect(pick(index([L('arm64'), L('arm64', 'v8')]), 'linux/arm64')).toBe(0);
    expect(pick(index([L('x86_64'), L('amd64')]), 'linux/amd64')).toBe(0);
    expect(pick(index([L('i386'), L('386')]), 'linux/386')).toBe(0);
    expect(pick(index([L('arm'), L('arm', 'v7')]), 'linux/arm/v7')).toBe(0);
  });

  it('prefers arm64 entries over every 32-bit fallback, and takes arm/v7 over arm64/v8.2 on an arm64 host', () => {
    expect(pick(index([L('arm', 'v7'), L('arm64')]), 'linux/arm64')).toBe(1);
    expect(pick(index([L('arm64', 'v8.2'), L('arm', 'v7')]), 'linux/arm64')).toBe(1);
  });

  it('never takes attestations; takes platform-less entries only as the last resort', () => {
    expect(pick(index([att, undefined, L('arm64')]), 'linux/arm64')).toBe(2);
    expect(pick(index([att, undefined, L('arm64')]), 'linux/amd64')).toBe(1);
    expect(pick(index([att]), 'linux/amd64')).toBe('none');
  });

  it('rejects {} on the containerd store and keeps it as a last resort on the classic store (spec §6.4)', () => {
    const idx = index([{}, L('arm64')]);
    expect(pick(idx, 'linux/amd64')).toBe('none');
    expect(pick(idx, 'linux/amd64', rulesFor('26.1', 'classic'))).toBe(0);
  });

  it('ranks more os.features first among equal ranks, and filters features from 29.6 on (W24, O15)', () => {
    const winRules = defaultRules;
    const w = (features: string[]): Record<string, unknown> => ({ os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.1', 'os.features': features });
    const idx = index([w([]), w(['win32k'])]);
    const sel = selectManifest(idx, onlyMatcher(parsePlatform('windows(10.0.20348)/amd64', ctx), winRules, 'windows'), winRules);
    expect(sel.kind === 'matched' && sel.position).toBe(1);
    expect(pick(index([L('amd64', undefined, { 'os.features': ['sse4'] }), L('amd64')]), 'linux/amd64')).toBe(1);
    expect(pick(index([L('amd64', undefined, { 'os.features': ['sse4'] }), L('amd64')]), 'linux/amd64', rulesFor('29.5', 'containerd'))).toBe(0);
  });

  it('keeps document order among compatible Windows builds (W20, W21)', () => {
    const w = (v: string): Record<string, unknown> => ({ os: 'windows', architecture: 'amd64', 'os.version': v });
    const idx = index([w('10.0.17763.5000'), w('10.0.20348.100'), w('10.0.20348.2000'), w('10.0.22621.1'), w('10.0.26100.1')]);
    const sel = selectManifest(idx, onlyMatcher(parsePlatform('windows(10.0.20348)/amd64', ctx), defaultRules, 'windows'), defaultRules);
    expect(sel.kind === 'matched' && sel.position).toBe(1);
    const idx2 = index([w('10.0.20348.1000'), w('10.0.20348.999')]);
    const sel2 = selectManifest(idx2, onlyMatcher(parsePlatform('windows(10.0.20348)/amd64', ctx), defaultRules, 'windows'), defaultRules);
    expect(sel2.kind === 'matched' && sel2.position).toBe(0);
  });

  it('on the classic store skips matched entries of unknown media types', () => {
    const idx = index([L('amd64'), L('amd64')], ['application/vnd.example.artifact', img]);
    expect(pick(idx, 'linux/amd64', rulesFor('26.1', 'classic'))).toBe(1);
    expect(pick(idx, 'linux/amd64')).toBe(0);
  });

  it('explains every entry', () => {
    const idx = index([L('amd64'), L('arm64'), att, undefined, L('amd64', 'v2')]);
    const sel = selectManifest(idx, onlyMatcher(parsePlatform('linux/amd64/v2', ctx), defaultRules, 'linux'), defaultRules);
    expect(sel.entries.map((e) => e.verdict)).toEqual([
      { kind: 'accepted', rank: 1, order: 1 },
      { kind: 'incompatible' },
      { kind: 'attestation' },
      { kind: 'last-resort', order: 2 },
      { kind: 'chosen', rank: 0 },
    ]);
  });

  it('lists available platforms without attestations or duplicates, and words the error as Docker does (E1–E3)', () => {
    expect(availablePlatforms(index([L('s390x'), att, L('s390x'), { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1' }]))).toEqual(['linux/s390x', 'windows(10.0.17763.1)/amd64']);
    const arm64 = parsePlatform('linux/arm64/v8', ctx);
    expect(noMatchMessage(arm64, defaultRules)).toBe('no matching manifest for linux/arm64/v8 in the manifest list entries: no match for platform in manifest: not found');
    expect(noMatchMessage(arm64, rulesFor('26.1', 'classic'))).toBe('no matching manifest for linux/arm64/v8 in the manifest list entries');
    // The containerd store of dockerd 26.1.5 (seen in the harness) answers containerd's bare text; 27.3 added the platform.
    expect(noMatchMessage(arm64, rulesFor('26.1', 'containerd'))).toBe('no match for platform in manifest: not found');
    expect(noMatchMessage(arm64, rulesFor('27.3', 'containerd'))).toBe('no matching manifest for linux/arm64/v8 in the manifest list entries: no match for platform in manifest: not found');
    expect(noMatchMessage(parsePlatform('windows(10.0.17763)/arm64/v8', ctx), rulesFor('26.1', 'classic'))).toBe('no matching manifest for windows(10.0.17763)/arm64/v8 in the manifest list entries');
  });
});

// Moved from src/platform/detect.test.ts: the no-match text of a detected platform is select.ts's.
describe('noMatchMessage on a detected x86-64-v1 host', () => {
  const facts = hostFacts(fileURLToPath(new URL('../../test/fixtures/cpuinfo/x86_64-v1', import.meta.url)));
  const engine = (over: Partial<EngineFacts>): EngineFacts => ({
    endpoint: 'unix:///run/docker.sock', local: true, version: '29.7.1', apiVersion: '1.54', os: 'linux', arch: 'amd64',
    kernelArch: 'x86_64', kernelVersion: '6.1.0', osVersion: undefined, store: 'containerd', driver: 'overlayfs', product: 'docker', ...over,
  });
  const detect = (over: Partial<EngineFacts>) => detectTarget({ engine: engine(over), facts, processArch: 'x64', processPlatform: 'linux' });

  it('the containerd store prints the v1 level when nothing matches; the classic store does not', async () => {
    const c8d = await detect({ version: '29.7.1', store: 'containerd' });
    expect(noMatchMessage(c8d.display, c8d.rules)).toBe('no matching manifest for linux/amd64/v1 in the manifest list entries: no match for platform in manifest: not found');
    const classic = await detect({ version: '28.5.2', store: 'classic' });
    expect(noMatchMessage(classic.display, classic.rules)).toBe('no matching manifest for linux/amd64 in the manifest list entries');
  });
});
