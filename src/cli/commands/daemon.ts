/**
 * `resolver daemon --config FILE`, `resolver check --config FILE [--dry-run] [--json]`,
 * `resolver status [--config FILE] [--json]` and `resolver config check [FILE | --config FILE]`.
 * Each command is a plain `run…(options, deps)`; `register` only wires commander. The process (its
 * environment, SIGHUP, stdout's terminal) comes in through `deps`: nothing here reads `process` itself.
 */
import { access } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { commandGroup } from '../options.js';
import type { BudgetView } from '../../budget/budget.js';
import type { Config } from '../../config/schema.js';
import type { Daemon, ImageStatus } from '../../daemon/daemon.js';
import type { DaemonAnswer } from '../../daemon/lock.js';
import { ResolverError } from '../../errors.js';
import { defaultStateDir, UnreadableStateError } from '../../state/state-store.js';
import type { CommandDeps, CommandProcess, ProgramDeps } from '../command-deps.js';
import { table } from '../output.js';
import { createServices } from '../services.js';
import { resolverVersion } from '../version.js';

// The daemon's modules (node-cron, pino, yaml) load only when one of these commands runs, so that
// `which` and `run` do not pay for them at start-up (bench/README.md).
const loadConfig = async (file: string): Promise<Config> => (await import('../../config/load.js')).loadConfig(file);

/** The config file when --config is not given. */
export const defaultConfig = '/etc/resolver/resolver.yaml';

/** The log levels `--log-level` and `logLevel` accept. */
export const logLevels = ['trace', 'debug', 'info', 'warn', 'error'] as const;

/** The process as these commands see it (injected by the composition root). */
export type DaemonProcess = Pick<CommandProcess, 'env' | 'hostname' | 'uid' | 'stdoutIsTTY' | 'onHangup'>;

/** Dependencies of the daemon commands (a part of CommandDeps: src/cli/command-deps.ts). */
export interface DaemonCommandDeps extends Pick<CommandDeps, 'output' | 'signals' | 'setExitCode'> {
  readonly process: DaemonProcess;
}

/**
 * Exit codes of `check` (README §Exit codes): every entry ok; some held (3, as `which` exits when no
 * child fits) and none failed; some failed; every entry failed. Config errors are 78, a daemon that cannot
 * be asked is 11, cancellation 130/143.
 */
export const checkExitCodes = { ok: 0, held: 3, someFailed: 12, allFailed: 13 } as const;

/** The exit code for a cycle's statuses. */
export function checkExitCode(statuses: readonly Pick<ImageStatus, 'state'>[]): number {
  const failed = statuses.filter((s) => s.state === 'failing').length;
  if (failed > 0) return failed === statuses.length ? checkExitCodes.allFailed : checkExitCodes.someFailed;
  return statuses.some((s) => s.state === 'held') ? checkExitCodes.held : checkExitCodes.ok;
}

/** `status` exits 1 when the state file cannot be read (README, Exit codes: a file-system error). */
export const statusExitCodes = { unreadableState: 1 } as const;

function stateDirOf(config: Config | undefined, p: DaemonProcess): string {
  return config?.stateDir ?? defaultStateDir(p.env, p.env['HOME'] ?? '/root', p.uid === 0);
}

