import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ResolverError } from '../errors.js';
import { parseConfig } from './load.js';
import { configJsonSchema, maxImages, parseDuration } from './schema.js';

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

/** The config `text` is invalid (exit 78), and a detail line contains `message`. */
function expectInvalid(text: string, message: string): void {
  const e = configError(text);
  expect(e.code).toBe('ERR_CONFIG_INVALID');
  expect(e.details.join('\n')).toContain(message);
}

describe('config', () => {
  it('the example file is valid and shows the defaults', () => {
    const c = parseConfig(readFileSync(example, 'utf8'), 'example');
    expect(c).toMatchObject({ schedule: '*/15 * * * *', splay: 'auto', concurrency: 2, onMissingPlatform: 'hold', retain: 1, logLevel: 'info', shutdownTimeout: '20s' });
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
    ['metrics:\n  listen: "[::]:9464"\nimages:\n  - image: alpine\n', 'without metrics.token the endpoint is served on loopback only; to serve on [::]:9464, set metrics.token'],
    ['metrics:\n  listen: 0.0.0.0:9464\n  token: {file: /t}\n  tokenFile: /t\nimages:\n  - image: alpine\n', 'metrics.tokenFile: give either token or tokenFile, not both'],
    ['metrics:\n  listen: 0.0.0.0:9464\n  token: s3cret-in-the-config\nimages:\n  - image: alpine\n', 'c.yaml:3: metrics.token:'],
    ['splay: soon\nimages:\n  - image: alpine\n', 'c.yaml:1: splay:'],
  ])('names the key, the line and the fix: %j', expectInvalid);

  it('metrics: any address with a token (file, tokenFile or credential) and optional TLS files', () => {
    const base = 'images:\n  - image: alpine\nmetrics:\n  listen: 0.0.0.0:9464\n';
    expect(parseConfig(`${base}  tokenFile: /etc/resolver/api-token\n`, 'c.yaml').metrics).toEqual({ listen: '0.0.0.0:9464', token: { file: '/etc/resolver/api-token' }, tls: undefined });
    expect(parseConfig(`${base}  token: {credential: api-token}\n  tls: {cert: /c.pem, key: /k.pem}\n`, 'c.yaml').metrics).toEqual({ listen: '0.0.0.0:9464', token: { credential: 'api-token' }, tls: { cert: '/c.pem', key: '/k.pem' } });
    expect(parseConfig('images:\n  - image: alpine\nmetrics:\n  listen: 127.0.0.1:9464\n', 'c.yaml').metrics).toEqual({ listen: '127.0.0.1:9464', token: undefined, tls: undefined });
  });

  it('discovery: images may be empty or absent when it is on; off, an empty list says how to turn it on', () => {
    expect(parseConfig('discovery:\n  watchByDefault: true\n', 'c.yaml')).toMatchObject({ images: [], discovery: { watchByDefault: true, includeStopped: true, resyncMs: 300_000, debounceMs: 2000 } });
    expect(parseConfig('discovery: {}\nimages: []\n', 'c.yaml').discovery).toMatchObject({ watchByDefault: false });
    expect(parseConfig('discovery:\nimages:\n  - image: alpine\n', 'c.yaml').discovery).toBeUndefined();
    expectInvalid('discovery:\n  enabled: false\nimages: []\n', 'c.yaml:3: images: name at least one image to keep pulled (or turn on discovery: to follow labelled containers)');
    expect(configError('discovery:\n  enabled: false\n').details.join('\n')).toMatch(/`images` is missing: list the images to keep pulled/);
    expectInvalid('discovery:\n  resync: 1s\n', 'c.yaml:2: discovery.resync: between 10s and 24h');
    expectInvalid('discovery:\n  watchbydefault: true\n', 'unknown key "watchbydefault"');
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

  it('treats sections left empty (only comments under them) as their defaults', () => {
    const c = parseConfig('engine:\nregistries:\nmetrics:\nimages:\n  - image: alpine\n', 'c.yaml');
    expect(c.engine).toEqual({});
    expect(c.registries).toEqual({ insecure: [] });
    expect(c.metrics).toBeUndefined();
  });

  it('parses durations to milliseconds once, next to the original fields', () => {
    const c = parseConfig('images:\n  - image: alpine\n', 'c.yaml');
    expect(c).toMatchObject({ splay: 'auto', splayMs: undefined, shutdownTimeout: '20s', shutdownTimeoutMs: 20_000 });
    expect(parseConfig('splay: 60s\nimages:\n  - image: alpine\n', 'c.yaml')).toMatchObject({ splay: '60s', splayMs: 60_000 });
    expect(parseConfig('splay: 1.5s\nshutdownTimeout: 2\nimages:\n  - image: alpine\n', 'c.yaml')).toMatchObject({ splayMs: 1500, shutdownTimeoutMs: 2000 });
    expect(parseConfig('splay: 596h\nimages:\n  - image: alpine\n', 'c.yaml').splayMs).toBe(596 * 3_600_000);
  });

  it.each([
    // Cron fields node-cron accepts but that cannot be what was meant (9.9, 13.13).
    ['schedule: "*/61 * * * *"\nimages:\n  - image: alpine\n', 'c.yaml:1: schedule: "*/61 * * * *" is not a valid cron expression (the step /61 in the minute field is out of range 1-59)'],
    ['schedule: "0 */25 * * *"\nimages:\n  - image: alpine\n', 'the step /25 in the hour field is out of range 1-23'],
    ['schedule: "0 0 */32 * *"\nimages:\n  - image: alpine\n', 'the step /32 in the day of month field is out of range 1-31'],
    ['schedule: "0 0 * */13 *"\nimages:\n  - image: alpine\n', 'the step /13 in the month field is out of range 1-12'],
    ['schedule: "0 0 * * */8"\nimages:\n  - image: alpine\n', 'the step /8 in the day of week field is out of range 1-7'],
    ['schedule: "*/61 * * * * *"\nimages:\n  - image: alpine\n', 'the step /61 in the second field is out of range 1-59'],
    ['schedule: "50-10 * * * *"\nimages:\n  - image: alpine\n', 'the range 50-10 in the minute field runs backwards; write it as two ranges, e.g. 50-59,0-10'],
    ['images:\n  - image: alpine\n    schedule: "0 0 * dec-jan *"\n', 'c.yaml:3: images[0].schedule: "0 0 * dec-jan *" is not a valid cron expression (the range dec-jan in the month field runs backwards'],
    // Platforms that containerd's parser accepts but that name no real platform (9.9).
    ['platform: linux/armv7\nimages:\n  - image: alpine\n', 'c.yaml:1: platform: unknown architecture "armv7" in "linux/armv7" (did you mean linux/arm/v7?); valid forms: linux/amd64'],
    ['images:\n  - image: alpine\n    platform: linux/armv6l\n', 'c.yaml:3: images[0].platform: unknown architecture "armv6l" in "linux/armv6l" (did you mean linux/arm/v6?)'],
    ['platform: lnux/amd64\nimages:\n  - image: alpine\n', 'c.yaml:1: platform: unknown operating system "lnux" in "lnux/amd64"; valid forms:'],
    ['platform: linux/arm/v9\nimages:\n  - image: alpine\n', 'c.yaml:1: platform: unknown variant "v9" in "linux/arm/v9": arm variants are v5, v6, v7 and v8'],
    ['platform: linux/amd64/v5\nimages:\n  - image: alpine\n', 'amd64 variants are v1 (the default), v2, v3 and v4'],
    ['platform: linux/arm64/v7\nimages:\n  - image: alpine\n', 'arm64 variants are v8 (the default)'],
    ['platform: linux/amd64/v2/x\nimages:\n  - image: alpine\n', 'c.yaml:1: platform: invalid platform "linux/amd64/v2/x": cannot parse platform specifier (at most os/arch/variant); valid forms:'],
    // Ports and loopback addresses (13.5, 13.21).
    ['metrics:\n  listen: 127.0.0.1:99999\nimages:\n  - image: alpine\n', 'c.yaml:2: metrics.listen: port 99999 is out of range 0-65535'],
    ['metrics:\n  listen: 127.0.0.300:9464\nimages:\n  - image: alpine\n', 'c.yaml:2: metrics.listen: a loopback address such as 127.0.0.1:9464, [::1]:9464 or localhost:9464 ("127.0.0.300" is not one'],
    ['metrics:\n  listen: 127.0.0.1\nimages:\n  - image: alpine\n', 'c.yaml:2: metrics.listen: a loopback address with a port, such as 127.0.0.1:9464 ("127.0.0.1" has no port)'],
    ['engine:\n  host: tcp://10.0.0.2:70000\nimages:\n  - image: alpine\n', 'c.yaml:2: engine.host: port 70000 is out of range 0-65535 in "tcp://10.0.0.2:70000"'],
    // Durations beyond what a timer can arm (13.22).
    ['splay: 600h\nimages:\n  - image: alpine\n', `c.yaml:1: splay: "600h" is longer than Node's timers allow (2^31-1 ms, about 24.8 days)`],
    // A bad splay names every accepted form, auto (the default) included.
    ['splay: soon\nimages:\n  - image: alpine\n', 'c.yaml:1: splay: use auto (the default), 0 (off) or a duration such as 30s, 5m or 1h (got "soon")'],
    ['splay: Auto\nimages:\n  - image: alpine\n', 'c.yaml:1: splay: use auto (the default), 0 (off) or a duration such as 30s, 5m or 1h (got "Auto")'],
    ['splay: -5\nimages:\n  - image: alpine\n', 'c.yaml:1: splay: use auto (the default), 0 (off) or a duration such as 30s, 5m or 1h (got -5)'],
    ['splay: true\nimages:\n  - image: alpine\n', 'c.yaml:1: splay: use auto (the default), 0 (off) or a duration such as 30s, 5m or 1h (got true)'],
    ['splay: 3000000\nimages:\n  - image: alpine\n', `c.yaml:1: splay: 3000000 s is longer than Node's timers allow (2^31-1 ms, about 24.8 days)`],
    ['shutdownTimeout: 3000000\nimages:\n  - image: alpine\n', 'c.yaml:1: shutdownTimeout:'],
    ['shutdownTimeout: 2147484m\nimages:\n  - image: alpine\n', 'c.yaml:1: shutdownTimeout: "2147484m" is longer than'],
  ])('rejects values that pass node-cron, containerd or a regex but can never work: %j', expectInvalid);

  it.each([
    'schedule: "*/59 * * * *"', 'schedule: "0 0 * * 7"', 'schedule: "0 0 * jan-mar mon-fri"', 'schedule: "@hourly"', 'schedule: "0 */5 * * * *"',
    'platform: linux/armhf', 'platform: linux/arm64/v8', 'platform: arm64', 'platform: linux', 'platform: linux/riscv64/rva22u64',
    'platform: windows(10.0.20348)/amd64', 'platform: linux/aarch64', 'metrics:\n  listen: LOCALHOST:9464', 'metrics:\n  listen: "[::1]:0"', 'metrics:\n  listen: 127.1.2.3:65535',
    'engine:\n  host: tcp://127.0.0.1:2375', 'engine:\n  host: unix:///run/docker.sock',
  ])('accepts %j', (line) => {
    expect(parseConfig(`${line}\nimages:\n  - image: alpine\n`, 'c.yaml').images).toHaveLength(1);
  });

  describe('a schedule that fires more than once a minute (9.9)', () => {
    it('is refused against a registry that is not on loopback, naming the key to allow it', () => {
      const e = configError('schedule: "*/10 * * * * *"\nimages:\n  - image: alpine\n  - image: busybox\n');
      expect(e.details).toEqual([
        'c.yaml:1: schedule: "*/10 * * * * *" checks 6 times a minute and alpine (images[0]) is not on a loopback registry: on a fleet that burns registry quota (Docker Hub counts every manifest request); check at most once a minute (5 fields), or set allowSubMinuteSchedule: true',
      ]);
      const own = configError('images:\n  - image: localhost:5000/a\n  - image: registry.example.com/b\n    schedule: "* * * * * *"\n');
      expect(own.details.join('\n')).toContain('c.yaml:4: images[1].schedule: "* * * * * *" checks 60 times a minute and registry.example.com/b (images[1])');
    });

    it('is allowed against loopback registries, and everywhere with allowSubMinuteSchedule: true', () => {
      expect(parseConfig('schedule: "*/2 * * * * *"\nimages:\n  - image: localhost:5000/a\n  - image: 127.0.0.1:5000/b\n  - image: "[::1]:5000/c"\n  - image: LOCALHOST:5000/d\n', 'c.yaml').images).toHaveLength(4);
      expect(parseConfig('allowSubMinuteSchedule: true\nschedule: "*/2 * * * * *"\nimages:\n  - image: alpine\n', 'c.yaml').allowSubMinuteSchedule).toBe(true);
    });
  });

  describe('duplicate entries (9.3): the same image for the same platform', () => {
    it('are an error naming both lines, after normalising the reference and the platform', () => {
      const e = configError('images:\n  - image: alpine\n  - image: docker.io/library/alpine:latest\n');
      expect(e.details).toEqual([
        `c.yaml:3: images[1]: duplicate entry: images[0] already keeps docker.io/library/alpine:latest pulled for the engine's platform; remove one, or give them different platforms (images[0] is on line 2)`,
      ]);
      const arm = configError('images:\n  - image: alpine\n    platform: linux/arm/v7\n  - image: alpine:3.20\n  - image: alpine\n    platform: linux/armhf\n');
      expect(arm.details.join('\n')).toContain('c.yaml:5: images[2]: duplicate entry: images[0] already keeps alpine pulled for linux/arm/v7; remove one, or give them different platforms (images[0] is on line 2)');
      const global = configError('platform: linux/arm64\nimages:\n  - image: alpine\n  - image: alpine\n    platform: linux/arm64/v8\n');
      expect(global.details.join('\n')).toContain('c.yaml:4: images[1]: duplicate entry');
    });

    it('are not: one image for two platforms, or for the engine and an explicit platform', () => {
      const c = parseConfig('images:\n  - image: alpine\n  - image: alpine\n    platform: linux/arm/v7\n  - image: alpine\n    platform: linux/arm/v6\n  - image: alpine\n    platform: linux/amd64\n', 'c.yaml');
      expect(c.images).toHaveLength(4);
    });
  });

  describe('limits (13.9, 13.13): every failure is ERR_CONFIG_INVALID (exit 78), none a crash', () => {
    it('a YAML alias bomb', () => {
      const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', 'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]', 'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]', 'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]', 'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]', 'images:', '  - image: alpine', ''].join('\n');
      const e = configError(bomb);
      expect(e.code).toBe('ERR_CONFIG_INVALID');
      expect(e.message).toBe('c.yaml:2: YAML aliases expand more than 100 times (an alias bomb?); write the values out instead');
    });

    it('deeply nested documents, one after another as reloads would (V8 aborted the process on the second)', () => {
      for (const depth of [1000, 10_000, 200_000]) {
        expect(configError(`images: ${'['.repeat(depth)}${']'.repeat(depth)}\n`).message).toBe('c.yaml:1: the YAML nests more than 64 levels deep; a config needs 4');
      }
      const block = `images:\n${Array.from({ length: 70 }, (_, i) => `${' '.repeat(i + 2)}k${i}:`).join('\n')}\n`;
      expect(configError(block).message).toBe('c.yaml:65: the YAML nests more than 64 levels deep; a config needs 4');
      expect(configError(`images:\n${'- '.repeat(70)}x\n`).message).toBe('c.yaml:2: the YAML nests more than 64 levels deep; a config needs 4');
      // 64 levels are parsed (and then refused by the schema, not by the nesting limit).
      expect(configError(`images: ${'['.repeat(64)}${']'.repeat(64)}\n`).details[0]).toBe('c.yaml:1: images[0]: Invalid input: expected object, received array');
    });

    it(`more than ${maxImages} images`, () => {
      const e = configError(`images:\n${'  - image: alpine\n'.repeat(maxImages + 1)}`);
      expect(e.details[0]).toBe(`c.yaml:2: images: at most ${maxImages} entries`);
    });
  });
});
