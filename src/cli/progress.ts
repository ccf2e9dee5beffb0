/**
 * Pull progress for people: in a terminal, live per-layer lines like `docker pull` (status, bar, sizes,
 * speed) redrawn at most every 100 ms; without a terminal, one plain line per layer state change.
 */
import type { PullState } from '../engine/pull-progress.js';
import { formatBytes } from './format-bytes.js';

/** Receives progress states. */
export interface ProgressRenderer {
  update(state: PullState): void;
  finish(): void;
}

/** What the renderer writes to. */
export interface ProgressSink {
  write(text: string): void;
  readonly isTTY: boolean;
  readonly columns?: number;
}

function bar(current: number, total: number, width: number): string {
  if (total <= 0) return ' '.repeat(width + 2);
  const filled = Math.min(width, Math.round((current / total) * width));
  return `[${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? '>' : ''}${' '.repeat(width - filled)}]`;
}

/** A renderer for a sink; `now` is injectable for tests. */
export function createProgressRenderer(sink: ProgressSink, now: () => number = () => performance.now()): ProgressRenderer {
  const started = now();
  if (!sink.isTTY) {
    const last = new Map<string, string>();
    return {
      update(state) {
        for (const layer of state.layers.values()) {
          if (last.get(layer.id) === layer.status) continue;
          last.set(layer.id, layer.status);
          sink.write(`${layer.id}: ${layer.status}${layer.total > 0 && layer.status === 'Download complete' ? ` (${formatBytes(layer.total)})` : ''}\n`);
        }
      },
      finish() {
        return undefined;
      },
    };
  }
  let drawn = 0;
  let lastDraw = 0;
  let latest: PullState | undefined;
  const draw = (): void => {
    if (latest === undefined) return;
    const elapsed = Math.max(0.001, (now() - started) / 1000);
    const lines: string[] = [];
    let done = 0;
    for (const l of latest.layers.values()) {
      done += l.current;
      const sizes = l.total > 0 ? `${formatBytes(l.current)}/${formatBytes(l.total)}` : '';
      lines.push(`${l.id}: ${l.status.padEnd(18)} ${bar(l.current, l.total, 30)} ${sizes}`.slice(0, (sink.columns ?? 100) - 1));
    }
    lines.push(`${latest.layers.size} layers, ${formatBytes(done)} at ${formatBytes(done / elapsed)}/s`);
    sink.write(`${drawn > 0 ? `\x1b[${drawn}A` : ''}${lines.map((l) => `\x1b[2K${l}`).join('\n')}\n`);
    drawn = lines.length;
    lastDraw = now();
  };
  return {
    update(state) {
      latest = state;
      if (now() - lastDraw >= 100) draw();
    },
    finish() {
      draw();
    },
  };
}
