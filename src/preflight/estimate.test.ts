import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { chainIds, copiesParents, estimateFootprint, parseDiffIds } from './estimate.js';

const d = (s: string): string => `sha256:${createHash('sha256').update(s).digest('hex')}`;

describe('chainIds', () => {
  it('follows the OCI definition: the first is the diff ID, then sha256("parent child")', () => {
    const [a, b] = [d('a'), d('b')];
    expect(chainIds([a, b])).toEqual([a, d(`${a} ${b}`)]);
    expect(chainIds([])).toEqual([]);
  });
  it('gives the same diff ID on another parent another chain', () => {
    expect(chainIds([d('x'), d('top')])[1]).not.toBe(chainIds([d('y'), d('top')])[1]);
  });
});

describe('parseDiffIds', () => {
  it('reads rootfs.diff_ids and ignores a config without valid ones', () => {
    expect(parseDiffIds(Buffer.from(JSON.stringify({ rootfs: { type: 'layers', diff_ids: [d('a')] } })))).toEqual([d('a')]);
    expect(parseDiffIds(Buffer.from('{"rootfs":{"diff_ids":["nope"]}}'))).toEqual([]);
    expect(parseDiffIds(Buffer.from('not json'))).toEqual([]);
  });
});

describe('estimateFootprint', () => {
  const child = { layers: [{ digest: d('L0'), size: 100 }, { digest: d('L1'), size: 10 }], configSize: 5, diffIds: [d('a'), d('b')] };
  it('counts compressed plus expanded bytes of every layer when none is present', () => {
    const f = estimateFootprint(child, new Set(), { expansion: 3, copiesParents: false });
    expect(f).toEqual({ needed: 5 + 100 + 300 + 10 + 30, download: 110, newLayers: 2, totalLayers: 2 });
  });
  it('does not count layers whose ChainID the engine has', () => {
    const [base] = chainIds(child.diffIds);
    const f = estimateFootprint(child, new Set([base ?? '']), { expansion: 3, copiesParents: false });
    expect(f).toEqual({ needed: 5 + 10 + 30, download: 10, newLayers: 1, totalLayers: 2 });
  });
  it('a diff ID present on another parent is still new', () => {
    const other = chainIds([d('other base'), d('b')]);
    const f = estimateFootprint(child, new Set(other), { expansion: 3, copiesParents: false });
    expect(f.newLayers).toBe(2);
  });
  it('vfs/native store each layer as the whole tree below it', () => {
    const [base] = chainIds(child.diffIds);
    const f = estimateFootprint(child, new Set([base ?? '']), { expansion: 3, copiesParents: true });
    expect(f.needed).toBe(5 + 10 + 300 + 30);
    expect(copiesParents('vfs') && copiesParents('native') && !copiesParents('overlay2') && !copiesParents(undefined)).toBe(true);
  });
  it('diff IDs that do not match the layers count everything as new', () => {
    const f = estimateFootprint({ ...child, diffIds: [d('a')] }, new Set(chainIds([d('a')])), { expansion: 2, copiesParents: false });
    expect(f.newLayers).toBe(2);
  });
});
