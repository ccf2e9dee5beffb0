/**
 * The pre-puller daemon: keeps every configured tag's child for this platform pulled.
 * - Schedules: node-cron computes the next run from the cron string; the daemon arms its own timers,
 *   capped at 30 s and re-armed when the wall clock jumps (node-cron walks every missed slot after a
 *   forward jump and stops after a backward one; reliability.md §2.4). Backoff uses monotonic time.
 * - Each run waits a deterministic splay, takes a concurrency slot, and runs `checkImage`. Runs of the same
 *   image never overlap. Failures back off per image with jitter, honouring Retry-After.
 * - One daemon per state folder (abstract-socket lock, which also serves `resolver status`).
 * - `stop()` stops scheduling, aborts in-flight pulls and waits for them up to the shutdown deadline;
 *   `reload()` swaps in a new config only if it is valid.
 */
import { setMaxListeners } from 'node:events';
import type { Server } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import cron from 'node-cron';
import { RegistryHttpError, ResolverError } from '../errors.js';
import type { Config } from '../config/schema.js';
import { parseDuration } from '../config/schema.js';
import type { Engine, ImageInfo } from '../engine/engine.js';
import type { TargetPlatform } from '../platform/detect.js';
import { formatPlatformAll } from '../platform/platform.js';
import type { Logger } from '../log/logger.js';
import { formatReference, parseReference, withDefaultTag } from '../reference/reference.js';
import type { RegistryClient } from '../registry/client.js';
import type { CredentialStore } from '../registry/credentials.js';
import { checkImage, indexByTag, type CheckOutcome } from '../resolver/reconcile.js';
import type { StateStore } from '../state/state-store.js';
import { acquireLock } from './lock.js';
import { Metrics, serveMetrics } from './metrics.js';
import { backoffMs, splayFor } from './timing.js';

/** The IO the daemon needs, built by the composition root from a config. */
export interface DaemonServices {
  readonly registry: RegistryClient;
  readonly credentials: CredentialStore;
  readonly state: StateStore;
  engine(signal?: AbortSignal): Promise<Engine>;
  target(options: { platform?: string | undefined }, signal?: AbortSignal): Promise<TargetPlatform>;
  close(): Promise<void>;
}

/** Dependencies of the daemon. */
export interface DaemonDeps {
  readonly loadConfig: () => Promise<Config>;
  readonly services: (config: Config) => DaemonServices;
  readonly stateDir: (config: Config) => string;
  readonly logger: Logger;
  readonly hostname: string;
  readonly monotonic?: () => number;
  readonly random?: () => number;
  /** Take the single-instance lock (tests of `check` skip it). */
  readonly lock?: boolean;
}

/** Per-image status, as `resolver status` shows it. */
export interface ImageStatus {
  image: string;
  platform: string | undefined;
  schedule: string;
  state: 'pending' | 'ok' | 'held' | 'failing';
  indexDigest: string | undefined;
  childDigest: string | undefined;
  lastCheck: string | undefined;
  lastPull: string | undefined;
  lastResult: CheckOutcome['kind'] | undefined;
  nextRun: string | undefined;
  failures: number;
  backoffUntil: string | undefined;
  lastError: string | undefined;
  held: string | undefined;
}

interface Entry {
  readonly config: Config['images'][number];
  readonly key: string;
  readonly schedule: string;
  readonly task: ReturnType<typeof cron.createTask>;
  timer: NodeJS.Timeout | undefined;
  next: Date | undefined;
  running: Promise<void> | undefined;
  backoffUntilMono: number;
  status: ImageStatus;
}

class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(n: number) {
    this.#free = n;
  }
  async acquire(): Promise<() => void> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((r) => this.#waiting.push(r));
    return () => {
      const next = this.#waiting.shift();
      if (next !== undefined) next();
      else this.#free++;
    };
  }
}

