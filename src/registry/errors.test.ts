import { describe, expect, it } from 'vitest';
import { ociErrors } from './errors.js';

const body = (value: unknown): Buffer => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

describe('ociErrors (the errors of an OCI error body)', () => {
  it('keeps each entry with a string code, sanitised; a missing message is empty', () => {
    expect(ociErrors(body({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: {} }, { code: 'DENIED' }] }))).toEqual([
      { code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' },
      { code: 'DENIED', message: '' },
    ]);
    const [hostile] = ociErrors(body({ errors: [{ code: 'X\u001b[31m', message: `line\nbreak${'y'.repeat(2000)}` }] }));
    expect(hostile?.code.includes('\u001b')).toBe(false);
    expect(hostile?.message).not.toMatch(/\n/);
    expect(hostile?.message.length).toBeLessThan(1000);
  });

  it('skips entries without a string code', () => {
    expect(ociErrors(body({ errors: [null, 5, { code: 7, message: 'x' }, { message: 'no code' }, { code: 'TOOMANYREQUESTS', message: 4 }] }))).toEqual([{ code: 'TOOMANYREQUESTS', message: '' }]);
  });

  it.each([
    ['not JSON', '<html>502 Bad Gateway</html>'],
    ['empty', ''],
    ['null', 'null'],
    ['an array', [{ code: 'DENIED' }]],
    ['errors that are no list', { errors: { code: 'DENIED' } }],
    ['no errors', { message: 'denied' }],
  ])('%s gives none', (_what, value) => {
    expect(ociErrors(body(value))).toEqual([]);
  });
});
