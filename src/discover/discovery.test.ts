import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeEngine } from '../../test/fakes/fake-engine.js';
import { createLogger } from '../log/logger.js';
import type { DiscoveryConfig } from './config.js';
import { Discovery, type DiscoveryTiming } from './discovery.js';

const app = 'localhost:5001/fleet/app:stable';
const base: DiscoveryConfig = { watchByDefault: false, includeStopped: true, resyncMs: 300_000, debounceMs: 2000 };
const amd64 = { os: 'linux', architecture: 'amd64', variant: '' };

interface Setup {
  readonly engine: FakeEngine;
  readonly discovery: Discovery;
  readonly logs: Record<string, unknown>[];
  readonly changes: number[];
  configure(config?: Partial<DiscoveryConfig>): Promise<void>;
  names(): string[];
}

let current: Setup | undefined;

function setup(timing: DiscoveryTiming = {}): Setup {
  const engine = new FakeEngine();
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'debug', human: false, write: (line) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const discovery = new Discovery({ logger, monotonic: () => Date.now(), random: () => 0, ...timing });
  const changes: number[] = [];
  discovery.onChange(() => changes.push(Date.now()));
  const connection = { key: 'fake', open: () => ({ engine: () => Promise.resolve(engine), hostPlatform: () => Promise.resolve(amd64), close: () => Promise.resolve() }) };
  current = {
    engine, discovery, logs, changes,
    configure: (config = {}) => discovery.configure({ ...base, ...config }, connection, { watch: true }),
    names: () => discovery.current().map((e) => `${e.image} ${e.platform}${e.host ? ' (host)' : ''}: ${e.containers.map((c) => c.name).join(',')}`),
  };
  return current;
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], now: new Date('2026-12-02T01:00:00.000Z') });
});
afterEach(async () => {
  await current?.discovery.stop();
  current = undefined;
  vi.useRealTimers();
});

