/**
 * Everything the CLI prints goes through here: results to stdout, diagnostics to stderr.
 */
import { ResolverError } from '../errors.js';

/** Where output goes; replaceable in tests. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
}

/** The process's stdout and stderr. */
export const processOutput: Output = {
  out: (text) => void process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => void process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};

/** A Node system error (`ENOTDIR`, `EACCES`, `ENOSPC` …) on a path. */
function systemError(error: unknown): (Error & { code: string; syscall?: string; path?: string }) | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) ? (error as Error & { code: string }) : undefined;
}

const systemHints: Readonly<Record<string, string>> = {
  ENOTDIR: 'a part of the path is a file, not a folder',
  EEXIST: 'a file is in the way where a folder is needed',
  EACCES: 'this user may not use that path',
  EPERM: 'this user may not use that path',
  ENOSPC: 'the disk is full',
  EROFS: 'the file system is read-only',
  EDQUOT: 'the disk quota is exhausted',
};

/**
 * Prints an error for a person (stderr) and, with `json`, a machine-readable one (stdout). Never a stack
 * trace unless `RESOLVER_DEBUG` is set: a file-system error is one line naming the path and what to check,
 * anything else unexpected is its message and a request to report it.
 */
export function printError(output: Output, error: unknown, json: boolean, env: Readonly<Record<string, string | undefined>> = process.env): void {
  if (error instanceof ResolverError) {
    output.err(`resolver: ${error.message}`);
    for (const line of error.details) output.err(`  ${line}`);
    if (json) output.out(JSON.stringify({ error: { code: error.code, message: error.message, details: error.details } }));
    return;
  }
  const stack = (env['RESOLVER_DEBUG'] ?? '') !== '';
  const sys = systemError(error);
  if (sys !== undefined) {
    output.err(`resolver: ${sys.message}`);
    output.err(`  ${systemHints[sys.code] ?? 'a file-system or system error'}${sys.path === undefined ? '' : ` (${sys.path}); for the state folder see RESOLVER_STATE_DIR`}`);
  } else {
    output.err(`resolver: unexpected error: ${error instanceof Error ? error.message : String(error)}`);
    if (!stack) output.err('  this is a bug in resolver: please report it (RESOLVER_DEBUG=1 shows the stack trace)');
  }
  if (stack && error instanceof Error && error.stack !== undefined) output.err(error.stack);
  if (json) output.out(JSON.stringify({ error: { code: sys === undefined ? 'ERR_INTERNAL' : 'ERR_SYSTEM', message: error instanceof Error ? error.message : String(error) } }));
}

/** Left-aligned columns. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
}
