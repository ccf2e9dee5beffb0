import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { tokenUser } from '../sandbox/token-server.js';
import { cli, cliPath } from './cli.js';

const s = inject('services');

describe('resolver manifest inspect', () => {
  it('--raw prints the exact bytes served: an OCI index round-trips byte for byte', () => {
    const r = spawnSync(process.execPath, [cliPath, 'manifest', 'inspect', '--raw', `${s.anonymous}/multi/oci:latest`], { env: { PATH: process.env['PATH'] } });
    expect(r.status).toBe(0);
    expect(`sha256:${createHash('sha256').update(r.stdout).digest('hex')}`).toBe(s.images['multi/oci']?.index);
  });

  it('prints the document as JSON by default and a table with --table', async () => {
    const json = await cli(['manifest', 'inspect', `${s.anonymous}/multi/docker:latest`]);
    expect(JSON.parse(json.stdout).mediaType).toBe('application/vnd.docker.distribution.manifest.list.v2+json');
    const table = await cli(['manifest', 'inspect', '--table', `${s.anonymous}/multi/docker:latest`]);
    expect(table.stdout).toContain(`digest     ${s.images['multi/docker']?.index}`);
    expect(table.stdout).toMatch(/windows\(10\.0\.17763\.1\)\/amd64\s+sha256:[0-9a-f]{64}/);
    expect(table.stdout).toMatch(/linux\/arm\/v6\s+sha256:/);
    // Attestations are labelled with the image they describe (the first 12 hex digits of its digest).
    const oci = await cli(['manifest', 'inspect', '--table', `${s.anonymous}/multi/oci:latest`]);
    const labelled = [...oci.stdout.matchAll(/attestation of (sha256:[0-9a-f]{12})\s+sha256:[0-9a-f]{64}/g)].map((m) => m[1]);
    expect(labelled).toEqual(s.images['multi/oci']?.children.map((c) => c.manifest.slice(0, 19)));
    const single = await cli(['manifest', 'inspect', '--table', `${s.anonymous}/single:latest`]);
    expect(single.stdout).toMatch(/config\s+sha256:/);
  });

  it('uses the same credentials as which, and fails clearly', async () => {
    const cfg = join(s.tmp, 'inspect-auth');
    await mkdir(cfg, { recursive: true });
    await writeFile(join(cfg, 'config.json'), JSON.stringify({ auths: { [s.token]: { auth: Buffer.from(`${tokenUser.username}:${tokenUser.password}`).toString('base64') } } }));
    const ok = await cli(['manifest', 'inspect', '--table', `${s.token}/private/app:latest`], { DOCKER_CONFIG: cfg });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`digest     ${s.images['token:private/app']?.index}`);
    expect((await cli(['manifest', 'inspect', `${s.token}/private/app:latest`])).code).toBe(5);
    expect((await cli(['manifest', 'inspect', `${s.anonymous}/multi/docker:nope`])).code).toBe(4);
  });
});
