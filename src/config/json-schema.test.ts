/**
 * The shipped JSON Schema (config/resolver.schema.json, what editors use) checked with a real JSON-Schema
 * validator (ajv, draft 2020-12): the README's minimal config and the example file are valid, as the daemon
 * says they are; configs the daemon refuses for their shape are refused here too.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from './load.js';

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const schema = JSON.parse(read('config/resolver.schema.json')) as object;
const validate = new Ajv2020({ strict: true, allErrors: true }).compile(schema);

function readmeMinimal(): string {
  const readme = read('README.md');
  const m = /Minimal:\s*\n+```yaml\n([\s\S]*?)```/.exec(readme);
  if (m?.[1] === undefined) throw new Error('README.md has no "Minimal:" yaml block');
  return m[1];
}

const errorsOf = (text: string): string[] => (validate(parse(text) ?? {}) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`));

describe('config/resolver.schema.json', () => {
  it.each([
    ['README.md minimal config', readmeMinimal],
    ['config/resolver.example.yaml', () => read('config/resolver.example.yaml')],
    ['only images', () => 'images:\n  - image: alpine\n'],
    ['discovery without images', () => 'discovery:\n  watchByDefault: true\n  resync: 10m\n'],
    ['discovery with an empty image list', () => 'discovery: {}\nimages: []\n'],
    ['every key', () => 'engine:\n  host: unix:///run/docker.sock\nschedule: "*/5 * * * *"\nsplay: 0\nconcurrency: 4\nplatform: linux/arm64\nonMissingPlatform: fail\nretain: 0\nregistries:\n  insecure: [reg.lan:5000]\n  dockerConfig: /etc/resolver\nstateDir: /var/lib/resolver\nlogLevel: debug\nmetrics:\n  listen: 127.0.0.1:9464\nshutdownTimeout: 500ms\nallowSubMinuteSchedule: false\nimages:\n  - image: alpine\n    schedule: "0 * * * *"\n    platform: linux/arm/v7\n    onMissingPlatform: hold\n    retain: 3\n'],
  ])('accepts %s, which the daemon accepts too', (_what, text) => {
    expect(errorsOf(text())).toEqual([]);
    expect(() => parseConfig(text(), 'c.yaml')).not.toThrow();
  });

  it.each([
    ['no images', 'schedule: "* * * * *"\n', "must have required property 'images'"],
    ['an empty image list', 'images: []\n', '/images must NOT have fewer than 1 items'],
    ['an unknown key', 'images:\n  - image: alpine\nschedul: "* * * * *"\n', 'must NOT have additional properties'],
    ['an unknown key in an entry', 'images:\n  - image: alpine\n    platfrom: linux/arm64\n', '/images/0 must NOT have additional properties'],
    ['an entry without image', 'images:\n  - platform: linux/arm64\n', "/images/0 must have required property 'image'"],
    ['concurrency 0', 'concurrency: 0\nimages:\n  - image: alpine\n', '/concurrency must be >= 1'],
    ['a policy that does not exist', 'onMissingPlatform: retry\nimages:\n  - image: alpine\n', '/onMissingPlatform must be equal to one of the allowed values'],
    ['a duration without a unit', 'splay: soon\nimages:\n  - image: alpine\n', '/splay must match pattern'],
    ['a negative duration', 'shutdownTimeout: -1\nimages:\n  - image: alpine\n', '/shutdownTimeout must be >= 0'],
    ['a duration beyond 2^31-1 ms', 'shutdownTimeout: 3000000\nimages:\n  - image: alpine\n', '/shutdownTimeout must be <= 2147483.647'],
    ['an engine address that is not unix:// or tcp://', 'engine:\n  host: ssh://pi\nimages:\n  - image: alpine\n', '/engine/host must match pattern'],
    ['metrics without listen', 'metrics: {}\nimages:\n  - image: alpine\n', "/metrics must have required property 'listen'"],
    ['no images with discovery turned off', 'discovery:\n  enabled: false\nimages: []\n', '/images must NOT have fewer than 1 items'],
  ])('refuses %s, as the daemon does', (_what, text, message) => {
    expect(errorsOf(text).join('\n')).toContain(message);
    expect(() => parseConfig(text, 'c.yaml')).toThrow();
  });
});
