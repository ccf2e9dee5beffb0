import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RolloutGate } from './rollout-gate.js';

let dir: string;
beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'resolver-rollout-gate-'))));
afterEach(async () => rm(dir, { recursive: true, force: true }));

const now = 5_000;
const gate = (): RolloutGate => new RolloutGate({ stateDir: () => dir, now: () => now });

describe('RolloutGate first-seen times (rollout.json)', () => {
  it('keeps the recorded time of a child across a restart', async () => {
    await writeFile(join(dir, 'rollout.json'), JSON.stringify({ a: { child: 'sha256:c', firstSeen: 1_000 } }));
    expect(await gate().firstSeen('a', 'sha256:c')).toBe(1_000);
  });

  // On the old code one entry that was no object (a TypeError inside the loop) lost every entry's time.
  it('skips an entry of another shape alone and keeps the others', async () => {
    await writeFile(join(dir, 'rollout.json'), JSON.stringify({ bad: null, worse: 'x', odd: { child: 5, firstSeen: 1 }, a: { child: 'sha256:c', firstSeen: 1_000 } }));
    const g = gate();
    expect([await g.firstSeen('a', 'sha256:c'), await g.firstSeen('bad', 'sha256:c'), await g.firstSeen('odd', 5 as unknown as string)]).toEqual([1_000, now, now]);
  });

  it.each([['cut short', '{"a":{"child":"sha256:c",'], ['not an object', 'null'], ['a list', '[{"child":"sha256:c","firstSeen":1}]']])(
    'a corrupt file (%s) restarts the clock (now), without throwing',
    async (_what, text) => {
      await writeFile(join(dir, 'rollout.json'), text);
      expect(await gate().firstSeen('a', 'sha256:c')).toBe(now);
    },
  );
});
