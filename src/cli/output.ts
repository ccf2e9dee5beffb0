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

/** Prints an error for a person (stderr) and, with `json`, a machine-readable one (stdout). */
export function printError(output: Output, error: unknown, json: boolean): void {
  if (error instanceof ResolverError) {
    output.err(`resolver: ${error.message}`);
    for (const line of error.details) output.err(`  ${line}`);
    if (json) output.out(JSON.stringify({ error: { code: error.code, message: error.message, details: error.details } }));
    return;
  }
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  output.err(`resolver: unexpected error: ${message}`);
  if (json) output.out(JSON.stringify({ error: { code: 'ERR_INTERNAL', message: String(error) } }));
}

/** Left-aligned columns. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
}
