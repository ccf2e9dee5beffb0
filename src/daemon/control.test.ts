import { describe, expect, it } from 'vitest';
import { expectResolverError, expectResolverErrorSync } from '../../test/fakes/expect-error.js';
import { parseConfig } from '../config/load.js';
import { apiBackend, CheckNow, controlHandler, selectEntries, type Controlled } from './control.js';
import { entriesOf } from './entries.js';
import type { DaemonEvent, EntrySpec } from './events.js';
import { emptyStatus, reduceStatus, type StatusState } from './status.js';

const image = 'localhost:5001/fleet/app:stable';
const at = '2026-12-01T12:00:00.000Z';
const entries = entriesOf(parseConfig(`stateDir: /tmp/unused
images:
  - image: ${image}
  - image: ${image}
    platform: linux/arm/v7
  - image: localhost:5001/other
`, 'control.yaml'));
const [host, arm, other] = entries as [EntrySpec, EntrySpec, EntrySpec];
const summary = { images: 3, schedule: '* * * * *', splayMs: 0, concurrency: 1, platform: undefined, onMissingPlatform: 'hold', retain: 1, logLevel: 'info', metrics: undefined, notifications: undefined } as const;

/** The status after the first checks: the host entry resolved to linux/amd64/v3. */
function checkedStatus(): StatusState {
  const events: DaemonEvent[] = [
    { type: 'configured', entries, reload: false, summary, at },
    { type: 'checked', entry: { key: host.key, image, platform: 'linux/amd64/v3' }, result: 'unchanged', indexDigest: 'sha256:i', childDigest: 'sha256:c', pulledAt: at, at },
  ];
  return events.reduce(reduceStatus, emptyStatus);
}

describe('selectEntries', () => {
  const status = checkedStatus();
  const keys = (s: { image?: string; platform?: string }): string[] => selectEntries(entries, { ...s, dryRun: false }, status).map((e) => e.key);

  it('picks every entry, one image (canonicalised), or one image at one platform (normalised, or the host entry by its detected platform)', () => {
    expect(keys({})).toEqual([host.key, arm.key, other.key]);
    expect(keys({ image: 'localhost:5001/other' })).toEqual([`localhost:5001/other:latest detected`]);
    expect(keys({ image })).toEqual([host.key, arm.key]);
    expect(keys({ image, platform: 'linux/armhf' })).toEqual([arm.key]);
    expect(keys({ image, platform: 'linux/amd64/v3' })).toEqual([host.key]);
    // `detected` is the host entry, whatever it resolved to, and is never parsed as a platform.
    expect(keys({ platform: 'detected' })).toEqual([host.key, other.key]);
  });

  it('an entry whose platform is not detected yet matches no platform', () => {
    expect(() => selectEntries(entries, { image, platform: 'linux/amd64/v3', dryRun: false }, emptyStatus)).toThrow(/no configured image is/);
  });

  it('a selector that names no entry is ERR_NOT_FOUND with the configured entries and the fix; one that does not parse is ERR_USAGE', () => {
    const e = expectResolverErrorSync(() => keys({ image, platform: 'linux/s390x' }), 'ERR_NOT_FOUND');
    expect(e.message).toBe(`no configured image is ${image} for linux/s390x`);
    expect(e.details).toEqual([`configured: ${host.key}, ${arm.key}, ${other.key}`, expect.stringMatching(/^to follow it, add it to images:/)]);
    expect(expectResolverErrorSync(() => selectEntries([], { image: 'nginx', dryRun: false }, status), 'ERR_NOT_FOUND').details[0]).toBe('configured: (none)');
    expectResolverErrorSync(() => keys({ image: 'Not/Valid' }), 'ERR_USAGE');
    expectResolverErrorSync(() => keys({ platform: 'linux/' }), 'ERR_USAGE');
    // No entries and no selector: nothing to run, not an error.
    expect(selectEntries([], { dryRun: false }, status)).toEqual([]);
  });
});

/** A CheckNow over runs the test settles by hand. */
function checkNow(status = checkedStatus()) {
  const runs: { key: string; dryRun: boolean; settle: () => void }[] = [];
  const c = new CheckNow({
    pid: 4242, status: () => status,
    runNow: (e, o) => new Promise<void>((resolve) => runs.push({ key: e.key, dryRun: o.dryRun, settle: resolve })),
  });
  const settleAll = (): void => {
    for (const r of runs.splice(0)) r.settle();
  };
  return { c, runs, settleAll };
}