describe('discovery: what it follows', () => {
  it('follows labelled containers at their image platform: a linux/arm64 container on an amd64 host is an arm64 entry', async () => {
    const s = setup();
    s.engine.addImage({ tags: [app], platform: amd64 });
    const armId = s.engine.addImage({ platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
    s.engine.addContainer({ name: 'web', image: app, labels: { 'resolver.enable': 'true' } });
    s.engine.addContainer({ name: 'pi', image: armId, configImage: app, labels: { 'resolver.enable': 'true' }, state: 'created' });
    s.engine.addContainer({ name: 'other', image: app });
    await s.configure();
    expect(s.names()).toEqual([`${app} linux/amd64 (host): web`, `${app} linux/arm64: pi`]);
  });

  it('with watchByDefault follows every container but those labelled resolver.enable=false; includeStopped: false drops created ones', async () => {
    const s = setup();
    s.engine.addImage({ tags: [app], platform: amd64 });
    s.engine.addContainer({ name: 'a', image: app });
    s.engine.addContainer({ name: 'b', image: app, labels: { 'resolver.enable': 'false' } });
    s.engine.addContainer({ name: 'c', image: app, state: 'created' });
    await s.configure({ watchByDefault: true });
    expect(s.names()).toEqual([`${app} linux/amd64 (host): a,c`]);
    expect(s.discovery.current()[0]?.containers.map((c) => c.reason)).toEqual(['default', 'default']);
    await s.configure({ watchByDefault: true, includeStopped: false });
    expect(s.names()).toEqual([`${app} linux/amd64 (host): a`]);
  });

  it('skips a container that runs an image by digest or by ID, logged once however often it lists', async () => {
    const s = setup();
    const idOnly = s.engine.addImage({ platform: amd64 });
    s.engine.addImage({ tags: [app], platform: amd64 });
    s.engine.addContainer({ name: 'pinned', image: app, configImage: `localhost:5001/fleet/app@sha256:${'1'.repeat(64)}`, labels: { 'resolver.enable': 'true' } });
    s.engine.addContainer({ name: 'by-id', image: idOnly, labels: { 'resolver.enable': 'true' } });
    await s.configure();
    for (let i = 0; i < 3; i++) await s.discovery.refresh();
    expect(s.names()).toEqual([]);
    const skipped = s.logs.filter((l) => l['msg'] === 'container not followed');
    expect(skipped.map((l) => l['container']).sort()).toEqual(['by-id', 'pinned']);
    expect(String(skipped.find((l) => l['container'] === 'pinned')?.['reason'])).toMatch(/pinned by digest/);
  });
});

describe('discovery: the events stream', () => {
  it('re-lists once after a burst of container events, when the burst is over (debounce)', async () => {
    const s = setup();
    s.engine.addImage({ tags: [app], platform: amd64 });
    await s.configure();
    await vi.advanceTimersByTimeAsync(0);
    expect(s.engine.openEventStreams).toBe(1);
    const listings = s.discovery.stats.listings;
    for (let i = 0; i < 20; i++) {
      s.engine.addContainer({ name: `w${i}`, image: app, labels: { 'resolver.enable': 'true' } });
      await vi.advanceTimersByTimeAsync(100);
    }
    expect(s.discovery.stats.listings).toBe(listings);
    await vi.advanceTimersByTimeAsync(2000);
    expect(s.discovery.stats.listings).toBe(listings + 1);
    expect(s.discovery.current()[0]?.containers).toHaveLength(20);
    // exec and health events change nothing discovery reads: no listing.
    s.engine.emitContainerEvent('exec_start: sh', 'x');
    s.engine.emitContainerEvent('health_status: healthy', 'x');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(s.discovery.stats.listings).toBe(listings + 1);
    s.engine.removeContainer('w3');
    await vi.advanceTimersByTimeAsync(2000);
    expect(s.discovery.current()[0]?.containers).toHaveLength(19);
  });

  it('a constant stream of events still re-lists at least every 10 s (the debounce has a maximum)', async () => {
    const s = setup();
    s.engine.addImage({ tags: [app], platform: amd64 });
    await s.configure();
    await vi.advanceTimersByTimeAsync(0);
    const listings = s.discovery.stats.listings;
    for (let i = 0; i < 60; i++) {
      s.engine.emitContainerEvent('start', 'x');
      await vi.advanceTimersByTimeAsync(500);
    }
    expect(s.discovery.stats.listings - listings).toBeGreaterThanOrEqual(2);
    expect(s.discovery.stats.listings - listings).toBeLessThanOrEqual(4);
  });

  it('reconnects after the engine drops the stream, and re-lists what changed while it was down', async () => {
    const s = setup();
    s.engine.addImage({ tags: [app], platform: amd64 });
    await s.configure();
    await vi.advanceTimersByTimeAsync(0);
    s.engine.eventsRefused = new Error('connect ECONNREFUSED /fake/docker.sock');
    s.engine.dropEventStreams(new Error('socket hang up'));
    await vi.advanceTimersByTimeAsync(0);
    // While the engine is down a container appears: no stream announces it.
    s.engine.addContainer({ name: 'late', image: app, labels: { 'resolver.enable': 'true' } });
    expect(s.names()).toEqual([]);
    s.engine.eventsRefused = undefined;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(s.engine.openEventStreams).toBe(1);
    expect(s.names()).toEqual([`${app} linux/amd64 (host): late`]);
    const warned = s.logs.filter((l) => l['msg'] === 'lost the engine events stream; reconnecting');
    expect(warned).toHaveLength(1);
    expect(s.logs.filter((l) => l['msg'] === 'events stream reconnected')).toHaveLength(1);
  });

  it('a lost stream does not spin: reconnection attempts back off exponentially up to 60 s', async () => {
    const s = setup();
    await s.configure();
    await vi.advanceTimersByTimeAsync(0);
    s.engine.eventsRefused = new Error('connect ECONNREFUSED /fake/docker.sock');
    s.engine.dropEventStreams();
    const attempts = (): number => s.engine.calls.filter((c) => c === 'events').length;
    const before = attempts();
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    const tries = attempts() - before;
    // random() = 0: waits of 0.5, 1, 2, 4, 8, 16, 30, 30, … s: about 22 attempts in 10 min, never thousands.
    expect(tries).toBeGreaterThanOrEqual(15);
    expect(tries).toBeLessThanOrEqual(25);
    // A stream that ends at once as soon as it opened counts as a failure too.
    s.engine.eventsRefused = undefined;
    const opened = s.engine.eventConnections;
    const drop = setInterval(() => s.engine.dropEventStreams(), 100);
    await vi.advanceTimersByTimeAsync(5 * 60_000);
    clearInterval(drop);
    expect(s.engine.eventConnections - opened).toBeLessThanOrEqual(15);
  });

  it('reopens the stream on purpose after maxStreamMs (no wait is unbounded), without a backoff or a warning', async () => {
    const s = setup({ maxStreamMs: 60_000 });
    await s.configure();
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(5 * 60_000 + 10);
    expect(s.engine.eventConnections).toBe(6);
    expect(s.engine.openEventStreams).toBe(1);
    expect(s.logs.filter((l) => l['level'] === 40)).toEqual([]);
  });

  it('a listing that fails keeps the entries found before; the periodic re-list finds what no event announced', async () => {
    const s = setup();
    s.engine.addImage({ tags: [app], platform: amd64 });
    s.engine.addContainer({ name: 'web', image: app, labels: { 'resolver.enable': 'true' } });
    await s.configure({ resyncMs: 30_000 });
    await vi.advanceTimersByTimeAsync(0);
    expect(s.names()).toHaveLength(1);
    s.engine.down = new Error('engine restarting');
    await s.discovery.refresh();
    expect(s.names()).toHaveLength(1);
    expect(s.logs.filter((l) => l['msg'] === 'could not list the containers; keeping the entries found before')).toHaveLength(1);
    s.engine.down = undefined;
    // Not announced: the stream is closed and refused while the container is added.
    s.engine.eventsRefused = new Error('refused');
    s.engine.dropEventStreams();
    s.engine.addContainer({ name: 'quiet', image: app, labels: { 'resolver.enable': 'true' } });
    await vi.advanceTimersByTimeAsync(30_000);
    expect(s.names()).toEqual([`${app} linux/amd64 (host): quiet,web`]);
  });

  it('stop() closes the stream and leaves no timer', async () => {
    const s = setup();
    await s.configure();
    await vi.advanceTimersByTimeAsync(0);
    expect(s.engine.openEventStreams).toBe(1);
    await s.discovery.stop();
    expect(s.engine.openEventStreams).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('configured off: no entries, no stream', async () => {
    const s = setup();
    s.engine.addImage({ tags: [app], platform: amd64 });
    s.engine.addContainer({ name: 'web', image: app, labels: { 'resolver.enable': 'true' } });
    await s.configure();
    expect(s.names()).toHaveLength(1);
    await s.discovery.configure(undefined, undefined, { watch: true });
    expect(s.names()).toEqual([]);
    expect(s.engine.openEventStreams).toBe(0);
    expect(s.changes).toHaveLength(2);
  });
});