async function daemonFor(file: string, deps: DaemonCommandDeps, options: { level?: string | undefined; human: boolean; lock: boolean; activate?: boolean; watch: boolean; write?: (t: string) => void }): Promise<{ daemon: Daemon; stopDiscovery: () => Promise<void> }> {
  const [{ Daemon }, { createLogger }, { notifyListener }, { RegistryBudget }, { Discovery }] = await Promise.all([import('../../daemon/daemon.js'), import('../../log/logger.js'), import('./notify.js'), import('../../budget/budget.js'), import('../../discover/discovery.js')]);
  // One budget for the daemon's life: every config generation's registry client shares it (docs/budget.md).
  const budget = new RegistryBudget();
  const env = deps.process.env;
  let level = options.level ?? 'info';
  const logger = createLogger({ level, human: options.human, ...(options.write === undefined ? {} : { write: options.write }) });
  const envOf = (c: Config): NodeJS.ProcessEnv => ({
    ...env,
    ...(c.engine.host === undefined ? {} : { DOCKER_HOST: c.engine.host }),
    ...(c.registries.dockerConfig ?? env['CREDENTIALS_DIRECTORY'] ? { DOCKER_CONFIG: c.registries.dockerConfig ?? env['CREDENTIALS_DIRECTORY'] } : {}),
  });
  const servicesOf = (c: Config): ReturnType<typeof createServices> =>
    createServices(envOf(c), { insecureRegistries: c.registries.insecure, mirrors: c.mirrors, onWarning: (m) => logger.warn({}, m), stateDir: stateDirOf(c, deps.process), budget, preflight: c.preflight, prefetch: c.prefetch, onPrefetchPaused: (m) => logger.info({}, m) });
  // Discovery by label (docs/discovery.md): its own engine connection, kept while the engine does not change.
  const discovery = new Discovery({ logger });
  const discoveryConnection = (c: Config) => ({
    key: JSON.stringify([c.engine.host, env['DOCKER_HOST'], env['DOCKER_CONTEXT']]),
    open: () => {
      const services = servicesOf(c);
      return { engine: (signal?: AbortSignal) => services.engine(signal), hostPlatform: async (signal?: AbortSignal) => (await services.target({}, signal)).platform, close: () => services.close() };
    },
  });
  const daemon = new Daemon({
    loadConfig: async () => {
      const c = await loadConfig(file);
      if (options.level === undefined && c.logLevel !== level) {
        level = c.logLevel;
        logger.level = level;
      }
      await discovery.configure(c.discovery, discoveryConnection(c), { watch: options.watch });
      return c;
    },
    stateDir: (c) => stateDirOf(c, deps.process),
    services: servicesOf,
    budget,
    logger,
    hostname: deps.process.hostname,
    lock: options.lock,
    env,
    version: resolverVersion(),
    entries: discovery,
  });
  daemon.events.on(notifyListener({ configFile: file, env, hostname: deps.process.hostname, logger, stateDir: (c) => stateDirOf(c, deps.process), onResult: (sink, result) => daemon.metrics.notification(sink, result) }));
  // Containers follow their tag in the long-running daemon only (docs/activation.md): `check` does not wait for health.
  if (options.activate === true) daemon.events.on((await import('../activation.js')).activateListener({ configFile: file, env, logger, stateDir: (c) => stateDirOf(c, deps.process), emit: (e) => daemon.events.emit(e) }));
  daemon.events.on((e) => {
    if (e.type === 'stopped') void discovery.stop();
  });
  return { daemon, stopDiscovery: () => discovery.stop() };
}

/** What the STATE column says: `would pull` for a dry run's pending pull (its CHILD is what would be pulled). */
function stateText(i: ImageStatus): string {
  if (i.waitUntil !== undefined && i.state !== 'failing') return 'waiting';
  if (i.held !== undefined && i.state !== 'failing') return 'held';
  return i.lastResult === 'would-pull' && i.state === 'ok' ? 'would pull' : i.state;
}

/** The SERVED BY cell (docs/mirrors.md): the host, or `TAG-HOST, content CONTENT-HOST` when they differ. */
export function servedText(s: { readonly resolve?: string | undefined; readonly content?: string | undefined } | undefined): string {
  if (s === undefined || (s.resolve === undefined && s.content === undefined)) return '-';
  if (s.content === undefined || s.content === s.resolve) return s.resolve ?? '-';
  return s.resolve === undefined ? `content ${s.content}` : `${s.resolve}, content ${s.content}`;
}

