/**
 * reliability.md §6 case 2, connect-blackhole: the registry's SYNs are dropped (iptables DROP inside a
 * network namespace the test creates; the host's network is not touched). Expected: the command fails
 * within the connect timeout (5 s; undici's default would be 10 s), naming the host; another image's check
 * is not delayed by it; no change (state folder byte-identical, no temp files).
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { canUseNetns, createNetns, type Netns } from './netns.js';
import { imageManifest, indexOf, mediaTypes, sha } from './documents.js';
import { engineImages, snapshotDir, tempFiles } from './no-change.js';

const s = inject('services');
const blackholed = 5999;
const manifest = imageManifest();
const index = indexOf(manifest);

describe.runIf(canUseNetns())('connect-blackhole (§6 case 2)', () => {
  let ns: Netns;
  let registry: ChildProcess;
  let healthyPort = 0;
  const requests: { at: number; line: string }[] = [];
  let dir = '';

  beforeAll(async () => {
    ns = createNetns('blackhole');
    ns.blackhole(blackholed);
    dir = await mkdtemp(join(s.tmp, 'blackhole-'));
    const docs = join(dir, 'docs.json');
    await writeFile(docs, JSON.stringify({
      '/v2/app/manifests/v1': { type: mediaTypes.index, body: index.toString('base64') },
      [`/v2/app/manifests/${sha(index)}`]: { type: mediaTypes.index, body: index.toString('base64') },
    }));
    registry = ns.spawn(process.execPath, [resolve('test/harness/static-registry.mjs'), docs, '0']);
    const lines = createInterface({ input: registry.stdout ?? process.stdin });
    healthyPort = await new Promise<number>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error('the registry in the namespace did not start within 10 s')), 10_000);
      lines.on('line', (line) => {
        const m = /^listening (\d+)$/.exec(line);
        if (m !== null) {
          clearTimeout(timer);
          ok(Number(m[1]));
        }
        const r = /^request (\d+) (.*)$/.exec(line);
        if (r !== null) requests.push({ at: Number(r[1]), line: r[2] ?? '' });
      });
    });
  });
  afterAll(() => {
    registry.kill('SIGTERM');
    ns.close();
  });

  it('the namespace answers on the healthy port and drops SYNs to the blackholed one (the fault is real)', async () => {
    const ok = await ns.cli(['which', '--platform', 'linux/amd64', `127.0.0.1:${healthyPort}/app:v1`], { RESOLVER_TIMEOUT: '0' });
    expect(ok.stderr).toBe('');
    expect(ok.stdout.trim()).toBe(sha(manifest));
    expect(ns.exec('iptables', '-L', 'OUTPUT', '-n', '-v')).toMatch(new RegExp(`DROP .*tcp dpt:${blackholed}`));
  });

  it('which fails within the 5 s connect timeout, once, naming the host (exit 6, no stack trace)', async () => {
    const started = performance.now();
    const r = await ns.cli(['which', '--platform', 'linux/amd64', `127.0.0.1:${blackholed}/app:v1`], { RESOLVER_TIMEOUT: '0' });
    const seconds = (performance.now() - started) / 1000;
    expect(r.stderr).toContain(`connecting to 127.0.0.1:${blackholed} timed out`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(6);
    // One connect timeout (5 s) and the CLI's start: not the HTTP fallback's second 5 s, not retries.
    expect(seconds).toBeGreaterThan(4.5);
    expect(seconds).toBeLessThan(8);
  });

  it.runIf(s.engine !== undefined)('check: the healthy image is checked at once beside the blackholed one; the whole check ends within the connect timeout; no change', async () => {
    const stateDir = join(dir, 'state');
    const config = join(dir, 'resolver.yaml');
    await mkdir(stateDir, { recursive: true });
    await writeFile(config, [
      `engine:\n  host: ${s.engine ?? ''}`,
      `stateDir: ${stateDir}`,
      'platform: linux/amd64',
      'images:',
      `  - image: 127.0.0.1:${blackholed}/app:v1`,
      `  - image: 127.0.0.1:${healthyPort}/app:v1`,
      '',
    ].join('\n'));
    // A first check writes what a check writes (the state folder); the second one must change nothing.
    await ns.cli(['check', '--config', config, '--dry-run', '--json']);
    const before = await snapshotDir(stateDir);
    const images = await engineImages(s.engine ?? '');
    requests.length = 0;
    const started = Date.now();
    const r = await ns.cli(['check', '--config', config, '--dry-run', '--json']);
    const seconds = (Date.now() - started) / 1000;
    expect(r.code, r.stderr).toBe(12);
    const statuses = JSON.parse(r.stdout) as { image: string; state: string; lastError?: string }[];
    expect(statuses.find((x) => x.image.includes(`:${healthyPort}/`))).toMatchObject({ state: 'ok' });
    expect(statuses.find((x) => x.image.includes(`:${blackholed}/`))).toMatchObject({ state: 'failing', lastError: expect.stringContaining(`connecting to 127.0.0.1:${blackholed} timed out`) as unknown });
    // The healthy registry was asked within 2 s of the start (the CLI's start included), not after the blackhole's 5 s.
    expect(requests.length).toBeGreaterThan(0);
    expect((requests[0]?.at ?? Infinity) - started).toBeLessThan(2000);
    expect(seconds).toBeLessThan(8);
    expect(await snapshotDir(stateDir)).toEqual(before);
    expect(tempFiles(before)).toEqual([]);
    expect(await engineImages(s.engine ?? '')).toEqual(images);
  });
});