function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 && !signal.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new ResolverError('ERR_ABORTED', 'shutting down'));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new ResolverError('ERR_ABORTED', 'shutting down'));
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The daemon. */
export class Daemon {
  readonly #deps: DaemonDeps;
  readonly #mono: () => number;
  readonly #random: () => number;
  #config: Config | undefined;
  #services: DaemonServices | undefined;
  #entries: Entry[] = [];
  #semaphore = new Semaphore(1);
  #shutdown = new AbortController();
  #lock: Server | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  #startedAt = new Date().toISOString();
  #stopping = false;
  #metricsServer: Server | undefined;
  /** Detected targets per platform spec, refreshed every 5 minutes (host detection costs ~0.6 ms). */
  #targets = new Map<string, { at: number; target: Promise<TargetPlatform> }>();
  /** One image listing shared by the checks of the next second. */
  #listing: { at: number; tags: Promise<ReadonlyMap<string, ImageInfo>> } | undefined;
  /** Counters for /metrics. */
  readonly metrics = new Metrics();
  readonly #loopDelay = monitorEventLoopDelay({ resolution: 10 });

  constructor(deps: DaemonDeps) {
    this.#deps = deps;
    // Every running check (and each of its requests) listens for shutdown: many listeners, no leak.
    setMaxListeners(0, this.#shutdown.signal);
    this.#mono = deps.monotonic ?? (() => performance.now());
    this.#random = deps.random ?? Math.random;
  }

  get #log(): Logger {
    return this.#deps.logger;
  }

  /** Loads the config, takes the lock, arms the schedules and starts a first check of every image. */
  async start(): Promise<void> {
    const config = await this.#deps.loadConfig();
    if (this.#deps.lock !== false) {
      this.#lock = await acquireLock(this.#deps.stateDir(config), () => this.status());
    }
    this.#apply(config);
    this.#startWatchdog();
    this.#loopDelay.enable();
    if (config.metrics !== undefined) {
      this.#metricsServer = await serveMetrics(config.metrics.listen, this.metrics, () => {
        const failing = this.#entries.filter((e) => e.status.state === 'failing').length;
        return { ok: true, detail: { status: 'ok', images: this.#entries.length, failing, held: this.#entries.filter((e) => e.status.held !== undefined).length } };
      });
    }
    this.#log.info({ images: this.#entries.length, stateDir: this.#deps.stateDir(config), metrics: config.metrics?.listen }, 'daemon started');
    for (const e of this.#entries) void this.#trigger(e, 'start');
  }

  /** Applies a config: new services and entries. */
  #apply(config: Config): void {
    for (const e of this.#entries) clearTimeout(e.timer);
    const old = this.#services;
    this.#config = config;
    this.#services = this.#deps.services(config);
    this.#targets.clear();
    this.#listing = undefined;
    this.#semaphore = new Semaphore(config.concurrency);
    const previous = new Map(this.#entries.map((e) => [e.key, e.status]));
    this.#entries = config.images.map((image) => {
      const key = formatReference(withDefaultTag(parseReference(image.image)));
      const schedule = image.schedule ?? config.schedule;
      const prev = previous.get(key);
      const entry: Entry = {
        config: image, key, schedule,
        task: cron.createTask(schedule, () => undefined),
        timer: undefined, next: undefined, running: undefined, backoffUntilMono: 0,
        status: {
          image: key, platform: prev?.platform, schedule, state: prev?.state ?? 'pending', indexDigest: prev?.indexDigest, childDigest: prev?.childDigest,
          lastCheck: prev?.lastCheck, lastPull: prev?.lastPull, lastResult: prev?.lastResult, nextRun: undefined,
          failures: 0, backoffUntil: undefined, lastError: prev?.lastError, held: prev?.held,
        },
      };
      this.#arm(entry);
      return entry;
    });
    if (old !== undefined) void old.close();
  }

  /** Arms the timer of an entry: the next cron slot, checked at least every 30 s. */
  #arm(e: Entry): void {
    clearTimeout(e.timer);
    if (this.#stopping) return;
    if (e.next === undefined || e.next.getTime() <= Date.now() - 1000) e.next = e.task.getNextRuns(1)[0];
    e.status.nextRun = e.next?.toISOString();
    if (e.next === undefined) return;
    const delay = Math.max(0, Math.min(30_000, e.next.getTime() - Date.now()));
    e.timer = setTimeout(() => {
      if (e.next !== undefined && Date.now() >= e.next.getTime()) {
        e.next = undefined;
        void this.#trigger(e, 'schedule');
      }
      this.#arm(e);
    }, delay);
  }

