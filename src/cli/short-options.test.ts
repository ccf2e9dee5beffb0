import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const launcher = new URL('../../bin/resolver.cjs', import.meta.url).pathname;

describe('-c is --context only (docker), never a config file', () => {
  it('check --config FILE -c ctx is an unknown option, not a config file named ctx', () => {
    const dir = mkdtempSync(join(tmpdir(), 'short-'));
    const file = join(dir, 'a.yaml');
    writeFileSync(file, 'images:\n  - image: 127.0.0.1:1/a:b\n');
    for (const command of [['check'], ['status'], ['daemon'], ['config', 'check']]) {
      const r = spawnSync(process.execPath, [launcher, ...command, '--config', file, '-c', 'ctx'], { encoding: 'utf8', cwd: dir, env: { PATH: process.env['PATH'], HOME: dir }, timeout: 20_000 });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/unknown option '-c'/);
      expect(r.stderr).not.toMatch(/ctx/);
    }
  });
});
