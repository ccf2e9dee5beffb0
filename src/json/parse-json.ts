/**
 * Untrusted JSON text (a state file, a registry's token answer, a credential helper's output, a docker
 * config) read with a zod schema in one step (issue 14): `JSON.parse` throws a bare `SyntaxError` that a
 * caller can forget to catch (a corrupt draft crashed `manifest push` so). This returns the outcome as a
 * value instead (style.md §10), saying whether the text was not JSON or JSON of the wrong shape, so each
 * caller words its own error.
 */
import type { z } from 'zod';

/** What `parseJson` found. */
export type JsonResult<T> =
  | { readonly success: true; readonly data: T }
  | { readonly success: false; readonly reason: 'syntax' }
  | { readonly success: false; readonly reason: 'schema'; readonly issues: readonly z.core.$ZodIssue[] };

/** Parses `text` as JSON and checks it with `schema`; never throws for bad input. */
export function parseJson<S extends z.ZodType>(schema: S, text: string): JsonResult<z.output<S>> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { success: false, reason: 'syntax' };
  }
  const parsed = schema.safeParse(json);
  return parsed.success ? { success: true, data: parsed.data } : { success: false, reason: 'schema', issues: parsed.error.issues };
}

/**
 * The first schema issue as `where: what` for an error or a warning: its path joined with dots (`queues.hook.0:
 * Invalid input`), or `top` when the document itself is wrong; undefined when there is none.
 */
export function describeFirstIssue(issues: readonly z.core.$ZodIssue[], top: string): string | undefined {
  const issue = issues[0];
  if (issue === undefined) return undefined;
  return `${issue.path.length === 0 ? top : issue.path.join('.')}: ${issue.message}`;
}
