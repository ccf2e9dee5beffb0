/**
 * Issue 13.12: `resolver pull` with the state folder on a full disk (a real tmpfs, filled) and the real
 * engine. The pull and the tag succeed, so the command exits 0 with a warning that the state could not be
 * recorded; it was exit 1 with a bare ENOSPC although the image was pulled and tagged.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { cli } from '../e2e/cli.js';
import { engineApi } from '../e2e/engine-api.js';

const s = inject('services');

describe.runIf(process.getuid?.() === 0 && s.engine !== undefined)('pull with the state folder on a full disk', () => {
  it('exits 0 with a warning naming ENOSPC; the image is pulled and tagged; no stack trace', async () => {
    const mnt = await mkdtemp(join(s.tmp, 'pull-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]);
    try {
      const stateDir = join(mnt, 'state');
      await mkdir(stateDir);
      await writeFile(join(mnt, 'filler'), Buffer.alloc(64 * 1024)).catch(() => undefined);
      const ref = `${s.anonymous}/super-golang:latest`;
      const r = await cli(['pull', '-q', ref], { DOCKER_HOST: s.engine, RESOLVER_STATE_DIR: stateDir });
      expect(r.stderr).toMatch(/resolver: warning: .*super-golang:latest was pulled, but its state record could not be written \(ENOSPC: the disk is full\)/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.code).toBe(0);
      const digest = r.stdout.trim();
      expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      const inspect = await engineApi(s.engine ?? '').get(`/images/${ref}/json`);
      expect((inspect.json?.RepoDigests as string[]).some((d) => d.endsWith(`@${digest}`))).toBe(true);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});
