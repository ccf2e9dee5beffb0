import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { parseWwwAuthenticate, preferredChallenge } from './www-authenticate.js';

describe('parseWwwAuthenticate', () => {
  it('parses Docker Hub’s Bearer challenge', () => {
    const [c] = parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:ahmet/wagl:pull"');
    expect(c).toEqual({ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:ahmet/wagl:pull' } });
  });

  it('parses an error parameter and escaped quotes', () => {
    const [c] = parseWwwAuthenticate('bearer realm="r",error="insufficient_scope",error_description="say \\"hi\\""');
    expect(c?.params).toEqual({ realm: 'r', error: 'insufficient_scope', error_description: 'say "hi"' });
  });

  it('parses several challenges and prefers Bearer', () => {
    const all = parseWwwAuthenticate('Basic realm="registry", Bearer realm="https://t/token",service=s');
    expect(all.map((c) => c.scheme)).toEqual(['basic', 'bearer']);
    expect(preferredChallenge(all)?.scheme).toBe('bearer');
    expect(all[1]?.params).toEqual({ realm: 'https://t/token', service: 's' });
  });

  it('parses Basic alone and an unquoted value', () => {
    expect(parseWwwAuthenticate('Basic realm=Registry')).toEqual([{ scheme: 'basic', params: { realm: 'Registry' } }]);
  });

  it('returns nothing for garbage', () => {
    expect(parseWwwAuthenticate('')).toEqual([]);
    expect(preferredChallenge(parseWwwAuthenticate('=,,="'))).toBeUndefined();
  });

  test.prop([fc.string({ maxLength: 300 })], { numRuns: 10_000 })('never throws on arbitrary input', (s) => {
    const out = parseWwwAuthenticate(s);
    expect(Array.isArray(out)).toBe(true);
  });

  test.prop(
    [fc.constantFrom('Bearer', 'basic', 'BEARER'), fc.dictionary(fc.stringMatching(/^[a-z_]{1,8}$/), fc.string({ maxLength: 20 }), { maxKeys: 5 })],
    { numRuns: 2_000 },
  )('round-trips quoted parameters', (scheme, params) => {
    const header = `${scheme} ${Object.entries(params).map(([k, v]) => `${k}="${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`).join(', ')}`;
    const [c] = parseWwwAuthenticate(header);
    expect(c?.scheme).toBe(scheme.toLowerCase());
    expect(c?.params).toEqual(params);
  });
});
