// Byte counts in the progress, pull and push output (decimal units, kB = 1000 B). Output formatting, so it
// lives with the CLI (it was in engine/pull-progress.ts, which folds the engine's stream and prints nothing). Pure.
/** Human-readable bytes: `512 B`, `1.50 kB`, `12.3 MB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i] ?? 'TB'}`;
}
