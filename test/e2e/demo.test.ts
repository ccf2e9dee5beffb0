/**
 * The README's Quick start command 1 (`scripts/demo.sh`: scripts/build-sandbox.mjs, then
 * .tmp/sandbox/demo.js), run as a user would, against
 * the harness's private engine: the per-arch images are combined by `resolver manifest push --from-spec`, and
 * the tag then resolves and runs here.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';

const s = inject('services');

describe.runIf(s.engine !== undefined)('the Quick start demo', () => {
  it('publishes super-golang with manifest push --from-spec, then resolves and runs the amd64 child', async () => {
    const dir = join(s.tmp, 'demo');
    // What scripts/demo.sh runs after ensure-deps (which builds dist/, as `npm test` has).
    execFileSync(process.execPath, ['scripts/build-sandbox.mjs'], { stdio: 'inherit', timeout: 60_000 });
    const out = await new Promise<{ code: number | null; text: string }>((done, fail) => {
      const child = spawn(process.execPath, [resolve('.tmp/sandbox/demo.js')], {
        env: { ...process.env, RESOLVER_DEMO_DIR: dir, DOCKER_HOST: s.engine, RESOLVER_STATE_DIR: join(dir, 'state'), NODE_EXTRA_CA_CERTS: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      child.stdout.on('data', (c: Buffer) => (text += c.toString('utf8')));
      child.stderr.on('data', (c: Buffer) => (text += c.toString('utf8')));
      child.on('error', fail);
      child.on('close', (code) => done({ code, text }));
    });
    expect(out.code, out.text).toBe(0);
    expect(out.text).toContain('$ resolver manifest push --from-spec');
    expect(out.text).toMatch(/pushed 127\.0\.0\.1:\d+\/super-golang:latest \(application\/vnd\.oci\.image\.index\.v1\+json; tags latest; \d+ blobs mounted, 0 copied; 4 attestations\)/);
    const spec = await readFile(join(dir, 'manifest.yml'), 'utf8');
    expect(spec).toMatch(/^image: 127\.0\.0\.1:\d+\/super-golang:latest\nmanifests:\n {2}- image: 127\.0\.0\.1:\d+\/amd64\/golang:latest\n/);
    if (process.arch === 'x64') expect(out.text).toContain('super-golang: the linux/amd64 child, running on x86_64');
    // Each ARM child resolves to a digest; arm/v5 has none and says so.
    expect(out.text).toMatch(/linux\/arm\/v6 +sha256:[0-9a-f]{64}\n/);
    expect(out.text).toMatch(/linux\/arm\/v5 +\(exit 3\) /);
  });
});
