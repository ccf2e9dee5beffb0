#!/usr/bin/env node
// What a V8 heap snapshot holds, by kind: the self size of its nodes grouped by type and (for code, strings
// and closures) by name, the largest groups first. Usage: node bench/heap-summary.mjs FILE.heapsnapshot [N]
// (e.g. from `BENCH_HEAP_SNAPSHOT=/tmp/daemon node bench/daemon-memory.mjs`).
import { readFileSync } from 'node:fs';

const [file, top = '25'] = process.argv.slice(2);
if (file === undefined) {
  process.stderr.write('usage: node bench/heap-summary.mjs FILE.heapsnapshot [N]\n');
  process.exit(2);
}
const snap = JSON.parse(readFileSync(file, 'utf8'));
const { node_fields: fields, node_types: [types] } = snap.snapshot.meta;
const width = fields.length;
const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
const byType = new Map();
const byName = new Map();
let total = 0;
for (let i = 0; i < snap.nodes.length; i += width) {
  const type = types[snap.nodes[i + iType]];
  const size = snap.nodes[i + iSize];
  total += size;
  byType.set(type, (byType.get(type) ?? 0) + size);
  const name = String(snap.strings[snap.nodes[i + iName]]).slice(0, 60).replace(/\s+/g, ' ');
  const key = type === 'string' || type === 'concatenated string' || type === 'sliced string' ? `${type} (length ${name.length >= 60 ? '≥60' : '<60'})` : `${type} ${name}`;
  byName.set(key, (byName.get(key) ?? 0) + size);
}
const mb = (n) => (n / 1048576).toFixed(2).padStart(7);
process.stdout.write(`total self size ${mb(total)} MB\n\nby type:\n`);
for (const [k, v] of [...byType].sort((a, b) => b[1] - a[1])) process.stdout.write(`${mb(v)}  ${k}\n`);
process.stdout.write(`\nlargest groups:\n`);
for (const [k, v] of [...byName].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) process.stdout.write(`${mb(v)}  ${k}\n`);
