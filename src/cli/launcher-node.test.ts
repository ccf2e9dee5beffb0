import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'old-node-'));
const preload = join(dir, 'old-node.cjs');
writeFileSync(preload, "Object.defineProperty(process, 'versions', { value: { ...process.versions, node: '18.19.0' } });\n");
// A `node` that reports 18.19.0, first on PATH.
writeFileSync(join(dir, 'node'), `#!/bin/sh\nexec '${process.execPath}' -r '${preload}' "$@"\n`);
chmodSync(join(dir, 'node'), 0o755);

describe('an unsupported Node', () => {
  it('the launcher prints one line naming the supported versions and exits 1', () => {
    const r = spawnSync(process.execPath, ['-r', preload, join(root, 'bin/resolver.cjs'), '--version'], { encoding: 'utf8', env: { PATH: process.env['PATH'] } });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('resolver: Node 18.19.0 is not supported; it needs Node 20.19+, 22.12+ or 24+ (scripts/ensure-deps.sh says how to install one)\n');
  });

  it('scripts/ensure-deps.sh stops first with what to do', () => {
    const r = spawnSync('bash', [join(root, 'scripts/ensure-deps.sh'), 'demo'], { encoding: 'utf8', env: { PATH: `${dir}:${process.env['PATH'] ?? ''}` } });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/resolver needs Node 20\.19\+, 22\.12\+ or 24\+; found: v18\.19\.0/);
    expect(r.stderr).toMatch(/install one/);
  });
});
