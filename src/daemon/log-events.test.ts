/**
 * The daemon's `pulled` log line says what happened: a child the engine fetched, or a first check that found
 * the engine already holding the child under the tag (`wasPresent`) and only recorded it.
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../log/logger.js';
import type { DaemonEvent } from './events.js';
import { logEvents } from './log-events.js';

const entry = { key: 'k', image: 'registry.lan/app:1', platform: 'linux/amd64' };
const pulled: DaemonEvent = { type: 'pulled', entry, indexDigest: 'sha256:i', childDigest: 'sha256:c', previous: undefined, pruned: [], at: '2026-12-01T12:00:00.000Z' };

function logged(event: DaemonEvent): Record<string, unknown>[] {
  const out: string[] = [];
  logEvents(createLogger({ level: 'info', human: false, write: (t) => void out.push(t) }))(event);
  return out.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('logEvents: pulled', () => {
  it('a child the engine fetched: "pulled a new child", no wasPresent field', () => {
    const [line] = logged({ ...pulled, previous: 'sha256:old' });
    expect(line).toMatchObject({ level: 30, msg: 'pulled a new child', image: entry.image, platform: entry.platform, child: 'sha256:c', previous: 'sha256:old' });
    expect(line).not.toHaveProperty('wasPresent');
  });

  it('a first check of a child the engine already had: recorded, not "pulled a new child"', () => {
    const lines = logged({ ...pulled, wasPresent: true });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 30, msg: 'child already present; recorded', image: entry.image, platform: entry.platform, child: 'sha256:c', wasPresent: true });
  });
});
