import { describe, expect, it } from 'vitest';
import { createLogger, parseLogLevel } from './logger.js';

describe('logger', () => {
  it('writes JSON lines for journald and redacts credential fields', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', human: false, write: (t) => lines.push(t) });
    log.info({ image: 'a', password: 'canary-1', headers: { 'x-registry-auth': 'canary-2' } }, 'checked');
    const o = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    expect(o).toMatchObject({ level: 30, msg: 'checked', image: 'a', password: '[REDACTED]' });
    expect(lines.join('')).not.toMatch(/canary/);
  });

  it('writes readable lines in a terminal', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', human: true, write: (t) => lines.push(t) });
    log.warn({ image: 'a', n: 2 }, 'holding');
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d WARN {2}holding image=a n=2\n$/);
  });
});

describe('log levels', () => {
  it.each(['verbose', 'warning', '', 'fatal', 'silent'])('an unknown level %j is a usage error naming the allowed values', (level) => {
    expect(() => createLogger({ level, human: false, write: () => undefined })).toThrow(
      expect.objectContaining({ code: 'ERR_USAGE', message: expect.stringContaining('use one of trace, debug, info, warn, error') }),
    );
  });

  it.each([['info', 'info'], ['WARN', 'warn'], [' debug ', 'debug']])('%j is accepted as %s', (given, level) => {
    expect(parseLogLevel(given)).toBe(level);
  });
});
