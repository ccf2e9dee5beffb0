import { describe, expect, it } from 'vitest';
import { FrameSplitter, type FramePiece } from './stream-demux.js';
import { muxFrame as frame } from '../../test/fakes/mux-frame.js';

const joined = (pieces: readonly FramePiece[]): string[] => {
  const out: string[] = [];
  for (const p of pieces) {
    const last = out.at(-1);
    if (last?.startsWith(`${p.stream}:`) === true) out[out.length - 1] = `${last}${p.data.toString()}`;
    else out.push(`${p.stream}:${p.data.toString()}`);
  }
  return out;
};

describe('FrameSplitter (the engine\'s multiplexed attach stream)', () => {
  const stream = Buffer.concat([frame(1, 'out one\n'), frame(2, 'err\n'), frame(1, 'out two\n'), frame(0, 'echo'), frame(3, 'engine trouble'), frame(9, 'odd')]);
  const expected = ['stdout:out one\n', 'stderr:err\n', 'stdout:out two\necho', 'system:engine trouble', 'stderr:odd'];

  it('splits whole frames by stream: stdin to stdout, the engine\'s error apart, an unknown number to stderr', () => {
    const s = new FrameSplitter();
    expect(joined(s.push(stream))).toEqual(expected);
    expect(s.partial).toBe(false);
  });

  it('gives the same at every chunk size, headers and payloads split anywhere', () => {
    for (const size of [1, 2, 3, 5, 7, 8, 9, 13]) {
      const s = new FrameSplitter();
      const pieces: FramePiece[] = [];
      for (let i = 0; i < stream.length; i += size) pieces.push(...s.push(stream.subarray(i, i + size)));
      expect(joined(pieces)).toEqual(expected);
      expect(s.partial).toBe(false);
    }
  });

  it('says when the stream stopped inside a header or a payload; an empty frame is nothing', () => {
    const s = new FrameSplitter();
    expect(s.push(frame(1, '')).length).toBe(0);
    s.push(frame(1, 'abcdef').subarray(0, 10));
    expect(s.partial).toBe(true);
    const t = new FrameSplitter();
    t.push(frame(2, 'x').subarray(0, 5));
    expect(t.partial).toBe(true);
  });
});
