/**
 * `resolver run --pull newer|always|missing|never` against the private dockerd and a registry of its own
 * (so the tag can move and the registry can go silent): which child each policy starts, and that a
 * registry that accepts connections and never answers delays `newer` by the bound, not a minute.
 */
import { mkdtemp } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient } from '../../src/http/http.js';
import { Pusher } from '../sandbox/push.js';
import { startRegistry, type RunningRegistry } from '../sandbox/registry-server.js';
import { busyboxRoot, publishIndex } from '../sandbox/samples.js';
import { cliPath, runWithin, type TimedRun } from './cli.js';
import { engineApi } from './engine-api.js';

const s = inject('services');
const dockerHost = s.engine;
const http = createHttpClient();
let env: Record<string, string> = {};
let registry: RunningRegistry | undefined;
let silent: { server: Server; sockets: Socket[]; connections: number } | undefined;

type Outcome = TimedRun;

/** `resolver run -q --rm --network none …` with a deadline (a hang fails the test instead of stalling it). */
const run = (args: readonly string[], deadlineMs = 40_000): Promise<Outcome> => runWithin(process.execPath, [cliPath, 'run', '-q', '--rm', '--network', 'none', ...args], env, deadlineMs);

/** Publishes `repo:latest` with one runnable linux/amd64 child that prints `text`. */
async function publish(repo: string, text: string): Promise<string> {
  if (registry === undefined) throw new Error('no registry');
  const root = await busyboxRoot();
  const published = await publishIndex(new Pusher({ http, host: registry.host, repository: repo }), {
    tag: 'latest', format: 'oci', label: text,
    children: [{ platform: { os: 'linux', architecture: 'amd64' }, files: root, cmd: ['/bin/sh', '-c', `echo ${text}`] }],
  });
  return published.children[0]?.manifest.digest ?? '';
}

beforeAll(async () => {
  env = { DOCKER_HOST: dockerHost ?? '', RESOLVER_STATE_DIR: await mkdtemp(join(s.tmp, 'run-pull-')) };
  registry = await startRegistry({ dir: await mkdtemp(join(s.tmp, 'run-pull-reg-')), auth: { kind: 'none' } });
});
afterAll(async () => {
  await registry?.stop();
  if (silent !== undefined) {
    for (const socket of silent.sockets) socket.destroy();
    await new Promise((r) => silent?.server.close(r));
  }
  await http.close();
});

describe.runIf(dockerHost !== undefined || process.env['CI'] === 'true')('resolver run --pull', () => {
  const ref = (): string => `${registry?.host ?? ''}/app:latest`;

  it('newer (the default) asks the registry on every run and starts the tag’s current child', async () => {
    await publish('app', 'v1');
    expect((await run([ref()])).stdout).toBe('v1\n');
    await publish('app', 'v2');
    const moved = await run([ref()]);
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stdout).toBe('v2\n');
    expect((await run(['--pull', 'newer', ref()])).stdout).toBe('v2\n');
  });

  it('missing and never start the known child without asking the registry: a moved tag is not pulled', async () => {
    await publish('app', 'v3');
    for (const policy of ['missing', 'never']) {
      const r = await run(['--pull', policy, ref()]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('v2\n');
      expect(r.stderr).toBe('');
    }
  });

  it('never with nothing known or local: 125 "No such image"; missing then pulls it', async () => {
    await publish('other', 'other-v1');
    const other = `${registry?.host ?? ''}/other:latest`;
    const never = await run(['--pull', 'never', other]);
    expect(never.code).toBe(125);
    expect(never.stderr).toContain(`resolver: No such image: ${other}`);
    const missing = await run(['--pull', 'missing', other]);
    expect(missing.code, missing.stderr).toBe(0);
    expect(missing.stdout).toBe('other-v1\n');
  });

  it('never and missing start an image the engine got elsewhere (docker tag/load) when its platform fits, and ask no registry', async () => {
    const api = engineApi(dockerHost ?? '');
    // On a loopback host where nothing listens: a policy that asked a registry would fail, not reach out.
    const loaded = `127.0.0.1:9/resolver-loaded-${process.pid}`;
    try {
      const tagged = await api.post(`/images/${encodeURIComponent(ref())}/tag?repo=${encodeURIComponent(loaded)}&tag=v1`);
      expect(tagged.status).toBe(201);
      for (const policy of ['never', 'missing']) {
        const r = await run(['--pull', policy, `${loaded}:v1`]);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toBe('v2\n');
      }
      // An arm64 target does not accept this amd64 image: never has nothing to run.
      const other = await run(['--pull', 'never', '--platform', 'linux/arm64', `${loaded}:v1`]);
      expect(other.code).toBe(125);
      expect(other.stderr).toContain(`No such image: ${loaded}:v1 for linux/arm64`);
    } finally {
      await api.del(`/images/${encodeURIComponent(`${loaded}:v1`)}`);
      await api.close();
    }
  });

  it('a registry that accepts connections and never answers: newer starts the known child within the bound, with a warning; missing and never do not connect', async () => {
    const port = registry?.port ?? 0;
    await registry?.stop();
    const sockets: Socket[] = [];
    const server = createServer((socket) => {
      sockets.push(socket);
      if (silent !== undefined) silent.connections++;
    });
    silent = { server, sockets, connections: 0 };
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });

    const r = await run([ref()]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('v2\n');
    expect(r.stderr).toContain(`warning: 127.0.0.1:${port} did not answer within 5 s`);
    expect(r.stderr).toMatch(/warning: running sha256:[0-9a-f]{64}, pulled .* it may be stale/);
    expect(silent.connections).toBeGreaterThan(0);
    // Before: 63.9 s (the HTTP stack's header timeouts and retries); the bound is 5 s, plus start-up and the run.
    expect(r.ms).toBeLessThan(20_000);

    silent.connections = 0;
    for (const policy of ['never', 'missing']) {
      const offline = await run(['--pull', policy, ref()]);
      expect(offline.code, offline.stderr).toBe(0);
      expect(offline.stdout).toBe('v2\n');
    }
    expect(silent.connections).toBe(0);
  });

  it('always does not fall back: a refused registry fails with 125 and says why', async () => {
    for (const socket of silent?.sockets ?? []) socket.destroy();
    await new Promise((r) => silent?.server.close(r));
    silent = undefined;
    const r = await run(['--pull', 'always', ref()]);
    expect(r.code).toBe(125);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/refused.*--pull always does not start a known child/);
  });
});
