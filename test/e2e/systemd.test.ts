import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { parseDuration } from '../../src/config/schema.js';

const units = ['systemd/resolver.service', 'systemd/resolver-check.service', 'systemd/resolver-check.timer'];

describe.runIf(existsSync('/usr/bin/systemd-analyze'))('systemd units', () => {
  it.each(units)('%s passes systemd-analyze verify', (unit) => {
    const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.trim()).toBe('');
  });

  it('resolver.service has an offline exposure of at most 2.0', () => {
    const out = execFileSync('systemd-analyze', ['security', '--offline=true', '--threshold=20', 'systemd/resolver.service'], { encoding: 'utf8' });
    const score = Number(/Overall exposure level for resolver\.service: ([\d.]+)/.exec(out)?.[1]);
    expect(score).toBeLessThanOrEqual(2.0);
  });

  it('stops within TimeoutStopSec: the default shutdown deadline is shorter; bad configs are not restarted', () => {
    const unit = readFileSync('systemd/resolver.service', 'utf8');
    const stop = parseDuration(/^TimeoutStopSec=(\S+)$/m.exec(unit)?.[1] ?? '');
    const defaults = parseConfig('images:\n  - image: alpine\n', 'x');
    expect(parseDuration(defaults.shutdownTimeout)).toBeLessThan(stop);
    expect(unit).toMatch(/^RestartPreventExitStatus=78$/m);
    expect(unit).toMatch(/^MemoryDenyWriteExecute=no$/m);
    expect(unit).toMatch(/^UnsetEnvironment=.*\bDEBUG\b/m);
    expect(unit).toMatch(/^ExecStartPre=.* config check /m);
  });

  it('resolver-check.service counts a held entry (check exits 3) as success, a failed one (12, 13) not', () => {
    const r = spawnSync('systemd-analyze', ['verify', 'systemd/resolver-check.service'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const unit = readFileSync('systemd/resolver-check.service', 'utf8');
    const success = [...unit.matchAll(/^SuccessExitStatus=(.+)$/gm)].flatMap((m) => (m[1] ?? '').trim().split(/\s+/));
    expect(success).toContain('3');
    expect(success).not.toContain('12');
    expect(success).not.toContain('13');
  });
});
