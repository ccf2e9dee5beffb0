import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { derive } from './derive.js';
import { notificationBody, notificationJsonSchema, summary } from './notification.js';

const schemaFile = join(import.meta.dirname, '../../config/notification.schema.json');
const entry = { key: 'k', image: 'reg.test/app:1', platform: 'linux/arm/v7' };
const d = (c: string): string => `sha256:${c.repeat(64)}`;

describe('the webhook body', () => {
  it('config/notification.schema.json is the schema of the body (regenerate: see docs/notifications.md)', () => {
    expect(JSON.parse(readFileSync(schemaFile, 'utf8'))).toEqual(notificationJsonSchema());
  });

  it('every kind the derivation produces validates against the schema file', () => {
    const validate = new Ajv2020({ strict: false }).compile(JSON.parse(readFileSync(schemaFile, 'utf8')) as object);
    const events = [
      { type: 'pulled', entry, indexDigest: d('9'), childDigest: d('2'), previous: d('1'), size: 42, at: '2026-12-01T00:00:00.000Z' },
      { type: 'held', entry, indexDigest: d('9'), childDigest: d('2'), message: 'gone', available: ['linux/amd64'], at: '2026-12-01T00:00:01.000Z' },
      { type: 'platform-back', entry, childDigest: d('2'), at: '2026-12-01T00:00:02.000Z' },
      { type: 'failed', entry, code: 'ERR_NETWORK', message: 'refused', failures: 1, retryAfterMs: 1500, at: '2026-12-01T00:00:03.000Z' },
      { type: 'rate-limited', entry, registry: 'reg.test', retryAfterMs: 60_000, at: '2026-12-01T00:00:04.000Z' },
      { type: 'recovered', entry, failures: 1, at: '2026-12-01T00:00:05.000Z' },
      { type: 'pruned', entry, digests: [d('1')], at: '2026-12-01T00:00:06.000Z' },
    ] as const;
    let state = {};
    const kinds: string[] = [];
    for (const e of events) {
      const r = derive(state, e, { failedAfter: 1 });
      state = r.state;
      for (const n of r.notifications) {
        const body = notificationBody(n, 'host1');
        kinds.push(body.event);
        expect(validate(body), JSON.stringify(validate.errors)).toBe(true);
        expect(body.text).toBe(summary(n));
      }
    }
    expect(kinds).toEqual(['pulled', 'held', 'platform-back', 'failed', 'rate-limited', 'recovered', 'pruned']);
  });

  it('says what changed in one line', () => {
    const [n] = derive({}, { type: 'pulled', entry, indexDigest: d('9'), childDigest: d('b'), previous: d('a'), at: 'x' }, { failedAfter: 3 }).notifications;
    expect(n === undefined ? '' : summary(n)).toBe('reg.test/app:1 (linux/arm/v7): new child pulled, sha256:aaaaaaaaaaaa → sha256:bbbbbbbbbbbb');
  });
});
