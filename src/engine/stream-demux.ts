/**
 * Docker's multiplexed attach stream, what the engine sends for a container without a TTY (moby's
 * pkg/stdcopy): frames of an 8-byte header (the stream: 0 stdin, 1 stdout, 2 stderr, 3 the engine's own
 * error; three zero bytes; the payload's length, big-endian) and the payload. Pure: fed chunk by chunk, a
 * header or a payload may span chunks; a payload is handed on as it arrives, never held whole.
 */

/** Where a piece of payload goes: stdin frames go to stdout, as the docker CLI's stdcopy does. */
export type FrameStream = 'stdout' | 'stderr' | 'system';

/** One piece of a frame's payload. */
export interface FramePiece {
  readonly stream: FrameStream;
  readonly data: Buffer;
}

const streams: Readonly<Record<number, FrameStream>> = { 0: 'stdout', 1: 'stdout', 2: 'stderr', 3: 'system' };

/** Splits the multiplexed stream into payload pieces. */
export class FrameSplitter {
  #header = Buffer.alloc(0);
  #stream: FrameStream = 'stdout';
  #left = 0;

  /** The payload pieces `chunk` completes or continues. An unknown stream number goes to stderr (nothing is lost). */
  push(chunk: Buffer): FramePiece[] {
    const out: FramePiece[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.#left > 0) {
        const n = Math.min(this.#left, chunk.length - at);
        out.push({ stream: this.#stream, data: chunk.subarray(at, at + n) });
        this.#left -= n;
        at += n;
        continue;
      }
      const need = 8 - this.#header.length;
      this.#header = Buffer.concat([this.#header, chunk.subarray(at, at + need)]);
      at += Math.min(need, chunk.length - at);
      if (this.#header.length < 8) break;
      this.#stream = streams[this.#header[0] ?? 1] ?? 'stderr';
      this.#left = this.#header.readUInt32BE(4);
      this.#header = Buffer.alloc(0);
    }
    return out;
  }

  /** True when the stream ended in the middle of a frame (a truncated header or payload). */
  get partial(): boolean {
    return this.#header.length > 0 || this.#left > 0;
  }
}
