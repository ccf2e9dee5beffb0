/**
 * The Docker pull progress stream (`POST /images/create`, registry-protocol.md §5.4), split into lines
 * and folded into a state, without dockerode's `followProgress` (which reports a pull with an error line
 * as a success and throws an uncaught exception on a malformed line; reliability.md §2.3). Pure.
 */
import { StringDecoder } from 'node:string_decoder';
import { z } from 'zod';
import { parseJson } from '../json/parse-json.js';
import { sanitizeRemoteText } from '../http/remote-text.js';

/** One progress message. */
export const ProgressMessage = z.object({
  status: z.string().optional(),
  id: z.string().optional(),
  progressDetail: z.object({ current: z.number().optional(), total: z.number().optional() }).partial().optional(),
  progress: z.string().optional(),
  error: z.string().optional(),
  errorDetail: z.object({ code: z.number().optional(), message: z.string().optional() }).optional(),
  aux: z.unknown().optional(),
});
export type ProgressMessage = z.infer<typeof ProgressMessage>;

/** A layer as last reported. */
export interface LayerState {
  readonly id: string;
  readonly status: string;
  readonly current: number;
  readonly total: number;
}

/** The fold of a pull stream. */
export interface PullState {
  readonly layers: ReadonlyMap<string, LayerState>;
  /** `Digest: sha256:…` as the engine printed it. */
  readonly digest: string | undefined;
  /** The final `Status: …` line, when it came. */
  readonly final: string | undefined;
  readonly error: string | undefined;
  /** `WARNING:` lines and other notes. */
  readonly warnings: readonly string[];
  readonly messages: number;
  /** Set by the engine when the stream had no final status and inspect confirmed the image instead. */
  readonly verifiedBy?: 'inspect';
}

/** The empty state. */
export const initialPullState: PullState = { layers: new Map(), digest: undefined, final: undefined, error: undefined, warnings: [], messages: 0 };

/** A parsed line: a message, or why the line was unusable. */
export type ParsedLine = { kind: 'message'; message: ProgressMessage } | { kind: 'malformed'; reason: string };

/** Parses one line of the stream. */
export function parseProgressLine(line: string): ParsedLine {
  const parsed = parseJson(ProgressMessage, line);
  if (parsed.success) return { kind: 'message', message: parsed.data };
  return { kind: 'malformed', reason: parsed.reason === 'syntax' ? `not JSON: ${sanitizeRemoteText(line, 80)}` : 'unexpected progress message shape' };
}

/**
 * Folds one message into the state. An error line is sticky. Every string the engine chose (error,
 * status; they often quote the registry) goes through sanitizeRemoteText first, so the state holds only
 * text safe to print or log (issue 13.18).
 */
export function foldProgress(state: PullState, m: ProgressMessage): PullState {
  const messages = state.messages + 1;
  const rawError = m.errorDetail?.message ?? m.error;
  if (rawError !== undefined) return { ...state, messages, error: state.error ?? sanitizeRemoteText(rawError, 1000) };
  const status = sanitizeRemoteText(m.status ?? '', 1000);
  if (status.startsWith('Digest: ')) return { ...state, messages, digest: status.slice('Digest: '.length).trim() };
  if (status.startsWith('Status: ')) return { ...state, messages, final: status.slice('Status: '.length).trim() };
  if (status.startsWith('WARNING:')) return { ...state, messages, warnings: [...state.warnings, status] };
  if (m.id !== undefined && /^[0-9a-f]{12}$/.test(m.id)) {
    const prev = state.layers.get(m.id);
    const layers = new Map(state.layers);
    layers.set(m.id, {
      id: m.id,
      status,
      current: m.progressDetail?.current ?? (status === 'Download complete' || status === 'Pull complete' || status === 'Already exists' ? (prev?.total ?? 0) : (prev?.current ?? 0)),
      total: m.progressDetail?.total ?? prev?.total ?? 0,
    });
    return { ...state, messages, layers };
  }
  return { ...state, messages };
}

/** True once the stream said the pull finished (Docker's final `Status:` line). */
export function isComplete(state: PullState): boolean {
  return state.error === undefined && state.final !== undefined && /^(Downloaded newer image|Image is up to date)/.test(state.final);
}

/**
 * How a stream that ended without an error line is to be judged. Docker ends a pull with `Digest:` and
 * `Status:`; Podman's compat API (4.3) ends with `Download complete` and the image ID and never sends
 * them, so such a stream is not proof of failure: the caller must ask the engine (inspect) whether the
 * image is there, as it does for an image that was present before.
 */
export function streamVerdict(state: PullState): 'complete' | 'failed' | 'verify' {
  if (state.error !== undefined) return 'failed';
  return isComplete(state) ? 'complete' : 'verify';
}

/** Splits a byte stream into lines, UTF-8 safe across chunk boundaries, with a cap on line length. */
export class LineSplitter {
  readonly #decoder = new StringDecoder('utf8');
  readonly #maxLine: number;
  #buffer = '';

  constructor(maxLine = 1 << 20) {
    this.#maxLine = maxLine;
  }

  /** Lines completed by this chunk. Throws a RangeError when a line exceeds the cap. */
  push(chunk: Uint8Array): string[] {
    this.#buffer += this.#decoder.write(Buffer.from(chunk));
    const parts = this.#buffer.split('\n');
    this.#buffer = parts.pop() ?? '';
    if (this.#buffer.length > this.#maxLine) throw new RangeError(`progress line longer than ${this.#maxLine} characters`);
    return parts.map((p) => p.replace(/\r$/, '')).filter((p) => p.trim() !== '');
  }

  /** What remains at the end of the stream. */
  end(): string[] {
    const rest = (this.#buffer + this.#decoder.end()).trim();
    this.#buffer = '';
    return rest === '' ? [] : [rest];
  }
}