/** The table of `status` (running daemon) and `check`. */
export function statusRows(images: readonly ImageStatus[]): string {
  // SOURCE (config, or the label of which container: docs/discovery.md) only when an entry is not from the config alone.
  const sources = images.some((i) => i.source !== undefined && i.source !== 'config');
  // SERVED BY: which hosts answered, the tag's and the content's (a mirror or the registry; docs/mirrors.md).
  const served = images.some((i) => i.servedBy !== undefined);
  const rows = [['IMAGE', 'PLATFORM', 'STATE', 'INDEX', 'CHILD', 'LAST CHECK', 'LAST PULL', 'NEXT RUN', ...(sources ? ['SOURCE'] : []), ...(served ? ['SERVED BY'] : []), 'ERROR']];
  for (const i of images) {
    const waiting = i.waitUntil === undefined ? undefined : `until ${i.waitUntil}: ${i.waitMessage ?? i.waitReason ?? ''}`;
    const error = i.lastError === undefined ? (waiting ?? i.held ?? '') : `${i.lastError}${i.retryAfterSeconds === undefined ? '' : ` (registry asked to wait ${i.retryAfterSeconds} s)`}`;
    rows.push([i.image, i.platform ?? '-', stateText(i), i.indexDigest?.slice(0, 19) ?? '-', i.childDigest?.slice(0, 19) ?? '-', i.lastCheck ?? '-', i.lastPull ?? '-', i.nextRun ?? '-', ...(sources ? [i.source ?? 'config'] : []), ...(served ? [servedText(i.servedBy)] : []), error]);
  }
  return table(rows);
}

/** One line per registry budget under the `status` table (docs/budget.md). */
export function budgetLines(budgets: readonly BudgetView[]): string {
  return budgets
    .filter((b) => b.limit !== undefined || b.remaining !== undefined || b.waitUntil !== undefined)
    .map((b) => `\nregistry ${b.registry} (${b.identity}): ${b.remaining ?? '?'} of ${b.limit ?? '?'} left${b.windowSeconds === undefined ? '' : ` per ${b.windowSeconds} s`}, reserve ${b.reserve}, ${b.counted} counted sent, ${b.throttled} × 429${b.waitUntil === undefined ? '' : `; ${b.waitReason === 'throttled' ? 'every request' : 'counted requests'} wait until ${b.waitUntil}`}`)
    .join('');
}

function untrusted(answer: Extract<DaemonAnswer, { kind: 'untrusted' }>): ResolverError {
  return new ResolverError('ERR_ALREADY_RUNNING', `not trusting the daemon socket: ${answer.reason}`, {
    details: ['the state folder and its daemon.sock must belong to this user (or root) and be closed to others (0700)'],
  });
}

/** `resolver daemon`: runs until SIGTERM/SIGINT; SIGHUP reloads. */
export async function runDaemon(options: { config: string; logLevel?: string | undefined }, deps: DaemonCommandDeps): Promise<void> {
  const { daemon, stopDiscovery } = await daemonFor(options.config, deps, { level: options.logLevel, human: deps.process.stdoutIsTTY, lock: true, activate: true, watch: true });
  // Listen before start: SIGHUP's default action ends the process, and systemd's ExecReload may come early.
  // A SIGHUP during start is applied once start is done.
  const hup = { started: false, pending: false };
  const offHangup = deps.process.onHangup(() => {
    if (hup.started) void daemon.reload();
    else hup.pending = true;
  });
  try {
    await daemon.start();
  } catch (error) {
    offHangup();
    // Stops what the config load started (discovery's events stream), which would keep the process alive.
    await stopDiscovery();
    throw error;
  }
  hup.started = true;
  if (hup.pending) void daemon.reload();
  try {
    await new Promise<void>((resolve) => {
      const remove = deps.signals.push(() => {
        remove();
        void daemon.stop().then(resolve);
      });
    });
  } finally {
    offHangup();
  }
}

/**
 * `resolver check`: one cycle now. Beside a running daemon (same state folder) the daemon runs the cycle
 * and this prints its result (issue 9.5); otherwise this process takes the daemon's lock and runs it.
 * stdout carries only the result (a table, or one JSON document with --json); logs go to stderr.
 */
