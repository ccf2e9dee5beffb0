import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseJson } from './parse-json.js';

const Token = z.object({ token: z.string(), expires_in: z.number().default(60) });

describe('parseJson(schema, text)', () => {
  it.each([
    ['{"token":"t"}', { success: true, data: { token: 't', expires_in: 60 } }],
    ['{"token":"t","expires_in":300}', { success: true, data: { token: 't', expires_in: 300 } }],
    ['not json', { success: false, reason: 'syntax' }],
    ['', { success: false, reason: 'syntax' }],
    ['{"token":', { success: false, reason: 'syntax' }],
  ])('%j → %j', (text, expected) => {
    expect(parseJson(Token, text)).toEqual(expected);
  });

  it('JSON of the wrong shape is a schema result with zod\'s issues, never a throw', () => {
    const r = parseJson(Token, '{"token":5}');
    expect(r).toMatchObject({ success: false, reason: 'schema' });
    expect(!r.success && r.reason === 'schema' ? r.issues.map((i) => i.path.join('.')) : []).toEqual(['token']);
    expect(parseJson(Token, 'null')).toMatchObject({ success: false, reason: 'schema' });
  });
});
