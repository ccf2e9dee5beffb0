import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ResolverError } from '../errors.js';
import { loadConfig, parseConfig } from './load.js';

function details(f: () => unknown): string {
  try {
    f();
  } catch (error) {
    if (error instanceof ResolverError) return [error.message, ...error.details].join('\n');
    throw error;
  }
  throw new Error('no error');
}

describe('config messages a person understands', () => {
  it('an empty file: `images` is missing, no `?` line, no validator wording', () => {
    const text = details(() => parseConfig('', 'cfg/j.yaml'));
    expect(text).toMatch(/cfg\/j\.yaml: `images` is missing: list the images to keep pulled, e\.g\./);
    expect(text).not.toMatch(/:\?:|Invalid input|received undefined/);
  });

  it('metrics.token written inline: refused, saying where the token goes, without echoing it', () => {
    const text = details(() => parseConfig('images: [{image: alpine}]\nmetrics:\n  listen: 0.0.0.0:9466\n  token: canary-abcdefabcdef0123\n', 'c.yaml'));
    expect(text).toMatch(/c\.yaml:4: metrics\.token: the token is not written in the config .*token: \{file: \/etc\/resolver\/api-token\}/);
    expect(text).not.toMatch(/Invalid input|canary-/);
  });

  it('an unreadable file names both ways to pass a file (config check takes it as an argument)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cfg-'));
    const e = (await loadConfig(join(dir, 'missing.yaml')).then(() => undefined, (error: unknown) => error)) as ResolverError;
    expect(e.details.join('\n')).toMatch(/--config FILE, or `resolver config check FILE`/);
  });
});
