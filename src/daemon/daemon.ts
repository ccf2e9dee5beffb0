/**
 * The pre-puller daemon as a coordinator (issue 14; the contract is in docs/daemon.md). It owns the
 * lifecycle (config generations, lock, HTTP endpoint, start/reload/stop) and wires parts that know nothing
 * of each other:
 * - `Scheduler` (scheduler.ts): when each entry is due;
 * - `Runner` (runner.ts): whether a run starts (no overlap, backoff, splay, per-registry concurrency,
 *   deadline) and which events its outcome is; the run itself is `entryCheck` (check-entry.ts), with the
 *   rollout's hook (rollout-hook.ts) and the budget's `quota` events (quota.ts);
 * - subscribers of `events`: status (`foldStatus`), metrics, logs, recent events, last checks, and
 *   whatever comes next;
 * - the control socket and the HTTP endpoint (control.ts), health probes (health.ts), process figures
 *   (process-status.ts).
 * A config generation (config + services + per-generation caches) is reference-counted: a reload swaps in
 * a new one at once and closes the old one only when the last run that uses it has finished (issue 14
 * defect 3). Entries are keyed by image and platform everywhere (issue 9.3).
 */
import { serveApi, type ApiServer, type CheckSelector, type Probe } from '../api/server.js';
import type { RegistryBudget } from '../budget/budget.js';
import type { Config } from '../config/schema.js';
import { ResolverError } from '../errors.js';
import { settleWithin } from '../limit/deadline.js';
import type { Logger } from '../log/logger.js';
import { deviceIdOf, type DeviceIdSource } from '../rollout/device.js';
import { entryCheck } from './check-entry.js';
import { apiBackend, CheckNow, controlHandler, type CheckNowStarted } from './control.js';
import { summaryOf, type EntriesSource } from './entries.js';
import { EventBus, type DaemonEvent, type RunReason } from './events.js';
import { Generation, type DaemonServices } from './generation.js';
import { Health } from './health.js';
import { LastChecks } from './last-check.js';
import { acquireLock, type ControlRequest, type Lock } from './lock.js';
import { logEvents } from './log-events.js';
import { Metrics } from './metrics.js';
import { ProcessMonitor, type DaemonStatus } from './process-status.js';
import { Quota } from './quota.js';
import { RecentEvents } from './recent-events.js';
import { RolloutHooks } from './rollout-hook.js';
import { Runner } from './runner.js';
import { Scheduler, splayOf } from './scheduler.js';
import { foldStatus, type ImageStatus, type StatusMap } from './status.js';

