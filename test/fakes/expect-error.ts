/**
 * Asserts that an action fails with a `ResolverError` of a given code, and returns the error for further
 * assertions (message, details). A plain `Error`, another code, or no failure at all fails the test, naming
 * what happened instead.
 */
import { inspect } from 'node:util';
import { expect } from 'vitest';
import { ResolverError, type ErrorCode } from '../../src/errors.js';

type Outcome = { readonly threw: false; readonly value: unknown } | { readonly threw: true; readonly error: unknown };

function check(outcome: Outcome, code: ErrorCode | undefined): ResolverError {
  const wanted = code === undefined ? 'a ResolverError' : `a ResolverError ${code}`;
  if (!outcome.threw) {
    expect.fail(`expected ${wanted}, but it succeeded with ${inspect(outcome.value, { depth: 2 })}`);
  }
  const { error } = outcome;
  if (!(error instanceof ResolverError)) expect.fail(`expected ${wanted}, got ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  if (code !== undefined) expect(error.code, `${error.code}: ${error.message}`).toBe(code);
  return error;
}

/** `run()` (or the promise) must reject, or throw, with a ResolverError of `code` (of any code when omitted). */
export async function expectResolverError(run: PromiseLike<unknown> | (() => unknown), code?: ErrorCode): Promise<ResolverError> {
  let outcome: Outcome;
  try {
    outcome = { threw: false, value: await (typeof run === 'function' ? run() : run) };
  } catch (error) {
    outcome = { threw: true, error };
  }
  return check(outcome, code);
}

/** `run()` must throw a ResolverError of `code` synchronously (for property tests' synchronous predicates). */
export function expectResolverErrorSync(run: () => unknown, code: ErrorCode): ResolverError {
  let outcome: Outcome;
  try {
    outcome = { threw: false, value: run() };
  } catch (error) {
    outcome = { threw: true, error };
  }
  return check(outcome, code);
}
