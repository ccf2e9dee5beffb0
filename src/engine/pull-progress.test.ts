import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { foldProgress, initialPullState, isComplete, LineSplitter, parseProgressLine, streamVerdict, type PullState } from './pull-progress.js';

const lines = [
  '{"status":"Pulling from team/app","id":"latest"}',
  '{"status":"Pulling fs layer","progressDetail":{},"id":"fd9c691253a8"}',
  '{"status":"Downloading","progressDetail":{"current":60,"total":121},"progress":"[==>] 60B/121B","id":"fd9c691253a8"}',
  '{"status":"Download complete","progressDetail":{},"id":"fd9c691253a8"}',
  '{"status":"Pull complete","progressDetail":{},"id":"fd9c691253a8"}',
  '{"status":"Digest: sha256:51bd73dfab444e1b95d0835949dfb08bb480f2b7e7137ffbbbf10516f5310630"}',
  '{"status":"Status: Downloaded newer image for 127.0.0.1:5055/team/app@sha256:51bd"}',
];

function foldAll(text: string, chunk = 7): PullState {
  const splitter = new LineSplitter();
  let state = initialPullState;
  const bytes = Buffer.from(text);
  const all: string[] = [];
  for (let i = 0; i < bytes.length; i += chunk) all.push(...splitter.push(bytes.subarray(i, i + chunk)));
  all.push(...splitter.end());
  for (const l of all) {
    const p = parseProgressLine(l);
    if (p.kind === 'message') state = foldProgress(state, p.message);
  }
  return state;
}

describe('pull progress', () => {
  it('folds a successful pull', () => {
    const s = foldAll(lines.join('\r\n') + '\r\n');
    expect(isComplete(s)).toBe(true);
    expect(s.digest).toBe('sha256:51bd73dfab444e1b95d0835949dfb08bb480f2b7e7137ffbbbf10516f5310630');
    expect(s.layers.get('fd9c691253a8')).toEqual({ id: 'fd9c691253a8', status: 'Pull complete', current: 121, total: 121 });
  });

  it('an error line mid-stream fails the pull even if a final status follows', () => {
    const s = foldAll([...lines.slice(0, 3), '{"errorDetail":{"message":"no space left on device"},"error":"no space left on device"}', ...lines.slice(3)].join('\n'));
    expect(s.error).toBe('no space left on device');
    expect(isComplete(s)).toBe(false);
  });

  it('a stream that ends without its final status is incomplete: to be verified, not failed', () => {
    const s = foldAll(lines.slice(0, 5).join('\n'));
    expect(isComplete(s)).toBe(false);
    expect(streamVerdict(s)).toBe('verify');
    expect(streamVerdict(foldAll(lines.join('\n')))).toBe('complete');
    expect(streamVerdict(foldAll([...lines.slice(0, 2), '{"error":"unauthorized"}'].join('\n')))).toBe('failed');
  });

  it('reports malformed lines instead of throwing', () => {
    expect(parseProgressLine('{"status":')).toEqual({ kind: 'malformed', reason: 'not JSON: {"status":' });
    expect(parseProgressLine('{"status":5}').kind).toBe('malformed');
  });

  it('keeps WARNING lines', () => {
    const s = foldAll('{"status":"WARNING: image platform mismatch"}\n');
    expect(s.warnings).toEqual(['WARNING: image platform mismatch']);
  });

  it('caps line length', () => {
    const splitter = new LineSplitter(10);
    expect(() => splitter.push(Buffer.from('x'.repeat(20)))).toThrow(RangeError);
  });

  test.prop([fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 50 })], { numRuns: 2000 })(
    'any chunking of the same bytes gives the same lines, also inside multi-byte characters',
    (sizes) => {
      const text = `${lines.join('\n')}\n{"status":"Pulling from ünïcødé/✓","id":"x"}\n`;
      const bytes = Buffer.from(text);
      const splitter = new LineSplitter();
      const got: string[] = [];
      let at = 0;
      for (let i = 0; at < bytes.length; i++) {
        const size = sizes[i % sizes.length] ?? 1;
        got.push(...splitter.push(bytes.subarray(at, at + size)));
        at += size;
      }
      got.push(...splitter.end());
      expect(got).toEqual(text.split('\n').filter((l) => l !== ''));
    },
  );

  test.prop([fc.string({ maxLength: 200 })], { numRuns: 10_000 })('any line parses to a message or "malformed", never throws', (line) => {
    const p = parseProgressLine(line);
    expect(['message', 'malformed']).toContain(p.kind);
  }, 120_000); // 10,000 runs: no speed assumption on a loaded machine
});
