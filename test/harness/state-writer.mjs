// Child process for the kill -9 test: writes versions of a ~2 MB state file in a loop with the same
// durable writer the daemon uses, printing "ready" once the first write is done.
import { writeFileDurable } from '../../dist/state/durable-file.js';

const target = process.argv[2];
let n = Number(process.argv[3] ?? '0');
const body = (i) => JSON.stringify({ version: 1, n: i, pad: 'x'.repeat(2_000_000) });
await writeFileDurable(target, body(n));
process.stdout.write('ready\n');
for (;;) {
  n++;
  await writeFileDurable(target, body(n));
}
