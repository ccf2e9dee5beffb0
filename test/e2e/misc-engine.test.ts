/**
 * What which/platform/pull say when the engine cannot be reached (built CLI): an engine named explicitly is
 * required unless the platform is given (exit 9), only a missing default socket falls back to this host; the
 * messages never echo DOCKER_HOST's userinfo and never call the engine a registry.
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, inject, it } from 'vitest';
import { cli } from './cli.js';

const s = inject('services');
const ref = `${s.anonymous}/multi/docker:latest`;
const arm64 = s.images['multi/docker']?.children.find((c) => c.platform === 'linux/arm64/v8')?.manifest;

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  await new Promise((r) => server.close(r));
  return typeof a === 'object' && a !== null ? a.port : 0;
}

describe('an unreachable engine', () => {
  it('named by DOCKER_HOST or -H: which and platform exit 9 without --platform, answer with it', async () => {
    for (const [args, env] of [[[], { DOCKER_HOST: 'unix:///nonexistent/nope.sock' }], [['-H', 'unix:///nonexistent/nope.sock'], {}]] as const) {
      const which = await cli([...args, 'which', ref], env);
      expect(which.code, which.stderr).toBe(9);
      expect(which.stdout).toBe('');
      expect(which.stderr).toMatch(/cannot reach the Docker Engine at unix:\/\/\/nonexistent\/nope\.sock/);
      expect(which.stderr).toMatch(/pass --platform/);
      expect((await cli([...args, 'platform'], env)).code).toBe(9);
      const given = await cli([...args, 'which', ref, '--platform', 'linux/arm64'], env);
      expect(given.code, given.stderr).toBe(0);
      expect(given.stdout).toBe(`${arm64}\n`);
      expect((await cli([...args, 'which', ref], { ...env, DOCKER_DEFAULT_PLATFORM: 'linux/arm64' })).stdout).toBe(`${arm64}\n`);
    }
  });

  it.skipIf(existsSync('/var/run/docker.sock'))('only the default socket missing: which falls back to this host with a warning', async () => {
    const r = await cli(['which', ref], { DOCKER_HOST: undefined });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect(r.stderr).not.toBe('');
  });

  it('a refused tcp engine: exit 9, no registry hint, no userinfo', async () => {
    const port = await closedPort();
    const r = await cli(['pull', ref], { DOCKER_HOST: `tcp://user:s3cret@127.0.0.1:${port}` });
    expect(r.code, r.stderr).toBe(9);
    expect(r.stderr).toMatch(new RegExp(`cannot reach the Docker Engine at tcp://127\\.0\\.0\\.1:${port}`));
    expect(r.stderr).not.toMatch(/s3cret|user:|registry running/);
  });
});
