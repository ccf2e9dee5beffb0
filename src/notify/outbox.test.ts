import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../log/logger.js';
import type { Notification } from './notification.js';
import { Outbox, outboxFile } from './outbox.js';

let dir: string;
beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'resolver-outbox-'))));
afterEach(async () => rm(dir, { recursive: true, force: true }));

function outbox(): { box: Outbox; logs: Record<string, unknown>[] } {
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'info', human: false, write: (t) => void logs.push(JSON.parse(t) as Record<string, unknown>) });
  return { box: new Outbox({ stateDir: dir, logger, redact: (t) => t, now: () => Date.parse('2026-12-01T12:00:00.000Z') }), logs };
}

const state = { status: 'ok', childDigest: 'sha256:c', rateLimited: false } as const;
const pulled: Notification = { kind: 'pulled', id: 'n1', at: '2026-12-01T11:00:00.000Z', image: 'reg/app:1', platform: 'linux/arm64', oldDigest: 'sha256:a', newDigest: 'sha256:c', state };
const memory = { 'reg/app:1 detected': { child: 'sha256:c', held: false, failures: 0, failing: false, rateLimited: false } };

describe('Outbox.load', () => {
  it('reads back what it wrote: the derivation state and a queued notification', async () => {
    await writeFile(join(dir, outboxFile), JSON.stringify({ version: 1, derive: memory, queues: { hook: [{ n: pulled, queuedAt: 1, attempts: 2 }] } }));
    const { box, logs } = outbox();
    await box.load();
    expect([box.derive, box.pending(), logs]).toEqual([memory, { hook: 1 }, []]);
  });

  // On the old code each of these loaded: a null derive (a TypeError at the next event), an item that is no
  // notification (a TypeError at delivery), or a bare SyntaxError message in the warning.
  it.each([
    ['cut short', '{"version":1,"derive":{', 'not JSON (cut short or overwritten?)'],
    ['derive is null', JSON.stringify({ version: 1, derive: null, queues: {} }), 'unknown layout at derive: '],
    ['a queued item that is no notification', JSON.stringify({ version: 1, derive: {}, queues: { hook: [5] } }), 'unknown layout at queues.hook.0: '],
    ['a notification without its state', JSON.stringify({ version: 1, derive: {}, queues: { hook: [{ n: { ...pulled, state: undefined }, queuedAt: 1, attempts: 0 }] } }), 'unknown layout at queues.hook.0.n'],
    ['another version', JSON.stringify({ version: 2, derive: {}, queues: {} }), 'unknown layout at version: '],
  ])('a corrupt file (%s) is moved aside with a warning saying why, and the outbox starts empty', async (_what, text, why) => {
    await writeFile(join(dir, outboxFile), text);
    const { box, logs } = outbox();
    await box.load();
    expect([box.derive, box.pending()]).toEqual([{}, {}]);
    expect(logs.map((l) => [l['msg'], String(l['err']).slice(0, why.length)])).toEqual([['notification outbox unreadable; moved aside, starting empty', why]]);
    expect(await readdir(dir)).toEqual([`${outboxFile}.corrupt-2026-12-01T12-00-00-000Z`]);
  });
});
