/** One frame of the Docker Engine's multiplexed attach stream (src/engine/stream-demux.ts reads them), for fake engines. */
export function muxFrame(stream: number, text: string): Buffer {
  const data = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(data.length, 4);
  return Buffer.concat([header, data]);
}