export type { EntriesSource } from './entries.js';
export type { DaemonServices } from './generation.js';
export type { DaemonStatus } from './process-status.js';
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
  /** The registry budget, its file and its `quota` events (docs/budget.md). */
  readonly #quota: Quota;
  readonly #deps: DaemonDeps;
  /** The staged rollout's hook (first-seen times, control documents, remembered manifests). */
  readonly #rollout: RolloutHooks;
  #device: string | undefined;
  #deviceFrom: DeviceIdSource | undefined;
  readonly #mono: () => number;
  readonly #runner: Runner;
  readonly #scheduler: Scheduler;
  readonly #health: Health;
  readonly #process = new ProcessMonitor();
  readonly #checkNow: CheckNow;
  readonly #control: (request: ControlRequest) => Promise<unknown>;
  readonly #shutdown = new AbortController();
  /** The status of every entry: one map this daemon owns, folded in place (status.ts). */
  #status: StatusMap = new Map();
  #gen: Generation | undefined;
  #lock: Lock | undefined;
  #metricsServer: ApiServer | undefined;
  #stopping = false;
  /** False for `check` (runOnce): entries are run once, not scheduled. */
  #scheduling = false;

  constructor(deps: DaemonDeps) {
    this.#deps = deps;
    this.#mono = deps.monotonic ?? (() => performance.now());
    this.metrics = new Metrics({
      build: { version: deps.version ?? '0.0.0', node: process.versions.node, runtime: `${process.platform}/${process.arch}` },
      sample: () => this.#process.sample(),
    });
    this.events = new EventBus((error, event) => {
      deps.logger.error({ event: event.type, err: error instanceof Error ? error.message : String(error) }, 'an event subscriber failed');
    });
    this.events.on((e) => (this.#status = foldStatus(this.#status, e)));
    this.events.on((e) => this.metrics.apply(e));
    this.events.on(this.recent.push);
    this.events.on(this.#lastChecks.apply);
    this.events.on(logEvents(deps.logger));
    this.#quota = new Quota({ budget: deps.budget, emit: (e) => this.events.emit(e), warn: (m) => deps.logger.warn({}, m) });
    this.#rollout = new RolloutHooks({ stateDir: () => (this.#gen === undefined ? '.' : this.#lock?.stateDir ?? this.#deps.stateDir(this.#gen.config)) });
    this.#runner = new Runner({
      check: entryCheck({
        generation: () => this.#gen,
        rollout: (entry, registry, signal) => this.#rollout.of(entry, { registry, device: this.#runner.device, signal }),
        checked: (rateLimits) => this.#quota.report(rateLimits),
      }),
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
    this.#health = new Health({ stopping: () => this.#stopping, alive: () => this.#scheduler.alive(), generation: () => this.#gen, status: () => this.#status, monotonic: this.#mono });
    this.#checkNow = new CheckNow({ runNow: (e, o) => this.#runner.runNow(e, o), status: () => this.#status, pid: this.#pid });
    this.#control = controlHandler(this, (image, platform) => this.#lastChecks.answer(this.#pid, image, platform));
  }

  /** The registry request budget (docs/budget.md). */
  get budget(): RegistryBudget {
    return this.#quota.budget;
  }

  get #pid(): number {
    return this.#deps.pid ?? process.pid;
  }

  /** The device id splay, jitter and cohorts derive from (src/rollout/device.ts); never logged. */
  async #resolveDevice(config: Config): Promise<void> {
    const r = config.rollout;
    const device = await deviceIdOf({ configured: r.deviceId, machineIdFile: r.machineIdFile, hostname: this.#deps.hostname, ...(this.#deps.readFile === undefined ? {} : { read: this.#deps.readFile }) });
    this.#device = device.id;
    this.#deviceFrom = device.source;
  }

  #generation(config: Config): Generation {
    return new Generation(config, this.#deps.services(config), this.#mono, this.#deps.entries?.current());
  }

  /**
   * Loads the config, takes the lock, binds the metrics endpoint, arms the schedules and starts a first
   * check of every entry. A failure at any step undoes the earlier ones (no half-started daemon, the lock
   * released) and throws a ResolverError.
   */
  async start(): Promise<void> {
    const config = await this.#deps.loadConfig();
    await this.#resolveDevice(config);
    const gen = this.#generation(config);
    let stateDir = this.#deps.stateDir(config);
    try {
      if (this.#deps.lock !== false) {
        this.#lock = await acquireLock(stateDir, this.#control, (m) => this.#deps.logger.warn({}, m));
        stateDir = this.#lock.stateDir;
      }
      if (config.metrics !== undefined) {
        this.#metricsServer = await serveApi(config.metrics, apiBackend(this), { env: this.#deps.env ?? process.env });
      }
      // Before the first check: a 429's deferral or a spent allowance from before the restart still holds.
      await this.#quota.open(stateDir);
    } catch (error) {
      await this.#lock?.close();
      this.#lock = undefined;
      await gen.close();
      throw error;
    }
    this.#install(gen, { reload: false, schedule: true });
    this.#process.enable();
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
    this.#health.forget();
    const entries = [...gen.entries.values()];
    this.#runner.configure({ perRegistry: gen.config.concurrency, splayMs: splayOf(gen.config.splayMs, gen.config.schedule), keys: entries.map((e) => e.key), device: this.#device });
    this.#quota.configure(gen.config);
    this.events.emit({ type: 'configured', entries, reload: options.reload, summary: summaryOf(gen.config), at: new Date().toISOString() });
    if (options.schedule) this.#scheduler.set(entries);
    old?.retire();
  }

  #due(key: string, why: RunReason): void {
    const entry = this.#gen?.entries.get(key);
    if (entry !== undefined && !this.#stopping) void this.#runner.trigger(entry, why);
  }

  /**
   * "Check now", the one implementation behind `resolver check` beside a daemon (control socket) and
   * `POST /v1/check`: runs the selected entries now (no splay; a run in flight is waited for, never doubled).
   * A request for an entry whose check-now is already queued or running joins it instead of queueing
   * another (control.ts). `done` settles with `{pid, images}`. @throws ResolverError ERR_NOT_FOUND, ERR_USAGE
   */
  checkNow(selector: CheckSelector): CheckNowStarted {
    const gen = this.#gen;
    if (gen === undefined || this.#stopping) throw new ResolverError('ERR_ABORTED', 'the daemon is not running');
    return this.#checkNow.start([...gen.entries.values()], selector);
  }

  /** Checks every entry now: `checkNow` of all (benchmarks and tests). */
  async checkAllNow(options: { dryRun: boolean } = { dryRun: false }): Promise<ImageStatus[]> {
    return (await this.checkNow(options).done).images;
  }

  /** Runs every entry (or the selected image's) once, now (no splay, no schedule), and returns their statuses: `resolver check`. */
  async runOnce(options: CheckSelector): Promise<ImageStatus[]> {
    const config = await this.#deps.loadConfig();
    await this.#resolveDevice(config);
    const gen = this.#generation(config);
    if (this.#deps.lock !== false) {
      try {
        this.#lock = await acquireLock(this.#deps.stateDir(config), this.#control, (m) => this.#deps.logger.warn({}, m));
      } catch (error) {
        await gen.close();
        throw error;
      }
      // `check` shares the daemon's state folder, and so its registry budget.
      await this.#quota.open(this.#lock.stateDir);
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
    this.#install(this.#generation(config), { reload: true, schedule: true });
    // A copy: a trigger emits events, which update the map while this walks it.
    for (const s of [...this.#status.values()]) {
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
    this.#process.disable();
    this.#shutdown.abort();
    const deadline = this.#gen?.config.shutdownTimeoutMs ?? 20_000;
    await settleWithin(this.#runner.idle(), deadline);
    this.#gen?.retire();
    await this.#gen?.close();
    await this.#quota.close();
    await this.#lock?.close();
    await this.#metricsServer?.close();
    this.events.emit({ type: 'stopped', at: new Date().toISOString() });
  }

  /** The status of every entry. */
  status(): DaemonStatus {
    return this.#process.status(this.#pid, this.#status, this.#quota.view());
  }

  /** Liveness (/healthz): the scheduler's watchdog ticks (health.ts). */
  live(): Probe {
    return this.#health.live();
  }

  /** Readiness (/readyz): config loaded, engine reachable, and not every entry failing (health.ts). */
  ready(): Promise<Probe> {
    return this.#health.ready();
  }
}
