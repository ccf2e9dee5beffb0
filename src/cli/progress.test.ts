import { describe, expect, it } from 'vitest';
import { foldProgress, initialPullState, type PullState } from '../engine/pull-progress.js';
import { createProgressRenderer, layerLine, noEscapesWanted, summaryLine } from './progress.js';

const step = (s: PullState, m: object): PullState => foldProgress(s, m);
const esc = String.fromCharCode(27);

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
    expect(out.slice(before)).toMatch(new RegExp(`^${esc}\\[3A`));
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

  it('with NO_COLOR (or TERM=dumb) in a terminal writes no escape sequence at all', () => {
    let out = '';
    let t = 0;
    const r = createProgressRenderer({ write: (x) => (out += x), isTTY: true, columns: 100, noEscapes: true }, () => t);
    let s = step(initialPullState, { status: 'Downloading', id: 'aaaaaaaaaaaa', progressDetail: { current: 1, total: 10 } });
    r.update(s);
    t = 500;
    s = step(s, { status: 'Download complete', id: 'aaaaaaaaaaaa', progressDetail: {} });
    r.update(s);
    r.finish();
    expect(out).not.toContain(esc);
    expect(out).toBe('aaaaaaaaaaaa: Downloading\naaaaaaaaaaaa: Download complete (10 B)\n');
    expect(noEscapesWanted({ NO_COLOR: '1' })).toBe(true);
    expect(noEscapesWanted({ NO_COLOR: '' })).toBe(false);
    expect(noEscapesWanted({ TERM: 'dumb' })).toBe(true);
    expect(noEscapesWanted({ TERM: 'xterm-256color' })).toBe(false);
  });

  it('redraws at the width the terminal has now (a resize is followed)', () => {
    let out = '';
    let t = 0;
    const sink = { write: (x: string) => (out += x), isTTY: true, columns: 120 };
    const r = createProgressRenderer(sink, () => t);
    const s = step(initialPullState, { status: 'Downloading', id: 'aaaaaaaaaaaa', progressDetail: { current: 210_800_000, total: 210_800_000 } });
    t = 200;
    r.update(s);
    sink.columns = 40;
    out = '';
    t = 400;
    r.update(s);
    const lines = out.split('\n').filter((l) => l !== '').map((l) => l.replaceAll(`${esc}[2K`, '').replace(new RegExp(`^${esc}\\[\\d+A`), ''));
    expect(lines.every((l) => l.length <= 39)).toBe(true);
    expect(lines[0]).toContain('210.8 MB/210.8 MB');
  });
});

describe('layer lines fit the terminal (issue 9: cut at 80 columns, "210.8 MB/210.")', () => {
  const layer = { id: 'c6a83fedfae6', status: 'Downloading', current: 210_800_000, total: 210_800_000 };

  it.each([200, 120, 100, 80, 72, 60, 50, 45, 40, 36, 30])('at %i columns the line fits and keeps the numbers whole', (columns) => {
    const line = layerLine(layer, columns);
    expect(line.length).toBeLessThanOrEqual(columns - 1);
    expect(line).toContain('210.8 MB/210.8 MB');
  });

  it.each([[200, true], [80, true], [60, true], [50, false], [40, false]])('at %i columns the bar is shown: %s (it goes first)', (columns, hasBar) => {
    expect(/\[[=> ]+\]/.test(layerLine(layer, columns))).toBe(hasBar);
  });

  it('the bar grows with the width up to 50 cells', () => {
    const cells = (columns: number): number => (/\[([=> ]+)\]/.exec(layerLine(layer, columns))?.[1] ?? '').length;
    expect(cells(60)).toBeLessThan(cells(80));
    expect(cells(300)).toBe(50);
  });

  it('keeps the status before the id and the id before the numbers as the width shrinks', () => {
    expect(layerLine(layer, 36)).toBe('c6a83fedfae6: Do… 210.8 MB/210.8 MB');
    expect(layerLine(layer, 25)).toBe('c6a83f 210.8 MB/210.8 MB');
    expect(layerLine(layer, 10)).toBe('210.8 MB…');
  });

  it('never exceeds the width, from 1 to 200 columns', () => {
    for (let columns = 1; columns <= 200; columns++) {
      for (const l of [layer, { ...layer, total: 0, current: 0, status: 'Pulling fs layer' }, { ...layer, status: 'Verifying Checksum' }]) {
        expect(layerLine(l, columns).length).toBeLessThanOrEqual(Math.max(1, columns - 1));
      }
      expect(summaryLine(12, 210_800_000, 3, columns).length).toBeLessThanOrEqual(Math.max(1, columns - 1));
    }
  });

  it('layers without sizes show their status', () => {
    expect(layerLine({ id: 'c6a83fedfae6', status: 'Pull complete', current: 0, total: 0 }, 80)).toBe('c6a83fedfae6: Pull complete');
  });
});
