import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { describeFirstIssue, parseJson } from './parse-json.js';

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

describe('describeFirstIssue', () => {
  const Doc = z.object({ version: z.literal(1), queues: z.record(z.string(), z.array(z.number())) });

  it('names the first wrong field by its path, or the top for the document itself', () => {
    const nested = Doc.safeParse({ version: 1, queues: { hook: ['x'] } });
    const top = Doc.safeParse(5);
    expect(nested.success || top.success).toBe(false);
    if (nested.success || top.success) return;
    expect(describeFirstIssue(nested.error.issues, 'the document')).toMatch(/^queues\.hook\.0: /);
    expect(describeFirstIssue(top.error.issues, 'the document')).toMatch(/^the document: /);
    expect(describeFirstIssue([], 'the document')).toBeUndefined();
  });
});