export async function runCheck(options: { config: string; dryRun: boolean; json: boolean; image?: string | undefined; platform?: string | undefined }, deps: DaemonCommandDeps): Promise<ImageStatus[]> {
  const config = await loadConfig(options.config);
  const { queryDaemon } = await import('../../daemon/lock.js');
  const stateDir = stateDirOf(config, deps.process);
  // One image (at one platform), as `POST /v1/check` takes it; the daemon matches it against its entries.
  const selector = { dryRun: options.dryRun, ...(options.image === undefined ? {} : { image: options.image }), ...(options.platform === undefined ? {} : { platform: options.platform }) };
  for (let attempt = 0; ; attempt++) {
    // A cycle with pulls can take long; the daemon bounds each check (15 min), this bounds the wait.
    const answer = await queryDaemon(stateDir, { op: 'check', ...selector }, 30 * 60_000);
    if (answer.kind === 'untrusted') throw untrusted(answer);
    if (answer.kind === 'answer') {
      const value = answer.value as { pid?: number; images?: ImageStatus[]; error?: string; code?: string; details?: string[] };
      // The daemon's own refusal of the selector (an image it does not follow, a bad reference): its code and words.
      if (value.images === undefined && (value.code === 'ERR_NOT_FOUND' || value.code === 'ERR_USAGE')) {
        throw new ResolverError(value.code, `the running daemon${value.pid === undefined ? '' : ` (pid ${value.pid})`} ${value.code === 'ERR_NOT_FOUND' ? 'does not follow that image' : 'refused the request'}: ${value.error ?? 'no answer'}`, {
          details: value.details ?? [],
        });
      }
      if (value.images === undefined) throw new ResolverError('ERR_ALREADY_RUNNING', `the running daemon${value.pid === undefined ? '' : ` (pid ${value.pid})`} refused the cycle: ${value.error ?? 'no answer'}`);
      deps.output.err(`resolver: the daemon (pid ${value.pid ?? '?'}) ran this ${options.image === undefined ? 'cycle' : 'check'}`);
      return value.images;
    }
    const { daemon } = await daemonFor(options.config, deps, { level: 'warn', human: true, lock: true, watch: false, write: (t) => deps.output.err(t) });
    try {
      return await daemon.runOnce(selector);
    } catch (error) {
      // A daemon started between the question and the lock: ask it instead (once).
      if (error instanceof ResolverError && error.code === 'ERR_ALREADY_RUNNING' && attempt === 0) continue;
      throw error;
    } finally {
      await daemon.stop();
    }
  }
}

/** `resolver status`: the running daemon's view, else what the state file recorded. */
export async function runStatus(options: { config: string; configGiven: boolean; json: boolean }, deps: DaemonCommandDeps): Promise<void> {
  let config: Config | undefined;
  // Without --config, a missing default file means "the default state folder"; any other failure to load
  // a config is an error, never a silent fallback to another folder (issue 13.17).
  const missingDefault = !options.configGiven && (await access(options.config).then(() => false, () => true));
  if (!missingDefault) config = await loadConfig(options.config);
  const stateDir = stateDirOf(config, deps.process);
  const { queryDaemon } = await import('../../daemon/lock.js');
  const { StateStore } = await import('../../state/state-store.js');
  const live = await queryDaemon(stateDir);
  if (live.kind === 'untrusted') throw untrusted(live);
  if (live.kind === 'answer') {
    const value = live.value as { pid: number; images: ImageStatus[]; budgets?: BudgetView[] };
    deps.output.out(options.json ? JSON.stringify({ daemon: 'running', ...value }, null, 2) : `daemon running (pid ${value.pid})\n${statusRows(value.images)}${budgetLines(value.budgets ?? [])}`);
    return;
  }
  // Read-only: status never creates, moves or writes a file (a corrupt state file is the daemon's to move aside).
  const store = new StateStore(stateDir, (m) => deps.output.err(`warning: ${m}`), { readOnly: true });
  let state;
  try {
    state = await store.load();
  } catch (error) {
    if (!(error instanceof UnreadableStateError)) throw error;
    deps.output.err(`resolver: ${error.message}; left as it is (the daemon moves it aside when it next starts)`);
    deps.setExitCode(statusExitCodes.unreadableState);
    return;
  }
  const records = Object.values(state.images);
  if (options.json) {
    deps.output.out(JSON.stringify({ daemon: 'not running', images: records }, null, 2));
    return;
  }
  // checkedAt is when the record last changed: an unchanged check writes nothing (SD cards wear out), so it is
  // not the last check; only a running daemon knows that (its LAST CHECK column).
  const served = records.some((r) => r.servedBy !== undefined);
  const rows = [['IMAGE', 'PLATFORM', 'CHILD', 'INDEX', 'PULLED', 'RECORDED', ...(served ? ['SERVED BY'] : [])]];
  for (const r of records) rows.push([r.reference, r.platform, r.childDigest.slice(0, 19), r.indexDigest?.slice(0, 19) ?? '-', r.pulledAt, r.checkedAt, ...(served ? [servedText(r.servedBy)] : [])]);
  deps.output.out(`daemon not running; recorded in ${store.path}:\n${table(rows)}`);
}

