/**
 * The budget layer in the real registry client, against the Hub emulator on loopback (test/fakes/hub-emulator.ts):
 * requests are counted at the server. The reserve stops counted GETs but not free HEADs; a 429 (HTML, bare or
 * JSON body, with or without Retry-After) stops every request to that registry for its time; one token per
 * registry and scope per cycle.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { closeLoopbackServers } from '../../test/fakes/loopback-server.js';
import { startHubEmulator, type ThrottleStyle } from '../../test/fakes/hub-emulator.js';
import { RegistryBudget } from '../budget/budget.js';
import { DeferredError } from '../budget/layer.js';
import { ResolverError } from '../errors.js';
import { createHttpClient, type HttpClient } from '../http/http.js';
import { TokenCache } from './auth.js';
import { RegistryClient, type Repository } from './client.js';

const clients: HttpClient[] = [];
afterEach(async () => {
  await closeLoopbackServers();
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

/** A client on a budget whose clock moves only when the client sleeps (its backoff) or the test says so. */
function setup(budgetOptions: ConstructorParameters<typeof RegistryBudget>[0] = {}): { client: RegistryClient; budget: RegistryBudget; clock: { t: number }; tokens: TokenCache } {
  const clock = { t: Date.parse('2026-12-02T00:00:00Z') };
  const http = createHttpClient({ connectTimeoutMs: 1000, headersTimeoutMs: 2000 });
  clients.push(http);
  const budget = new RegistryBudget(budgetOptions, () => clock.t);
  const tokens = new TokenCache(http, () => performance.now());
  const client = new RegistryClient({
    http, tokens, clock: () => performance.now(), credentials: { get: () => Promise.resolve(undefined) }, budget,
    retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2, maxRetryAfterMs: 5_000 },
    sleep: (ms) => {
      clock.t += ms;
      return Promise.resolve();
    },
    random: () => 1,
  });
  return { client, budget, clock, tokens };
}

const repo = (host: string, path = 'library/app'): Repository => ({ host, path, credentialKey: host });

async function refusal(p: Promise<unknown>): Promise<ResolverError> {
  const e = await p.then(() => undefined, (error: unknown) => error);
  if (!(e instanceof ResolverError)) throw new Error(`expected a ResolverError, got ${String(e)}`);
  return e;
}

/** The request was refused here, without being sent. */
async function deferral(p: Promise<unknown>): Promise<DeferredError> {
  const e = await refusal(p);
  if (!(e instanceof DeferredError)) throw new Error(`expected a DeferredError, got ${e.name}: ${e.message}`);
  return e;
}

describe('the budget layer against a Hub emulator', () => {
  it('stops counted GETs at the reserve until the window has passed; HEADs stay free and go on', async () => {
    const hub = await startHubEmulator({ limit: 40, windowSeconds: 600 });
    const { index } = hub.publish('library/app', 'stable', 'v1');
    hub.setRemaining(4);
    const { client, budget, clock } = setup({ reservePercent: 5 }); // reserve = ceil(40 × 5 %) = 2
    const r = repo(hub.host);
    await client.getManifest(r, index); // remaining 3
    await client.getManifest(r, index); // remaining 2 = the reserve
    const e = await deferral(client.getManifest(r, index));
    expect(e.code).toBe('ERR_RATE_LIMITED');
    expect(e.reason).toBe('reserve');
    expect(e.until).toBe(clock.t + 600_000);
    expect(hub.counts.get).toBe(2);
    // A HEAD is free on Hub: it still goes.
    expect((await client.resolveTag(r, 'stable')).digest).toBe(index);
    expect(hub.counts.head).toBe(1);
    expect(budget.view()).toEqual([expect.objectContaining({ registry: hub.host, limit: 40, remaining: 2, windowSeconds: 600, reserve: 2, waitReason: 'reserve' })]);
    // After the window, one counted request goes and learns the new allowance.
    clock.t += 600_000;
    hub.setRemaining(40);
    await client.getManifest(r, index);
    expect(hub.counts.get).toBe(3);
    expect(budget.view()[0]?.remaining).toBe(39);
  });

  it.each<[string, ThrottleStyle]>([
    ['HTML body, no Retry-After', { body: 'html', retryAfter: undefined }],
    ['bare body, no Retry-After', { body: 'bare', retryAfter: undefined }],
    ['JSON body, Retry-After: 120', { body: 'json', retryAfter: 120 }],
  ])('a 429 (%s) stops every request to the registry, HEADs and other repositories included, for its time', async (_name, throttle) => {
    const hub = await startHubEmulator({ limit: 100, windowSeconds: 21_600, throttle });
    const a = hub.publish('library/app', 'stable', 'v1');
    hub.publish('library/other', 'stable', 'v1');
    const { client, budget, clock } = setup();
    hub.throttleNext(Infinity);
    const t0 = clock.t;
    const first = await refusal(client.getManifest(repo(hub.host), a.index));
    expect(first.code).toBe('ERR_RATE_LIMITED');
    // One 429 reached the server; the retries the old client made (3 tries) were refused here.
    expect(hub.counts.throttled).toBe(1);
    const head = await deferral(client.resolveTag(repo(hub.host, 'library/other'), 'stable'));
    expect(head.reason).toBe('throttled');
    const wait = (throttle.retryAfter ?? 60) * 1000;
    expect(head.until).toBe(t0 + wait);
    expect(budget.throttledUntil(hub.host)).toBe(head.until);
    expect(hub.counts.throttled + hub.counts.head + hub.counts.get).toBe(1);
    hub.throttleNext(0);
    clock.t += wait + 1;
    expect((await client.resolveTag(repo(hub.host, 'library/other'), 'stable')).digest).toMatch(/^sha256:/);
  });

  it('a Retry-After short enough for the retry layer is waited for once, then the request goes', async () => {
    const hub = await startHubEmulator({ limit: 100, windowSeconds: 21_600, throttle: { body: 'json', retryAfter: 2 } });
    const a = hub.publish('library/app', 'stable', 'v1');
    const { client } = setup();
    hub.throttleNext(1);
    await client.getManifest(repo(hub.host), a.index);
    expect(hub.counts.throttled).toBe(1);
    expect(hub.counts.get).toBe(1);
  });

  it('fetches one token per registry and scope in a cycle (counted at the token realm)', async () => {
    const hub = await startHubEmulator({ limit: 100, windowSeconds: 21_600 });
    const a = hub.publish('library/app', 'stable', 'v1');
    const b = hub.publish('library/other', 'stable', 'v1');
    const { client } = setup();
    for (let i = 0; i < 3; i++) {
      await client.resolveTag(repo(hub.host), 'stable');
      await client.getManifest(repo(hub.host), a.index);
      await client.resolveTag(repo(hub.host, 'library/other'), 'stable');
      await client.getManifest(repo(hub.host, 'library/other'), b.index);
    }
    expect(Object.fromEntries(hub.tokensByScope)).toEqual({ 'repository:library/app:pull': 1, 'repository:library/other:pull': 1 });
    expect(hub.counts.token).toBe(2);
  });
});
