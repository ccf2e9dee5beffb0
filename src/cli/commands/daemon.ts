/**
 * `resolver daemon --config FILE`, `resolver check --config FILE [--dry-run]`,
 * `resolver status [--config FILE] [--json]` and `resolver config check FILE`.
 */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import type { Config } from '../../config/schema.js';
import type { Daemon, ImageStatus } from '../../daemon/daemon.js';
import { defaultStateDir } from '../../state/state-store.js';
import { table, type Output } from '../output.js';
import { createServices } from '../services.js';
import type { SignalHub } from '../signals.js';

// The daemon's modules (node-cron, pino, yaml) load only when one of these commands runs, so that
// `which` and `run` do not pay for them at start-up (bench/README.md).
const loadConfig = async (file: string): Promise<Config> => (await import('../../config/load.js')).loadConfig(file);

const defaultConfig = '/etc/resolver/resolver.yaml';

function stateDirOf(config: Config | undefined, env: NodeJS.ProcessEnv): string {
  return config?.stateDir ?? defaultStateDir(env, env['HOME'] ?? '/root', process.getuid?.() === 0);
}

async function daemonFor(file: string, env: NodeJS.ProcessEnv, options: { level?: string; human: boolean; lock: boolean; output: Output }): Promise<Daemon> {
  const [{ Daemon }, { createLogger }] = await Promise.all([import('../../daemon/daemon.js'), import('../../log/logger.js')]);
  let level = options.level ?? 'info';
  const logger = createLogger({ level, human: options.human });
  return new Daemon({
    loadConfig: async () => {
      const c = await loadConfig(file);
      if (options.level === undefined && c.logLevel !== level) {
        level = c.logLevel;
        logger.level = level;
      }
      return c;
    },
    stateDir: (c) => stateDirOf(c, env),
    services: (c) => {
      const e: NodeJS.ProcessEnv = {
        ...env,
        ...(c.engine.host === undefined ? {} : { DOCKER_HOST: c.engine.host }),
        ...(c.registries.dockerConfig ?? env['CREDENTIALS_DIRECTORY'] ? { DOCKER_CONFIG: c.registries.dockerConfig ?? env['CREDENTIALS_DIRECTORY'] } : {}),
      };
      return createServices(e, { insecureRegistries: c.registries.insecure, onWarning: (m) => logger.warn({}, m), stateDir: stateDirOf(c, env) });
    },
    logger,
    hostname: hostname(),
    lock: options.lock,
  });
}

function statusRows(images: readonly ImageStatus[]): string {
  const rows = [['IMAGE', 'PLATFORM', 'STATE', 'INDEX', 'CHILD', 'LAST CHECK', 'LAST PULL', 'NEXT RUN', 'ERROR']];
  for (const i of images) {
    rows.push([i.image, i.platform ?? '-', i.held !== undefined ? 'held' : i.state, i.indexDigest?.slice(0, 19) ?? '-', i.childDigest?.slice(0, 19) ?? '-', i.lastCheck ?? '-', i.lastPull ?? '-', i.nextRun ?? '-', i.lastError ?? i.held ?? '']);
  }
  return table(rows);
}

/** Registers the commands. */
export function register(program: Command, deps: { output: Output; signals: SignalHub; setExitCode: (code: number) => void }): void {
  const configCmd = program.command('config').description('configuration file commands');
  configCmd
    .command('check')
    .description('validate a config file (exit 78 when invalid)')
    .argument('[file]', 'config file', defaultConfig)
    .action(async (file: string) => {
      const c = await loadConfig(file);
      deps.output.out(`${file}: valid (${c.images.length} image${c.images.length === 1 ? '' : 's'})`);
    });
  configCmd.exitOverride();

  program
    .command('daemon')
    .description('keep the configured tags pulled for this platform, on a schedule (for systemd)')
    .option('-c, --config <file>', 'config file', defaultConfig)
    .option('--log-level <level>', 'override logLevel')
    .action(async (opts: { config: string; logLevel?: string }) => {
      const daemon = await daemonFor(opts.config, process.env, { level: opts.logLevel, human: process.stdout.isTTY, lock: true, output: deps.output });
      await daemon.start();
      const onHup = (): void => void daemon.reload();
      process.on('SIGHUP', onHup);
      await new Promise<void>((resolve) => {
        const remove = deps.signals.push(() => {
          remove();
          void daemon.stop().then(resolve);
        });
      });
      process.off('SIGHUP', onHup);
    });

  program
    .command('check')
    .description('run one check of every configured image now and exit (for timers and scripts)')
    .option('-c, --config <file>', 'config file', defaultConfig)
    .option('--dry-run', 'report what would be pulled without pulling')
    .option('--json', 'print a JSON array')
    .action(async (opts: { config: string; dryRun?: boolean; json?: boolean }) => {
      const daemon = await daemonFor(opts.config, process.env, { level: 'warn', human: true, lock: false, output: deps.output });
      const statuses = await daemon.runOnce({ dryRun: opts.dryRun === true });
      await daemon.stop();
      deps.output.out(opts.json === true ? JSON.stringify(statuses, null, 2) : statusRows(statuses));
      if (statuses.some((s) => s.state === 'failing')) deps.setExitCode(1);
    });

  program
    .command('status')
    .description('show each tracked image: platform, digests, last check and pull, next run, held/failing')
    .option('-c, --config <file>', 'config file (to find the state folder)', defaultConfig)
    .option('--json', 'print JSON')
    .action(async (opts: { config: string; json?: boolean }) => {
      let config: Config | undefined;
      try {
        config = await loadConfig(opts.config);
      } catch {
        config = undefined;
      }
      const stateDir = stateDirOf(config, process.env);
      const { queryDaemon } = await import('../../daemon/lock.js');
      const { StateStore } = await import('../../state/state-store.js');
      const live = (await queryDaemon(stateDir)) as { pid: number; images: ImageStatus[] } | undefined;
      if (live !== undefined) {
        deps.output.out(opts.json === true ? JSON.stringify({ daemon: 'running', ...live }, null, 2) : `daemon running (pid ${live.pid})\n${statusRows(live.images)}`);
        return;
      }
      const store = new StateStore(stateDir, (m) => deps.output.err(`warning: ${m}`));
      const state = await store.load();
      const records = Object.values(state.images);
      if (opts.json === true) {
        deps.output.out(JSON.stringify({ daemon: 'not running', images: records }, null, 2));
        return;
      }
      const rows = [['IMAGE', 'PLATFORM', 'CHILD', 'INDEX', 'PULLED', 'CHECKED']];
      for (const r of records) rows.push([r.reference, r.platform, r.childDigest.slice(0, 19), r.indexDigest?.slice(0, 19) ?? '-', r.pulledAt, r.checkedAt]);
      deps.output.out(`daemon not running; recorded in ${store.path}:\n${table(rows)}`);
    });
}
