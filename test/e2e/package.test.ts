/**
 * What `npm pack` ships: the launcher, the bundle it runs and the MQTT chunk the bundle requires for an MQTT sink, the example config and schema, the systemd units
 * and the README — no test sandbox (token server with fixed passwords, dockerd launcher), no tests, no source
 * maps, no per-module ESM build. The unpacked package then runs as the product: `which` against the harness's
 * anonymous registry, from a folder that holds only the packed files (and the dependencies, linked).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';

const s = inject('services');

interface PackResult {
  readonly filename: string;
  readonly files: readonly { readonly path: string }[];
}
const pack = (args: readonly string[]): PackResult => {
  const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', ...args], { encoding: 'utf8', timeout: 60_000 });
  const parsed = JSON.parse(out) as PackResult[];
  expect(parsed).toHaveLength(1);
  return parsed[0]!;
};

describe('the npm package', () => {
  it('lists only the files the product runs', () => {
    const files = pack(['--dry-run']).files.map((f) => f.path).sort();
    expect(files).toEqual([
      'README.md',
      'bin/resolver-snapshot.cjs',
      'bin/resolver.cjs',
      'config/notification.schema.json',
      'config/resolver.example.yaml',
      'config/resolver.schema.json',
      'dist/resolver-mqtt.cjs',
      'dist/resolver.bundle.cjs',
      'package.json',
      'systemd/resolver-check.service',
      'systemd/resolver-check.timer',
      'systemd/resolver.service',
    ]);
    for (const f of files) expect(f).not.toMatch(/sandbox|\.test\.|\.map$|^test\/|^src\//);
  });

  it('runs from the unpacked files alone', () => {
    const dir = mkdtempSync(join(s.tmp, 'pack-'));
    const { filename } = pack(['--pack-destination', dir]);
    execFileSync('tar', ['-xzf', join(dir, filename), '-C', dir], { timeout: 30_000 });
    const pkg = join(dir, 'package');
    symlinkSync(resolve('node_modules'), join(pkg, 'node_modules'));
    const expected = s.images['multi/docker']?.children.find((c) => c.platform === 'linux/arm64/v8')?.manifest;
    expect(expected).toBeDefined();
    const r = spawnSync(process.execPath, [join(pkg, 'bin/resolver.cjs'), 'which', `${s.anonymous}/multi/docker:latest`, '--platform', 'linux/arm64'], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { PATH: process.env['PATH'], HOME: process.env['HOME'], DOCKER_HOST: 'unix:///nonexistent/docker.sock' },
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${expected!}\n`);
  });
});
