import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { sanitizeRemoteText } from './remote-text.js';

describe('sanitizeRemoteText', () => {
  it.each([
    ['\u001b[31mred\u001b[0m text', 'red text'],
    ['title\u001b]0;pwned\u0007 after', 'title after'],
    ['osc with ST \u001b]8;;http://x\u001b\\link\u001b]8;;\u001b\\', 'osc with ST link'],
    ['cursor\u001b[2J\u001b[H home', 'cursor home'],
    ['c1 csi \u009b31mred', 'c1 csi red'],
    ['line one\nforged log line\r\n', 'line one forged log line'],
    ['bell\u0007 nul\u0000 del\u007f', 'bell nul del'],
    ['bidi \u202eevil\u202c zero\u200bwidth', 'bidi evil zerowidth'],
    ['plain: manifest unknown', 'plain: manifest unknown'],
  ])('%j → %j', (input, expected) => {
    expect(sanitizeRemoteText(input)).toBe(expected);
  });

  it('caps the length', () => {
    expect(sanitizeRemoteText('x'.repeat(1000), 10)).toBe(`${'x'.repeat(10)}…`);
  });

  // eslint-disable-next-line no-control-regex -- what must never survive
  const unsafe = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
  test.prop([fc.string({ unit: 'binary', maxLength: 400 })], { numRuns: 10_000 })('leaves no control character or ESC in any input', (s) => {
    expect(unsafe.test(sanitizeRemoteText(s, 1000))).toBe(false);
  });
});
