import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { ResolverError } from '../errors.js';
import { formatReference, parseReference } from './reference.js';

const runs = Number.parseInt(process.env['FC_RUNS'] ?? '10000', 10);
const component = fc.stringMatching(/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/, { maxLength: 20 });
const tag = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/);
const host = fc.oneof(fc.constant('localhost:5000'), fc.constant('example.com'), fc.constant('127.0.0.1:8080'), fc.constant('[::1]:5000'), fc.constant('registry-1.docker.io'));

// A run count bounds each property, not the clock: on a loaded 2-core machine 10,000 runs can take longer than 5 s.
describe('parseReference properties', { timeout: 120_000 }, () => {
  test.prop([fc.constantFrom('0.a__0/0', 'a.b_c/d', 'x..y/z')])('a first component that looks like a host but is not one is rejected, naming it', (s) => {
    expect(() => parseReference(s)).toThrow(/registry host ".*" is invalid/);
  });

  test.prop([fc.string({ maxLength: 120 })], { numRuns: runs })('arbitrary text: a Reference or a typed error, never a crash', (s) => {
    try {
      const ref = parseReference(s);
      expect(ref.path.length).toBeGreaterThan(0);
    } catch (error) {
      expect(error).toBeInstanceOf(ResolverError);
      expect((error as ResolverError).code).toBe('ERR_REFERENCE_INVALID');
    }
  });

  test.prop([fc.option(host, { nil: undefined }), fc.array(component, { minLength: 1, maxLength: 4 }), fc.option(tag, { nil: undefined })], { numRuns: runs })(
    'valid references parse, and their canonical form parses to the same thing',
    (h, parts, t) => {
      // Without a host, a first component with "." is taken as a host (distribution's rule).
      fc.pre(h !== undefined || parts.length === 1 || !(parts[0] ?? '').includes('.'));
      const input = `${h === undefined ? '' : `${h}/`}${parts.join('/')}${t === undefined ? '' : `:${t}`}`;
      const ref = parseReference(input);
      expect(parseReference(formatReference(ref))).toEqual(ref);
      expect(ref.tag).toBe(t);
    },
  );
});
