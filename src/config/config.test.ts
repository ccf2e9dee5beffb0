import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ResolverError } from '../errors.js';
import { parseConfig } from './load.js';
import { configJsonSchema, parseDuration } from './schema.js';

const example = new URL('../../config/resolver.example.yaml', import.meta.url);

function configError(text: string): ResolverError {
  try {
    parseConfig(text, 'c.yaml');
  } catch (error) {
    if (error instanceof ResolverError) return error;
    throw error;
  }
  throw new Error('expected an invalid config');
}

describe('config', () => {
  it('the example file is valid and shows the defaults', () => {
    const c = parseConfig(readFileSync(example, 'utf8'), 'example');
    expect(c).toMatchObject({ schedule: '*/15 * * * *', splay: '60s', concurrency: 2, onMissingPlatform: 'hold', retain: 1, logLevel: 'info', shutdownTimeout: '20s' });
    expect(c.images[1]).toMatchObject({ schedule: '*/5 * * * *', onMissingPlatform: 'fail', retain: 2 });
  });

  it('fills defaults for a minimal file', () => {
    const c = parseConfig('images:\n  - image: alpine\n', 'c.yaml');
    expect(c.registries).toEqual({ insecure: [] });
    expect(c.engine).toEqual({});
  });

  it.each([
    ['images:\n  - image: alpine\nschedul: "* * * * *"\n', 'c.yaml:3: schedul: unknown key "schedul"'],
    ['images:\n  - image: alpine\n    platfrom: linux/arm64\n', 'c.yaml:3: images[0].platfrom: unknown key "platfrom"'],
    ['schedule: "61 * * * *"\nimages:\n  - image: alpine\n', 'c.yaml:1: schedule: "61 * * * *" is not a valid cron expression'],
    ['images:\n  - image: alpine\n    schedule: every minute\n', 'c.yaml:3: images[0].schedule: "every minute" is not a valid cron expression'],
    ['images:\n  - image: Not/Valid\n', 'c.yaml:2: images[0].image: invalid reference "Not/Valid"'],
    ['platform: linux/*\nimages:\n  - image: alpine\n', 'c.yaml:1: platform: invalid platform "linux/*": wildcards not yet supported'],
    ['onMissingPlatform: retry\nimages:\n  - image: alpine\n', 'c.yaml:1: onMissingPlatform:'],
    ['images: []\n', 'c.yaml:1: images: name at least one image to keep pulled'],
    ['metrics:\n  listen: 0.0.0.0:9464\nimages:\n  - image: alpine\n', 'c.yaml:2: metrics.listen: a loopback address'],
    ['splay: soon\nimages:\n  - image: alpine\n', 'c.yaml:1: splay:'],
  ])('names the key, the line and the fix: %j', (text, message) => {
    const e = configError(text);
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.details.join('\n')).toContain(message);
  });

  it('reports YAML syntax errors with the line', () => {
    const e = configError('images:\n  - image: alpine\n bad: [\n');
    expect(e.message).toMatch(/^c\.yaml:\d+: not valid YAML/);
  });

  it('parses durations', () => {
    expect([parseDuration('500ms'), parseDuration('30s'), parseDuration('5m'), parseDuration('1h'), parseDuration(2)]).toEqual([500, 30_000, 300_000, 3_600_000, 2000]);
  });

  it('the committed JSON Schema is generated from the zod schema', () => {
    const committed = JSON.parse(readFileSync(new URL('../../config/resolver.schema.json', import.meta.url), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(configJsonSchema())));
  });
});