  /** Detects wall-clock jumps (edge boards without an RTC) and re-arms every schedule. */
  #startWatchdog(): void {
    let wall = Date.now();
    let mono = this.#mono();
    this.#watchdog = setInterval(() => {
      const w = Date.now();
      const m = this.#mono();
      const drift = w - wall - (m - mono);
      wall = w;
      mono = m;
      if (Math.abs(drift) > 2000) {
        this.#log.warn({ jumpMs: Math.round(drift) }, 'wall clock jumped; re-arming schedules');
        for (const e of this.#entries) {
          e.next = undefined;
          this.#arm(e);
        }
      }
    }, 5000);
    this.#watchdog.unref();
  }

  async #trigger(e: Entry, why: string): Promise<void> {
    if (this.#stopping) return;
    if (e.running !== undefined) {
      this.#log.debug({ image: e.key }, 'previous check still running; skipped');
      return;
    }
    if (this.#mono() < e.backoffUntilMono) {
      this.#log.debug({ image: e.key }, 'backing off; skipped');
      return;
    }
    e.running = this.#run(e, why).finally(() => {
      e.running = undefined;
    });
    await e.running;
  }

  async #run(e: Entry, why: string, dryRun = false): Promise<void> {
    const config = this.#config;
    const services = this.#services;
    if (config === undefined || services === undefined) return;
    const signal = this.#shutdown.signal;
    try {
      if (why !== 'once') await abortableDelay(splayFor(this.#deps.hostname, e.key, parseDuration(config.splay)), signal);
      const release = await this.#semaphore.acquire();
      try {
        const target = await this.#target(services, e.config.platform ?? config.platform, signal);
        e.status.platform = formatPlatformAll(target.platform);
        const engine = await services.engine(signal);
        const localTags = (): Promise<ReadonlyMap<string, ImageInfo>> => {
          const now = this.#mono();
          if (this.#listing === undefined || now - this.#listing.at > 1000) {
            const tags = engine.listImages().then(indexByTag);
            this.#listing = { at: now, tags };
            tags.catch(() => (this.#listing = undefined));
          }
          return this.#listing.tags;
        };
        const outcome = await checkImage(
          { registry: services.registry, engine, credentials: services.credentials, state: services.state, localTags },
          { reference: parseReference(e.config.image), target, onMissingPlatform: e.config.onMissingPlatform ?? config.onMissingPlatform, retain: e.config.retain ?? config.retain },
          { signal, dryRun },
        );
        this.#record(e, outcome);
      } finally {
        release();
      }
    } catch (error) {
      if (error instanceof ResolverError && error.code === 'ERR_ABORTED' && signal.aborted) return;
      this.#fail(e, error);
    }
  }

  #target(services: DaemonServices, platform: string | undefined, signal: AbortSignal): Promise<TargetPlatform> {
    const key = platform ?? '';
    const hit = this.#targets.get(key);
    if (hit !== undefined && this.#mono() - hit.at < 300_000) return hit.target;
    const target = services.target({ platform }, signal);
    this.#targets.set(key, { at: this.#mono(), target });
    target.catch(() => this.#targets.delete(key));
    return target;
  }

  #record(e: Entry, o: CheckOutcome): void {
    const now = new Date().toISOString();
    Metrics.inc(this.metrics.checks, `${e.key}\0${o.kind}`);
    this.metrics.lastSuccess.set(e.key, Math.floor(Date.now() / 1000));
    if (o.kind === 'pulled') Metrics.inc(this.metrics.pulls, e.key);
    for (const [host, rl] of this.#services?.registry.rateLimits ?? []) if (rl.remaining !== undefined) this.metrics.rateLimitRemaining.set(host, rl.remaining);
    const wasHeld = e.status.held !== undefined;
    e.status.lastCheck = now;
    e.status.lastResult = o.kind;
    e.status.failures = 0;
    e.backoffUntilMono = 0;
    e.status.backoffUntil = undefined;
    e.status.lastError = undefined;
    e.status.indexDigest = o.indexDigest;
    if (o.kind === 'held') {
      e.status.state = 'held';
      e.status.held = o.message;
      this.#log.warn({ image: e.key, platform: e.status.platform, available: o.available, keeping: o.childDigest }, 'no child for this platform any more; holding the current image');
      return;
    }
    e.status.state = 'ok';
    e.status.childDigest = o.childDigest;
    e.status.held = undefined;
    if (wasHeld) this.#log.warn({ image: e.key, platform: e.status.platform }, 'the platform is back in the index');
    if (o.kind === 'pulled') {
      e.status.lastPull = now;
      this.#log.info({ image: e.key, child: o.childDigest, previous: o.previous, pruned: o.pruned }, 'pulled a new child');
    } else {
      this.#log.info({ image: e.key, result: o.kind, child: o.childDigest }, 'checked');
    }
  }

  #fail(e: Entry, error: unknown): void {
    Metrics.inc(this.metrics.failures, e.key);
    Metrics.inc(this.metrics.checks, `${e.key}\0failed`);
    e.status.failures++;
    e.status.state = 'failing';
    e.status.lastCheck = new Date().toISOString();
    e.status.lastError = error instanceof Error ? error.message : String(error);
    const retryAfter = error instanceof RegistryHttpError && error.retryAfterSeconds !== undefined ? error.retryAfterSeconds * 1000 : undefined;
    const wait = backoffMs(e.status.failures, { baseMs: 5_000, capMs: 15 * 60_000, retryAfterMs: retryAfter, random: this.#random });
    e.backoffUntilMono = this.#mono() + wait;
    e.status.backoffUntil = new Date(Date.now() + wait).toISOString();
    this.#log.error({ image: e.key, code: error instanceof ResolverError ? error.code : 'ERR_INTERNAL', failures: e.status.failures, retryInMs: Math.round(wait), err: e.status.lastError }, 'check failed');
  }

  /** Runs every image once, now (no splay), and returns their statuses. */
  async runOnce(options: { dryRun: boolean }): Promise<ImageStatus[]> {
    const config = await this.#deps.loadConfig();
    this.#apply(config);
    for (const e of this.#entries) clearTimeout(e.timer);
    await this.checkAllNow(options);
    return this.#entries.map((e) => ({ ...e.status, nextRun: undefined }));
  }

  /** Checks every image now with the running services (no splay), as one scheduled cycle would. */
  async checkAllNow(options: { dryRun: boolean } = { dryRun: false }): Promise<void> {
    await Promise.all(
      this.#entries.map(async (e) => {
        // Never two runs of one image at once: wait for a scheduled run in flight, then run.
        while (e.running !== undefined) await e.running;
        e.running = this.#run(e, 'once', options.dryRun).finally(() => {
          e.running = undefined;
        });
        await e.running;
      }),
    );
  }

  /** The running services (benchmarks read their request counters). */
  get services(): DaemonServices | undefined {
    return this.#services;
  }

  /** Re-reads the config; a bad one is rejected and the old one keeps running. */
  async reload(): Promise<boolean> {
    let config: Config;
    try {
      config = await this.#deps.loadConfig();
    } catch (error) {
      this.#log.error({ err: error instanceof Error ? error.message : String(error), details: error instanceof ResolverError ? error.details : [] }, 'new config rejected; keeping the running one');
      return false;
    }
    this.#apply(config);
    this.#log.info({ images: this.#entries.length }, 'config reloaded');
    for (const e of this.#entries) if (e.status.state === 'pending') void this.#trigger(e, 'reload');
    return true;
  }

  /** Stops scheduling, aborts in-flight work and waits for it up to the shutdown deadline. */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#watchdog);
    this.#loopDelay.disable();
    for (const e of this.#entries) {
      clearTimeout(e.timer);
      void e.task.destroy();
    }
    this.#shutdown.abort();
    const deadline = parseDuration(this.#config?.shutdownTimeout ?? '20s');
    const running = this.#entries.flatMap((e) => (e.running === undefined ? [] : [e.running]));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled(running), new Promise((r) => (timer = setTimeout(r, deadline)))]);
    clearTimeout(timer);
    await this.#services?.close();
    await new Promise<void>((r) => (this.#lock === undefined ? r() : this.#lock.close(() => r())));
    await new Promise<void>((r) => (this.#metricsServer === undefined ? r() : this.#metricsServer.close(() => r())));
    this.#log.info({}, 'daemon stopped');
  }

  /** The status of every image. */
  status(): { pid: number; startedAt: string; eventLoopMaxDelayMs: number; images: ImageStatus[] } {
    return {
      pid: process.pid,
      startedAt: this.#startedAt,
      eventLoopMaxDelayMs: Math.round(this.#loopDelay.max / 1e6),
      images: this.#entries.map((e) => ({ ...e.status })),
    };
  }
}
