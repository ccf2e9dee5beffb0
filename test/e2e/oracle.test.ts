/**
 * Differential test against a real Docker Engine (Debian 13's dockerd 26.1.5, which follows today's
 * platform rules), on both image stores: for every test index and platform, the child `resolver which`
 * names is the one dockerd stores after `docker pull --platform P`, and when dockerd finds no match,
 * resolver fails with the same message. On the classic store the image ID is the child's config
 * digest; on the containerd store it is the index digest, so the child is read from the store's
 * containerd (the one child manifest the pull fetched) and removed again before the next pull.
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient } from '../../src/http/http.js';
import { catalogue, oraclePlatforms } from '../harness/catalogue.js';
import { cli } from './cli.js';

const s = inject('services');
const oracle = s.oracle;
const requireOracle = process.env['CI'] === 'true';

const engine = oracle === undefined ? undefined : createHttpClient({ socketPath: oracle.replace('unix://', ''), headersTimeoutMs: 120_000, bodyTimeoutMs: 120_000 });

interface PullOutcome {
  readonly id?: string;
  readonly error?: string;
  /** dockerd dropped the connection (26.1.5 panics in manifestMatchesPlatform for a platform-less entry). */
  readonly crashed?: boolean;
}

async function dockerPull(repo: string, platform: string, via = engine): Promise<PullOutcome> {
  if (via === undefined) throw new Error('no oracle');
  const url = new URL('http://localhost/v1.45/images/create');
  url.searchParams.set('fromImage', `${s.anonymous}/${repo}`);
  url.searchParams.set('tag', 'latest');
  if (platform !== '') url.searchParams.set('platform', platform);
  let res;
  try {
    res = await via.send({ method: 'POST', url, deadlineMs: 120_000, maxBytes: 16 << 20 });
  } catch (error) {
    return { error: String(error), crashed: true };
  }
  const text = res.body.toString('utf8');
  if (res.status !== 200) return { error: (JSON.parse(text) as { message: string }).message };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const event = JSON.parse(line) as { error?: string; errorDetail?: { message: string } };
    if (event.errorDetail !== undefined || event.error !== undefined) return { error: event.errorDetail?.message ?? event.error ?? '' };
  }
  const inspect = await via.send({ method: 'GET', url: new URL(`http://localhost/v1.45/images/${s.anonymous}/${repo}:latest/json`), deadlineMs: 30_000, maxBytes: 1 << 20 });
  return { id: (JSON.parse(inspect.body.toString('utf8')) as { Id: string }).Id };
}

const c8d = s.containerdStore;
const c8dEngine = c8d === undefined ? undefined : createHttpClient({ socketPath: c8d.replace('unix://', ''), headersTimeoutMs: 120_000, bodyTimeoutMs: 120_000 });
/** The containerd that dockerd started for its containerd store (namespace `moby`). */
const c8dContainerd = c8d === undefined ? '' : join(dirname(c8d.replace('unix://', '')), 'exec', 'containerd', 'containerd.sock');
const run = promisify(execFile);

/** Child manifests of `repo` in the containerd store's content store. */
async function storedChildren(repo: string): Promise<string[]> {
  const { stdout } = await run('ctr', ['--address', c8dContainerd, '--namespace', 'moby', 'content', 'ls', '--quiet'], { timeout: 30_000 });
  const present = new Set(stdout.split('\n').map((l) => l.trim()));
  return [...new Set((s.images[repo]?.children ?? []).map((c) => c.manifest))].filter((d) => present.has(d));
}

afterAll(async () => {
  await engine?.close();
  await c8dEngine?.close();
});

describe.runIf(oracle !== undefined || requireOracle)('differential: resolver which vs dockerd 26.1.5 pull', () => {
  it('the oracle engine is running', () => {
    expect(oracle, 'CI must provide the Debian 13 dockerd (scripts/fetch-oracle-dockerd.sh)').toBeDefined();
  });

  const cases = catalogue.flatMap((entry) => oraclePlatforms.map((platform) => [entry.repo, platform] as const));
  it.each(cases)('%s --platform %j', async (repo, platform) => {
    const args = ['which', `${s.anonymous}/${repo}:latest`, ...(platform === '' ? [] : ['--platform', platform])];
    const [ours, theirs] = await Promise.all([cli(args, { DOCKER_HOST: oracle }), dockerPull(repo, platform)]);
    if (theirs.error !== undefined) {
      expect(ours.code, `dockerd failed (${theirs.error}) but resolver printed ${ours.stdout}`).toBe(3);
      if (theirs.crashed === true) expect(ours.stderr).toContain('does not match the specified platform');
      else expect(ours.stderr).toContain(theirs.error);
      return;
    }
    expect(ours.code, ours.stderr).toBe(0);
    const chosen = ours.stdout.trim();
    const child = s.images[repo]?.children.find((c) => c.manifest === chosen);
    expect(child, `resolver chose ${chosen}, not a child of ${repo}`).toBeDefined();
    expect(child?.config, `resolver chose ${child?.platform}; dockerd stored config ${theirs.id}`).toBe(theirs.id);
  });
});

describe.runIf(c8d !== undefined || requireOracle)('differential: resolver which vs dockerd 26.1.5 pull, containerd image store', () => {
  it('the containerd-store engine is running', () => {
    expect(c8d, 'CI must start the oracle dockerd with the containerd-snapshotter feature').toBeDefined();
  });

  // Repositories run side by side; the platforms of one repository in turn (one child in the store at a time).
  describe.concurrent('per repository', () => {
    it.each(catalogue.map((e) => e.repo))('%s, every platform', async (repo) => {
      const wrong: string[] = [];
      for (const platform of oraclePlatforms) {
        const args = ['which', `${s.anonymous}/${repo}:latest`, ...(platform === '' ? [] : ['--platform', platform])];
        const [ours, theirs] = await Promise.all([cli(args, { DOCKER_HOST: c8d }), dockerPull(repo, platform, c8dEngine)]);
        const stored = await storedChildren(repo);
        if (stored.length > 0) await run('ctr', ['--address', c8dContainerd, '--namespace', 'moby', 'content', 'rm', ...stored], { timeout: 30_000 });
        const label = `${repo} --platform ${JSON.stringify(platform)}`;
        if (theirs.error !== undefined) {
          // What Docker says on this store, word for word (resolver prefixes its name).
          if (ours.code !== 3 || !ours.stderr.startsWith(`resolver: ${theirs.error}\n`)) wrong.push(`${label}: dockerd said ${JSON.stringify(theirs.error)}; resolver exited ${ours.code}: ${ours.stdout}${ours.stderr}`);
          continue;
        }
        if (ours.code !== 0 || stored.length !== 1 || stored[0] !== ours.stdout.trim()) wrong.push(`${label}: dockerd fetched ${stored.join(', ') || 'no child'}; resolver exited ${ours.code} naming ${ours.stdout.trim()} ${ours.stderr}`);
      }
      expect(wrong).toEqual([]);
    }, 300_000);
  });
});
