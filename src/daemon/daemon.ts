/**
 * The pre-puller daemon as a coordinator (issue 14; the contract is in docs/daemon.md). It owns the
 * lifecycle (config generations, lock, metrics endpoint, shutdown) and wires three parts that know
 * nothing of each other:
 * - `Scheduler` (scheduler.ts): when each entry is due;
 * - `Runner` (runner.ts): whether a run starts (no overlap, backoff, splay, per-registry concurrency,
 *   deadline) and which events its outcome is;
 * - subscribers of `events`: status (`reduceStatus`), metrics, logs, and whatever comes next.
 * A config generation (config + services + per-generation caches) is reference-counted: a reload swaps in
 * a new one at once and closes the old one only when the last run that uses it has finished (issue 14
 * defect 3). Entries are keyed by image and platform everywhere (issue 9.3).
 */
import { setMaxListeners } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { serveApi, type ApiBackend, type ApiServer, type CheckSelector, type CheckStarted, type Probe } from '../api/server.js';
import { RegistryBudget, type BudgetView } from '../budget/budget.js';
import { budgetPolicyOf } from '../budget/config.js';
import type { FetchedManifest } from '../registry/registry.js';
import { windowed } from '../prefetch/prefetch.js';
import { isGated } from '../rollout/config.js';
import { deviceIdOf, type DeviceIdSource } from '../rollout/device.js';
import { rememberingReader, RolloutGate } from './rollout-gate.js';
import { BudgetFile } from './budget-file.js';
import type { Config } from '../config/schema.js';
import { platformKey } from '../config/values.js';
import { ResolverError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { formatPlatformAll } from '../platform/platform.js';
import { formatReference, parseReference, withDefaultTag } from '../reference/reference.js';
import { checkImage, type CheckOutcome } from '../resolver/reconcile.js';
import { summaryOf, type EntriesSource } from './entries.js';
import { detectedPlatform, EventBus, type DaemonEvent, type EntrySpec, type RunReason } from './events.js';
import { Generation, type DaemonServices } from './generation.js';
import { LastChecks } from './last-check.js';
import { acquireLock, type ControlRequest, type Lock } from './lock.js';
import { logEvents } from './log-events.js';
import { Metrics, type ProcessSample } from './metrics.js';
import { RecentEvents } from './recent-events.js';
import { Runner, type CheckEntry } from './runner.js';
import { Scheduler, splayOf } from './scheduler.js';
import { emptyStatus, reduceStatus, type ImageStatus, type StatusState } from './status.js';

export type { EntriesSource } from './entries.js';
export type { DaemonServices } from './generation.js';
export type { ImageStatus } from './status.js';

/** Dependencies of the daemon. */
export interface DaemonDeps {
  readonly loadConfig: () => Promise<Config>;
  readonly services: (config: Config) => DaemonServices;
  readonly stateDir: (config: Config) => string;
  readonly logger: Logger;
  readonly hostname: string;
  readonly monotonic?: () => number;
  readonly random?: () => number;
  /** Take the single-instance lock (`check` without a daemon skips it). */
  readonly lock?: boolean;
  /** The longest one check may take (default 15 min). */
  readonly checkDeadlineMs?: number;
  readonly pid?: number;
  /** resolver's version, for resolver_build_info. */
  readonly version?: string;
  /** Where `metrics.token`'s credential is read ($CREDENTIALS_DIRECTORY); default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * The registry request budget, shared across reloads; the composition root passes the same one to every
   * generation's registry client (docs/budget.md). Default: a budget of its own (seen only by `status`).
   */
  readonly budget?: RegistryBudget;
  /** Reads `rollout.machineIdFile` (tests inject it); default: the file system. */
  readonly readFile?: (path: string) => Promise<string>;
  /** Entries found besides the config's `images:` (discovery by label, docs/discovery.md). */
  readonly entries?: EntriesSource;
}

/** What `status` answers. */
export interface DaemonStatus {
  readonly pid: number;
  readonly startedAt: string;
  readonly eventLoopMaxDelayMs: number;
  readonly images: ImageStatus[];
  /** The registry budgets (issue 12 §2). */
  readonly budgets?: BudgetView[];
}

/** The daemon. */
export class Daemon {
  /** Everything that happens; subscribe with `events.on`. */
  readonly events: EventBus<DaemonEvent>;
  /** The Prometheus series (a subscriber). */
  readonly metrics: Metrics;
  /** The newest events, for `GET /v1/events` (a subscriber). */
  readonly recent = new RecentEvents();
  /** The last trusted check per image and platform, for `resolver run` (a subscriber; src/daemon/last-check.ts). */
  readonly #lastChecks = new LastChecks();
  /** The registry request budget (docs/budget.md). */
  readonly budget: RegistryBudget;
  /** The budget across restarts: `budget.json` in the state folder (docs/budget.md). */
  readonly #budgetFile: BudgetFile;
  #stateDir = '.';
  readonly #deps: DaemonDeps;
  /** The staged rollout's memory (first-seen times, control documents) and the manifests its waits re-read. */
  readonly #gate: RolloutGate;
  readonly #manifests = new Map<string, FetchedManifest>();
  #device: string | undefined;
  #deviceFrom: DeviceIdSource | undefined;
  readonly #mono: () => number;
  readonly #runner: Runner;
  readonly #scheduler: Scheduler;
  readonly #shutdown = new AbortController();
  readonly #loopDelay = monitorEventLoopDelay({ resolution: 10 });
  /** The event-loop delay between two scrapes of /metrics (reset by each). */
  readonly #scrapeDelay = monitorEventLoopDelay({ resolution: 10 });
  readonly #startedAt = new Date().toISOString();
  #status: StatusState = emptyStatus;
  #gen: Generation | undefined;
  #lock: Lock | undefined;
  #metricsServer: ApiServer | undefined;
  /** Check-now runs queued or running, per entry key and dry-run flag: a second request joins the first. */
  readonly #nowRuns = new Map<string, Promise<void>>();
  #stopping = false;
  /** False for `check` (runOnce): entries are run once, not scheduled. */
  #scheduling = false;
  #engineProbe: { at: number; result: Promise<string | undefined> } | undefined;

  constructor(deps: DaemonDeps) {
    this.#deps = deps;
    this.budget = deps.budget ?? new RegistryBudget();
    this.#budgetFile = new BudgetFile({ budget: this.budget, stateDir: () => this.#stateDir, warn: (m) => deps.logger.warn({}, m) });
    this.#gate = new RolloutGate({ stateDir: () => (this.#gen === undefined ? '.' : this.#lock?.stateDir ?? this.#deps.stateDir(this.#gen.config)) });
    this.#mono = deps.monotonic ?? (() => performance.now());
    this.metrics = new Metrics({
      build: { version: deps.version ?? '0.0.0', node: process.versions.node, runtime: `${process.platform}/${process.arch}` },
      sample: () => this.#processSample(),
    });
    this.events = new EventBus((error, event) => {
      deps.logger.error({ event: event.type, err: error instanceof Error ? error.message : String(error) }, 'an event subscriber failed');
    });
    this.events.on((e) => (this.#status = reduceStatus(this.#status, e)));
    this.events.on((e) => this.metrics.apply(e));
    this.events.on(this.recent.push);
    this.events.on(this.#lastChecks.apply);
    this.events.on(logEvents(deps.logger));
    this.#runner = new Runner({
      check: (entry, signal, o) => this.#check(entry, signal, o),
      emit: (e) => this.events.emit(e),
      shutdown: this.#shutdown.signal,
      monotonic: this.#mono,
      random: deps.random,
      hostname: deps.hostname,
      deadlineMs: deps.checkDeadlineMs ?? 15 * 60_000,
    });
    deps.entries?.onChange(() => this.#entriesChanged());
    this.#scheduler = new Scheduler({
      onDue: (key) => this.#due(key, 'schedule'),
      onArmed: (key, next) => this.events.emit({ type: 'scheduled', key, nextRun: next?.toISOString() }),
      onJump: (jumpMs) => this.events.emit({ type: 'clock-jumped', jumpMs, at: new Date().toISOString() }),
      monotonic: this.#mono,
    });
  }

  get #pid(): number {
    return this.#deps.pid ?? process.pid;
  }

  /**
   * Loads the config, takes the lock, binds the metrics endpoint, arms the schedules and starts a first
   * check of every entry. A failure at any step undoes the earlier ones (no half-started daemon, the lock
   * released) and throws a ResolverError.
   */
  /** The device id splay, jitter and cohorts derive from (src/rollout/device.ts); never logged. */
  async #resolveDevice(config: Config): Promise<void> {
    const r = config.rollout;
    const device = await deviceIdOf({ configured: r.deviceId, machineIdFile: r.machineIdFile, hostname: this.#deps.hostname, ...(this.#deps.readFile === undefined ? {} : { read: this.#deps.readFile }) });
    this.#device = device.id;
    this.#deviceFrom = device.source;
  }

  async start(): Promise<void> {
    const config = await this.#deps.loadConfig();
    await this.#resolveDevice(config);
    const gen = new Generation(config, this.#deps.services(config), this.#mono, this.#deps.entries?.current());
    let stateDir = this.#deps.stateDir(config);
    try {
      if (this.#deps.lock !== false) {
        this.#lock = await acquireLock(stateDir, (r) => this.#control(r), (m) => this.#deps.logger.warn({}, m));
        stateDir = this.#lock.stateDir;
      }
      if (config.metrics !== undefined) {
        this.#metricsServer = await serveApi(config.metrics, this.#api(), { env: this.#deps.env ?? process.env });
      }
      // Before the first check: a 429's deferral or a spent allowance from before the restart still holds.
      this.#stateDir = stateDir;
      await this.#budgetFile.open();
    } catch (error) {
      await this.#lock?.close();
      this.#lock = undefined;
      await gen.close();
      throw error;
    }
    this.#install(gen, { reload: false, schedule: true });
    this.#loopDelay.enable();
    this.#scrapeDelay.enable();
    this.events.emit({ type: 'started', entries: gen.entries.size, stateDir, metrics: config.metrics?.listen, at: new Date().toISOString(), deviceIdFrom: this.#deviceFrom });
    for (const e of gen.entries.values()) void this.#runner.trigger(e, 'start');
  }

  /**
   * The discovered entries changed: the running generation gets the new entry set (same config, same
   * services), swapped in as a reload swaps schedules (`scheduler.set`); an entry that is new is checked now,
   * one that went is no longer scheduled (a run in flight finishes).
   */
  #entriesChanged(): void {
    const gen = this.#gen;
    if (gen === undefined || this.#stopping) return;
    const before = gen.entries;
    const entries = gen.refound(this.#deps.entries?.current());
    if (entries === undefined) return;
    this.#runner.configure({ perRegistry: gen.config.concurrency, splayMs: splayOf(gen.config.splayMs, gen.config.schedule), keys: entries.map((e) => e.key) });
    this.events.emit({ type: 'configured', entries, reload: true, summary: summaryOf(gen.config), changed: 'containers', at: new Date().toISOString() });
    if (!this.#scheduling) return;
    this.#scheduler.set(entries);
    for (const e of entries) if (!before.has(e.key)) void this.#runner.trigger(e, 'reload');
  }

  #install(gen: Generation, options: { reload: boolean; schedule: boolean }): void {
    const old = this.#gen;
    this.#gen = gen;
    this.#scheduling = options.schedule;
    this.#engineProbe = undefined;
    const entries = [...gen.entries.values()];
    this.#runner.configure({ perRegistry: gen.config.concurrency, splayMs: splayOf(gen.config.splayMs, gen.config.schedule), keys: entries.map((e) => e.key), device: this.#device });
    this.budget.configure(budgetPolicyOf(gen.config));
    this.events.emit({ type: 'configured', entries, reload: options.reload, summary: summaryOf(gen.config), at: new Date().toISOString() });
    if (options.schedule) this.#scheduler.set(entries);
    old?.retire();
  }

  #due(key: string, why: RunReason): void {
    const entry = this.#gen?.entries.get(key);
    if (entry !== undefined && !this.#stopping) void this.#runner.trigger(entry, why);
  }

  async #check(entry: EntrySpec, signal: AbortSignal, options: Parameters<CheckEntry>[2]): Promise<CheckOutcome> {
    const gen = this.#gen;
    if (gen === undefined) throw new ResolverError('ERR_ABORTED', 'the daemon is not started');
    const release = gen.acquire();
    try {
      // Each request of this check listens on its signal; a few are expected, more would be a leak.
      setMaxListeners(64, signal);
      const target = await gen.target(entry.platformSpec, signal);
      options.onPlatform(formatPlatformAll(target.platform));
      const { registry, credentials, state } = gen.services;
      const record = await state.get(entry.image, formatPlatformAll(target.platform)).catch(() => undefined);
      options.onRecorded?.(record === undefined ? undefined : { indexDigest: record.indexDigest, childDigest: record.childDigest, pulledAt: record.pulledAt });
      const engine = await gen.services.engine(signal);
      const tag = await gen.ownsTag(entry, signal);
      // The one rollout hook (issue 12 §3): only for entries whose policy can hold a pull.
      const policy = entry.rollout !== undefined && isGated(entry.rollout) ? entry.rollout : undefined;
      const reader = policy === undefined ? registry : rememberingReader(registry, this.#manifests);
      const rollout = policy === undefined ? undefined : this.#gate.hook({ key: entry.key, image: entry.image, device: this.#runner.device, policy, registry: reader, signal });
      const outcome = await checkImage(
        { registry: reader, engine, credentials, state, localTags: gen.localTags(engine), preflight: gen.services.preflight, prefetch: windowed(gen.services.prefetch, entry.rollout?.window), pullSources: (r) => gen.services.pullSources?.(r, target.rules.store) ?? Promise.resolve([]) },
        { reference: parseReference(entry.image), target, onMissingPlatform: entry.onMissingPlatform, retain: entry.retain, tag, rollout },
        { signal, dryRun: options.dryRun },
      );
      const budgets = new Map(this.budget.view().map((b) => [b.registry, b]));
      for (const [host, rl] of registry.rateLimits) {
        const b = budgets.get(host);
        if (rl.remaining !== undefined) {
          this.events.emit({ type: 'quota', registry: host, remaining: b?.remaining ?? rl.remaining, limit: b?.limit ?? rl.limit, ...(b === undefined ? {} : { reserve: b.reserve, windowSeconds: b.windowSeconds, waitUntil: b.waitUntil }) });
        }
      }
      return outcome;
    } finally {
      release();
    }
  }

  async #control(request: ControlRequest): Promise<unknown> {
    if (request.op === 'status') return this.status();
    if (request.op === 'last-check') return this.#lastChecks.answer(this.#pid, request.image, request.platform);
    return this.checkNow({ dryRun: request.dryRun, image: request.image, platform: request.platform }).done;
  }

  /** What the HTTP endpoint serves (src/api/). */
  #api(): ApiBackend {
    return {
      live: () => this.live(),
      ready: () => this.ready(),
      metrics: () => this.metrics.render(),
      // The `resolver status --json` document of a running daemon.
      status: () => ({ daemon: 'running', ...this.status() }),
      events: (q) => this.recent.list(q),
      check: (selector) => this.checkNow(selector),
    };
  }

  /** The entries a check-now names: all, or one image (at one platform). @throws ResolverError ERR_NOT_FOUND, ERR_USAGE */
  #select(gen: Generation, selector: CheckSelector): EntrySpec[] {
    const all = [...gen.entries.values()];
    let image: string | undefined;
    let platform: string | undefined;
    try {
      image = selector.image === undefined ? undefined : formatReference(withDefaultTag(parseReference(selector.image)));
      // `detected` (the host's entry) is a word, not a platform: matched below, never parsed.
      platform = selector.platform === undefined || selector.platform === detectedPlatform ? undefined : platformKey(selector.platform);
    } catch (error) {
      throw new ResolverError('ERR_USAGE', error instanceof Error ? error.message : String(error));
    }
    // An entry's platform: the configured one, else (host platform) the detected one once known.
    const platformOf = (e: EntrySpec): string | undefined => {
      const p = e.platformSpec ?? this.#status.get(e.key)?.platform;
      try {
        return p === undefined ? undefined : platformKey(p);
      } catch {
        return undefined;
      }
    };
    const picked = all.filter((e) => (image === undefined || e.image === image) && (selector.platform === detectedPlatform ? e.platformSpec === undefined : platform === undefined || platformOf(e) === platform));
    if (picked.length === 0 && (image !== undefined || platform !== undefined)) {
      const what = `${selector.image ?? 'any image'}${selector.platform === undefined ? '' : ` for ${selector.platform}`}`;
      throw new ResolverError('ERR_NOT_FOUND', `no configured image is ${what}`, {
        details: [`configured: ${all.map((e) => e.key).join(', ') || '(none)'}`, 'to follow it, add it to images: (or label its container resolver.enable=true with discovery on) and reload the daemon (SIGHUP, systemctl reload resolver)'],
      });
    }
    return picked;
  }

  /**
   * "Check now", the one implementation behind `resolver check` beside a daemon (control socket) and
   * `POST /v1/check`: runs the selected entries now (no splay; a run in flight is waited for, never doubled).
   * A request for an entry whose check-now is already queued or running joins it instead of queueing
   * another. `done` settles with `{pid, images}`.
   */
  checkNow(selector: CheckSelector): CheckStarted & { readonly done: Promise<{ pid: number; images: ImageStatus[] }> } {
    const gen = this.#gen;
    if (gen === undefined || this.#stopping) throw new ResolverError('ERR_ABORTED', 'the daemon is not running');
    const entries = this.#select(gen, selector);
    const joined: string[] = [];
    const runs = entries.map((e) => {
      const k = `${e.key}\0${selector.dryRun}`;
      const queued = this.#nowRuns.get(k);
      if (queued !== undefined) {
        joined.push(e.key);
        return queued;
      }
      const run = this.#runner.runNow(e, { dryRun: selector.dryRun }).finally(() => this.#nowRuns.delete(k));
      this.#nowRuns.set(k, run);
      return run;
    });
    const done = Promise.all(runs).then(() => ({ pid: this.#pid, images: this.#statusesOf(entries.map((e) => e.key)) }));
    return { accepted: entries.map((e) => ({ key: e.key, image: e.image, platform: e.platformSpec ?? this.#status.get(e.key)?.platform ?? detectedPlatform })), joined, done };
  }

  /** Checks every entry now: `checkNow` of all (benchmarks and tests). */
  async checkAllNow(options: { dryRun: boolean } = { dryRun: false }): Promise<ImageStatus[]> {
    return (await this.checkNow(options).done).images;
  }

  #statusesOf(keys: readonly string[]): ImageStatus[] {
    return keys.flatMap((k) => {
      const s = this.#status.get(k);
      return s === undefined ? [] : [{ ...s }];
    });
  }

  /** Runs every entry (or the selected image's) once, now (no splay, no schedule), and returns their statuses: `resolver check`. */
  async runOnce(options: CheckSelector): Promise<ImageStatus[]> {
    const config = await this.#deps.loadConfig();
    await this.#resolveDevice(config);
    const gen = new Generation(config, this.#deps.services(config), this.#mono, this.#deps.entries?.current());
    if (this.#deps.lock !== false) {
      try {
        this.#lock = await acquireLock(this.#deps.stateDir(config), (r) => this.#control(r), (m) => this.#deps.logger.warn({}, m));
      } catch (error) {
        await gen.close();
        throw error;
      }
      // `check` shares the daemon's state folder, and so its registry budget.
      this.#stateDir = this.#lock.stateDir;
      await this.#budgetFile.open();
    }
    this.#install(gen, { reload: false, schedule: false });
    return (await this.checkNow(options).done).images.map((s) => ({ ...s, nextRun: undefined }));
  }

  /** The running services (benchmarks read their request counters). */
  get services(): DaemonServices | undefined {
    return this.#gen?.services;
  }

  /** Re-reads the config; a bad one is rejected and the old one keeps running. */
  async reload(): Promise<boolean> {
    if (this.#stopping) return false;
    let config: Config;
    try {
      config = await this.#deps.loadConfig();
      const old = this.#gen?.config;
      // The listener (address, token, TLS files) belongs to the process, like the lock.
      if (old !== undefined && (JSON.stringify(config.metrics) !== JSON.stringify(old.metrics) || this.#deps.stateDir(config) !== this.#deps.stateDir(old))) {
        throw new ResolverError('ERR_CONFIG_INVALID', 'stateDir and metrics (listen, token, tls) cannot change on reload', { details: ['restart the daemon to apply them (systemctl restart resolver)'] });
      }
    } catch (error) {
      this.events.emit({
        type: 'config-rejected', message: error instanceof Error ? error.message : String(error),
        details: error instanceof ResolverError ? error.details : [], at: new Date().toISOString(),
      });
      return false;
    }
    // stop() may have begun while the config loaded.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    if (this.#stopping) return false;
    await this.#resolveDevice(config);
    this.#install(new Generation(config, this.#deps.services(config), this.#mono, this.#deps.entries?.current()), { reload: true, schedule: true });
    for (const s of this.#status.values()) {
      const entry = this.#gen?.entries.get(s.key);
      if (entry !== undefined && s.state === 'pending') void this.#runner.trigger(entry, 'reload');
    }
    return true;
  }

  /** Stops scheduling, aborts in-flight work and waits for it up to the shutdown deadline. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#scheduler.stop();
    this.#loopDelay.disable();
    this.#scrapeDelay.disable();
    this.#shutdown.abort();
    const deadline = this.#gen?.config.shutdownTimeoutMs ?? 20_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#runner.idle(), new Promise((r) => (timer = setTimeout(r, deadline)))]);
    clearTimeout(timer);
    this.#gen?.retire();
    await this.#gen?.close();
    await this.#budgetFile.close();
    await this.#lock?.close();
    await this.#metricsServer?.close();
    this.events.emit({ type: 'stopped', at: new Date().toISOString() });
  }

  /** The process metrics of one scrape. */
  #processSample(): ProcessSample {
    const cpu = process.cpuUsage();
    const heap = process.memoryUsage();
    const lag = this.#scrapeDelay;
    // An empty histogram reports a huge min and max 0; percentile() of it is 0.
    const sample = {
      residentMemoryBytes: heap.rss, cpuSeconds: (cpu.user + cpu.system) / 1e6,
      startTimeSeconds: Math.round((Date.now() - process.uptime() * 1000) / 10) / 100,
      heapUsedBytes: heap.heapUsed, heapTotalBytes: heap.heapTotal,
      eventLoopLagMaxSeconds: lag.count === 0 ? 0 : lag.max / 1e9, eventLoopLagP99Seconds: lag.count === 0 ? 0 : lag.percentile(99) / 1e9,
    };
    lag.reset();
    return sample;
  }

  /** The status of every entry. */
  status(): DaemonStatus {
    return {
      pid: this.#pid,
      startedAt: this.#startedAt,
      eventLoopMaxDelayMs: Math.round(this.#loopDelay.max / 1e6),
      images: [...this.#status.values()].map((s) => ({ ...s })),
      budgets: this.budget.view(),
    };
  }

  #counts(): { images: number; failing: number; held: number } {
    const all = [...this.#status.values()];
    return { images: all.length, failing: all.filter((s) => s.state === 'failing').length, held: all.filter((s) => s.state === 'held').length };
  }

  /** Liveness (/healthz): the scheduler's watchdog ticks. */
  live(): Probe {
    const ok = !this.#stopping && this.#scheduler.alive();
    return { ok, detail: { status: ok ? 'ok' : 'not live', ...this.#counts() } };
  }

  /** Readiness (/readyz): config loaded, engine reachable, and not every entry failing. */
  async ready(): Promise<Probe> {
    const counts = this.#counts();
    const gen = this.#gen;
    const engine = gen === undefined ? 'no config loaded' : await this.#probeEngine(gen);
    const allFailing = counts.images > 0 && counts.failing === counts.images;
    const ok = gen !== undefined && engine === undefined && !allFailing && !this.#stopping;
    const reason = gen === undefined ? 'no config loaded' : engine !== undefined ? `engine unreachable: ${engine}` : allFailing ? 'the last check of every image failed' : this.#stopping ? 'stopping' : undefined;
    return { ok, detail: { status: ok ? 'ready' : 'not ready', ...(reason === undefined ? {} : { reason }), ...counts } };
  }

  /** undefined when the engine answers (a 2 s request, its result kept 5 s), else why not. */
  #probeEngine(gen: Generation): Promise<string | undefined> {
    const now = this.#mono();
    if (this.#engineProbe !== undefined && now - this.#engineProbe.at < 5000) return this.#engineProbe.result;
    const result = (async (): Promise<string | undefined> => {
      const signal = AbortSignal.timeout(2000);
      try {
        const engine = await gen.services.engine(signal);
        // An image that cannot exist: a 404 proves the engine answers, at the cost of one small request.
        await Promise.race([
          engine.inspectImage(`sha256:${'0'.repeat(64)}`),
          new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('no answer within 2 s')), { once: true })),
        ]);
        return undefined;
      } catch (error) {
        return error instanceof Error ? error.message : String(error);
      }
    })();
    this.#engineProbe = { at: now, result };
    return result;
  }
}
