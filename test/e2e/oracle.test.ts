/**
 * Differential test against a real Docker Engine (Debian 13's dockerd 26.1.5, which follows today's
 * platform rules): for every test index and platform, the child `resolver which` names is the one
 * dockerd stores after `docker pull --platform P` (on the classic store, the image ID is the child's
 * config digest), and when dockerd finds no match, resolver fails with the same message.
 */
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

async function dockerPull(repo: string, platform: string): Promise<PullOutcome> {
  if (engine === undefined) throw new Error('no oracle');
  const url = new URL('http://localhost/v1.45/images/create');
  url.searchParams.set('fromImage', `${s.anonymous}/${repo}`);
  url.searchParams.set('tag', 'latest');
  if (platform !== '') url.searchParams.set('platform', platform);
  let res;
  try {
    res = await engine.send({ method: 'POST', url, deadlineMs: 120_000, maxBytes: 16 << 20 });
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
  const inspect = await engine.send({ method: 'GET', url: new URL(`http://localhost/v1.45/images/${s.anonymous}/${repo}:latest/json`), deadlineMs: 30_000, maxBytes: 1 << 20 });
  return { id: (JSON.parse(inspect.body.toString('utf8')) as { Id: string }).Id };
}

afterAll(async () => {
  await engine?.close();
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