describe('CheckNow', () => {
  it('accepts the selected entries with their known platform; a second request for a queued entry joins it, a dry run does not', async () => {
    const { c, runs, settleAll } = checkNow();
    const first = c.start(entries, { image, dryRun: false });
    expect(first.accepted).toEqual([{ key: host.key, image, platform: 'linux/amd64/v3' }, { key: arm.key, image, platform: 'linux/arm/v7' }]);
    expect(first.joined).toEqual([]);
    const again = c.start(entries, { dryRun: false });
    expect(again.joined).toEqual([host.key, arm.key]);
    const dry = c.start(entries, { image, platform: 'linux/arm/v7', dryRun: true });
    expect(dry.joined).toEqual([]);
    expect(runs.map((r) => `${r.key} ${r.dryRun}`)).toEqual([`${host.key} false`, `${arm.key} false`, `${other.key} false`, `${arm.key} true`]);
    settleAll();
    expect(await first.done).toEqual({ pid: 4242, images: [expect.objectContaining({ key: host.key, state: 'ok' }), expect.objectContaining({ key: arm.key, state: 'pending' })] });
    expect((await again.done).images.map((i) => i.key)).toEqual([host.key, arm.key, other.key]);
    await dry.done;
    // Settled runs are forgotten: the next request queues a run of its own.
    expect(c.start(entries, { image, platform: 'linux/arm/v7', dryRun: false }).joined).toEqual([]);
    expect(runs).toHaveLength(1);
  });

  it('done gives copies of the statuses, and a platform not yet detected is `detected`', async () => {
    const status = checkedStatus();
    const { c, settleAll } = checkNow(status);
    const started = c.start(entries, { image: 'localhost:5001/other', dryRun: false });
    expect(started.accepted).toEqual([{ key: other.key, image: 'localhost:5001/other:latest', platform: 'detected' }]);
    settleAll();
    const [copy] = (await started.done).images;
    expect(copy).toEqual(status.get(other.key));
    expect(copy).not.toBe(status.get(other.key));
  });
});

/** A daemon as the control surfaces see it, recording what was asked. */
function controlled(): Controlled & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    status: () => ({ pid: 7, startedAt: at, eventLoopMaxDelayMs: 0, images: [] }),
    checkNow: (selector) => {
      asked.push(`check ${JSON.stringify(selector)}`);
      // As the daemon's: the selection throws before anything runs.
      selectEntries(entries, selector, emptyStatus);
      return { accepted: [], joined: [], done: Promise.resolve({ pid: 7, images: [] }) };
    },
    live: () => ({ ok: true, detail: 'live' }),
    ready: () => Promise.resolve({ ok: false, detail: 'not ready' }),
    metrics: { render: () => 'resolver_up 1\n' },
    recent: { list: (q) => ({ events: [], query: q }) },
  };
}

describe('controlHandler (the control socket)', () => {
  it('answers status, last-check and check; a selector that names no entry rejects (the socket answers the error)', async () => {
    const d = controlled();
    const handle = controlHandler(d, (i, p) => ({ lastCheck: `${i} ${p}` }));
    expect(await handle({ op: 'status' })).toMatchObject({ pid: 7 });
    expect(await handle({ op: 'last-check', image, platform: 'linux/amd64' })).toEqual({ lastCheck: `${image} linux/amd64` });
    expect(await handle({ op: 'check', dryRun: true, image })).toEqual({ pid: 7, images: [] });
    expect(d.asked).toEqual([`check ${JSON.stringify({ dryRun: true, image })}`]);
    await expectResolverError(handle({ op: 'check', dryRun: false, image: 'nginx' }), 'ERR_NOT_FOUND');
  });
});

describe('apiBackend (the HTTP endpoint)', () => {
  it('serves the probes, metrics, events, check-now, and status marked as a running daemon', async () => {
    const d = controlled();
    const api = apiBackend(d);
    expect(api.live()).toEqual({ ok: true, detail: 'live' });
    expect(await api.ready()).toEqual({ ok: false, detail: 'not ready' });
    expect(api.metrics()).toBe('resolver_up 1\n');
    expect(api.status()).toEqual({ daemon: 'running', pid: 7, startedAt: at, eventLoopMaxDelayMs: 0, images: [] });
    const query = { since: 3, limit: undefined, types: ['pulled'] };
    expect(api.events(query)).toEqual({ events: [], query });
    api.check({ dryRun: false });
    expect(d.asked).toEqual([`check ${JSON.stringify({ dryRun: false })}`]);
  });
});