/** `resolver config check FILE`: the config, loaded and validated. @throws ResolverError ERR_CONFIG_INVALID (exit 78) */
export function runConfigCheck(options: { readonly file: string }): Promise<Config> {
  return loadConfig(options.file);
}

/** Registers the commands. */
export function register(program: Command, deps: ProgramDeps): void {
  commandGroup(program, 'config', 'configuration file commands')
    .command('check')
    .description('validate a config file (exit 78 when invalid)')
    .argument('[file]', 'config file', defaultConfig)
    // Spelled as `daemon`, `check` and `status` take it too (a unit's ExecStartPre= copied from ExecStart=).
    .option('--config <file>', 'config file (instead of FILE)')
    .action(async (positional: string, opts: { config?: string }, cmd: Command) => {
      if (opts.config !== undefined && cmd.args.length > 0) throw new ResolverError('ERR_USAGE', 'give the config file once: resolver config check FILE, or resolver config check --config FILE');
      const file = opts.config ?? positional;
      const c = await runConfigCheck({ file });
      deps.output.out(`${file}: valid (${c.images.length} image${c.images.length === 1 ? '' : 's'}${c.discovery === undefined ? '' : ', and the labelled containers (discovery)'})`);
    });

  program
    .command('daemon')
    .description('keep the configured tags pulled for this platform, on a schedule (for systemd)')
    .option('--config <file>', 'config file', defaultConfig)
    .addOption(new Option('--log-level <level>', 'override logLevel').choices(logLevels))
    .action((opts: { config: string; logLevel?: string }) => runDaemon(opts, deps));

  program
    .command('check')
    .description('run one check of every configured image (or of IMAGE) now and exit (for timers and scripts); beside a running daemon, the daemon runs it')
    .argument('[image]', 'check only this configured image (all its platforms unless --platform)')
    .option('--config <file>', 'config file', defaultConfig)
    .option('--platform <platform>', 'with IMAGE: only its entry for this platform (or "detected", the host\'s)')
    .option('--dry-run', 'report what would be pulled without pulling')
    .option('--json', 'print a JSON array')
    .action(async (image: string | undefined, opts: { config: string; dryRun?: boolean; json?: boolean; platform?: string }) => {
      if (opts.platform !== undefined && image === undefined) throw new ResolverError('ERR_USAGE', '--platform needs an IMAGE: resolver check IMAGE --platform PLATFORM');
      const statuses = await runCheck({ config: opts.config, dryRun: opts.dryRun === true, json: opts.json === true, image, platform: opts.platform }, deps);
      deps.output.out(opts.json === true ? JSON.stringify(statuses, null, 2) : statusRows(statuses));
      deps.setExitCode(checkExitCode(statuses));
    });

  const status = program
    .command('status')
    .description('show each tracked image: platform, digests, last check and pull, next run, held/failing')
    .option('--config <file>', 'config file (to find the state folder)', defaultConfig)
    .option('--json', 'print JSON');
  status.action((opts: { config: string; json?: boolean }) =>
    runStatus({ config: opts.config, configGiven: status.getOptionValueSource('config') !== 'default', json: opts.json === true }, deps));
}
