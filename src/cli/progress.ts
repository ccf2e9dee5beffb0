/**
 * Pull progress for people: in a terminal, live per-layer lines like `docker pull` (status, bar, sizes)
 * redrawn at most every 100 ms and fitted to the terminal's width at each redraw: a narrow terminal loses
 * the status padding, then the bar, then the status text and the id, never the numbers; a line never
 * wraps (that would break the redraw). Without a terminal, or with `NO_COLOR` set (https://no-color.org)
 * or `TERM=dumb`, no escape sequence is written: one plain line per layer state change.
 */
import type { LayerState, PullState } from '../engine/pull-progress.js';
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
  /** The terminal's width now (read at every redraw, so a resize is followed); default 80. */
  readonly columns?: number | undefined;
  /** `NO_COLOR` set to a non-empty value, or `TERM=dumb`: no escape sequences at all. */
  readonly noEscapes?: boolean | undefined;
}

/** True when the environment asks for output without colour or escape sequences. */
export function noEscapesWanted(env: Readonly<Record<string, string | undefined>>): boolean {
  return (env['NO_COLOR'] ?? '') !== '' || env['TERM'] === 'dumb';
}

const statusWidth = 18;
const maxBar = 50;
const minBar = 10;

function bar(current: number, total: number, width: number): string {
  const filled = Math.min(width, Math.round((current / total) * width));
  return `[${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? '>' : ''}${' '.repeat(width - filled)}]`;
}

/**
 * One layer's line, at most `columns - 1` characters (the last column is left free so that no terminal
 * wraps): `id: status [=====>    ] 1.20 MB/3.40 MB`. Pure.
 */
export function layerLine(l: Pick<LayerState, 'id' | 'status' | 'current' | 'total'>, columns: number): string {
  const room = Math.max(1, columns - 1);
  const sizes = l.total > 0 ? `${formatBytes(l.current)}/${formatBytes(l.total)}` : '';
  const padded = `${l.id}: ${l.status.padEnd(statusWidth)}`;
  if (sizes === '') return fit(`${l.id}: ${l.status}`, room);
  // First the status padding gives way, then the bar; two spaces and the brackets surround the bar.
  for (const head of [padded, `${l.id}: ${l.status}`]) {
    const barRoom = room - head.length - sizes.length - 4;
    if (barRoom >= minBar) return `${head} ${bar(l.current, l.total, Math.min(maxBar, barRoom))} ${sizes}`;
  }
  if (padded.length + 1 + sizes.length <= room) return `${padded} ${sizes}`;
  const plain = `${l.id}: ${l.status} ${sizes}`;
  if (plain.length <= room) return plain;
  // Narrower still: the status text gives way, then the id; the numbers stay whole while they fit at all.
  const head = room - sizes.length - 1;
  if (head >= l.id.length + 2) return `${fit(`${l.id}: ${l.status}`, head)} ${sizes}`;
  if (head >= 1) return `${l.id.slice(0, head)} ${sizes}`;
  return fit(sizes, room);
}

function fit(text: string, room: number): string {
  return text.length <= room ? text : room <= 1 ? text.slice(0, room) : `${text.slice(0, room - 1)}…`;
}

/** The summary line under the layers, fitted like a layer line. Pure. */
export function summaryLine(layers: number, bytes: number, elapsedSeconds: number, columns: number): string {
  const room = Math.max(1, columns - 1);
  const full = `${layers} layer${layers === 1 ? '' : 's'}, ${formatBytes(bytes)} at ${formatBytes(bytes / Math.max(0.001, elapsedSeconds))}/s`;
  if (full.length <= room) return full;
  return fit(`${layers}L ${formatBytes(bytes)} ${formatBytes(bytes / Math.max(0.001, elapsedSeconds))}/s`, room);
}

/** A renderer for a sink; `now` is injectable for tests. */
export function createProgressRenderer(sink: ProgressSink, now: () => number = () => performance.now()): ProgressRenderer {
  const started = now();
  if (!sink.isTTY || sink.noEscapes === true) {
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
    const columns = sink.columns !== undefined && sink.columns > 0 ? sink.columns : 80;
    const elapsed = Math.max(0.001, (now() - started) / 1000);
    const lines: string[] = [];
    let done = 0;
    for (const l of latest.layers.values()) {
      done += l.current;
      lines.push(layerLine(l, columns));
    }
    lines.push(summaryLine(latest.layers.size, done, elapsed, columns));
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
