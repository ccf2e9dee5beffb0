import { describe, expect, it } from 'vitest';
import { foldProgress, initialPullState, type PullState } from '../engine/pull-progress.js';
import { createProgressRenderer } from './progress.js';

const step = (s: PullState, m: object): PullState => foldProgress(s, m);

describe('progress renderer', () => {
  it('in a terminal redraws per-layer bars with sizes and speed', () => {
    let out = '';
    let t = 0;
    const r = createProgressRenderer({ write: (x) => (out += x), isTTY: true, columns: 120 }, () => t);
    let s = step(initialPullState, { status: 'Downloading', id: 'aaaaaaaaaaaa', progressDetail: { current: 500_000, total: 1_000_000 } });
    s = step(s, { status: 'Pulling fs layer', id: 'bbbbbbbbbbbb', progressDetail: {} });
    t = 1000;
    r.update(s);
    expect(out).toContain('aaaaaaaaaaaa: Downloading');
    expect(out).toContain('500.0 kB/1.00 MB');
    expect(out).toMatch(/\[=+>\s+\]/);
    expect(out).toContain('2 layers, 500.0 kB at 500.0 kB/s');
    const before = out.length;
    t = 1050;
    r.update(step(s, { status: 'Download complete', id: 'aaaaaaaaaaaa', progressDetail: {} }));
    expect(out.length).toBe(before);
    r.finish();
    expect(out.slice(before)).toMatch(new RegExp(`^${String.fromCharCode(27)}\\[3A`));
  });

  it('without a terminal prints a line per state change only', () => {
    let out = '';
    const r = createProgressRenderer({ write: (x) => (out += x), isTTY: false });
    let s = step(initialPullState, { status: 'Downloading', id: 'aaaaaaaaaaaa', progressDetail: { current: 1, total: 10 } });
    r.update(s);
    s = step(s, { status: 'Downloading', id: 'aaaaaaaaaaaa', progressDetail: { current: 5, total: 10 } });
    r.update(s);
    s = step(s, { status: 'Download complete', id: 'aaaaaaaaaaaa', progressDetail: {} });
    r.update(s);
    r.finish();
    expect(out).toBe('aaaaaaaaaaaa: Downloading\naaaaaaaaaaaa: Download complete (10 B)\n');
  });
});
