/**
 * `resolver notify test [--config FILE] [--json]`: sends a `test` notification to every configured sink, one
 * attempt each (as `diun notif test`), and reports each result; exit 1 when any sink failed, 2 when none is
 * configured. Also the notifier's composition root for the daemon: `notifyListener` is the one subscription
 * `cli/commands/daemon.ts` makes (docs/notifications.md).
 */
import type { Command } from 'commander';
import { addConfigOption, commandGroup } from '../options.js';
import type { Config } from '../../config/schema.js';
import type { DaemonEvent } from '../../daemon/events.js';
import { ResolverError } from '../../errors.js';
import type { HttpClient } from '../../http/http.js';
import type { Logger } from '../../log/logger.js';
import type { NotificationsConfig } from '../../notify/config.js';
import type { NotifierInput } from '../../notify/derive.js';
import type { Notification } from '../../notify/notification.js';
import type { Notifier } from '../../notify/notifier.js';
import type { CommandDeps, CommandProcess, ProgramDeps } from '../command-deps.js';
import { table } from '../output.js';
import { defaultConfig } from './daemon.js';

// Each daemon event the notifier reads has (at least) the shape it expects: a change in src/daemon/events.ts
// that breaks the notifier fails the typecheck here.
type Fits<T extends NotifierInput['type']> = Extract<DaemonEvent, { type: T }> extends Extract<NotifierInput, { type: T }> ? true : never;
export const _fits: [Fits<'configured'>, Fits<'checked'>, Fits<'pulled'>, Fits<'pruned'>, Fits<'held'>, Fits<'platform-back'>, Fits<'failed'>, Fits<'recovered'>, Fits<'rate-limited'>, Fits<'activated'>, Fits<'rolled-back'>] = [true, true, true, true, true, true, true, true, true, true, true];

/** One sink's answer to the test. */
export interface SinkTestResult {
  readonly sink: string;
  readonly kind: 'webhook' | 'mqtt';
  readonly target: string;
  readonly ok: boolean;
  readonly durationMs: number;
  readonly error?: string | undefined;
}

/** Dependencies of `notify test` (a part of CommandDeps: src/cli/command-deps.ts). */
export interface NotifyCommandDeps extends Pick<CommandDeps, 'output' | 'setExitCode' | 'clock'> {
  readonly process: Pick<CommandProcess, 'env' | 'hostname'>;
}

async function httpClient(env: NodeJS.ProcessEnv): Promise<HttpClient> {
  const { createHttpClient } = await import('../../http/http.js');
  return createHttpClient({ connectTimeoutMs: 5000, headersTimeoutMs: 15_000, proxyEnv: env, peer: 'receiver' });
}

/** The test notification. */
function testNotification(host: string): Notification {
  const at = new Date().toISOString();
  return { kind: 'test', id: `test-${Date.now().toString(36)}`, at, image: 'resolver/test:notification', platform: 'linux/amd64', message: `test notification from ${host}`, state: { status: 'ok', rateLimited: false } };
}

/** Sends one test notification to each sink of `notifications`; never throws for a sink's failure. */
export async function testSinks(notifications: NotificationsConfig | undefined, deps: { env: NodeJS.ProcessEnv; hostname: string; clock?: () => number }): Promise<SinkTestResult[]> {
  const clock = deps.clock ?? ((): number => performance.now());
  const [{ createWebhookSink }, { createMqttSink }, { Redactor }] = await Promise.all([import('../../notify/webhook.js'), import('../../notify/mqtt.js'), import('../../notify/secrets.js')]);
  const http = await httpClient(deps.env);
  const redactor = new Redactor();
  const n = testNotification(deps.hostname);
  const jobs: { name: string; kind: 'webhook' | 'mqtt'; make: () => ReturnType<typeof createWebhookSink> }[] = [];
  for (const [i, w] of (notifications?.webhooks ?? []).entries()) {
    const name = w.name ?? `webhook-${i + 1}`;
    jobs.push({ name, kind: 'webhook', make: () => createWebhookSink(w, name, { http, env: deps.env, redactor, host: deps.hostname }) });
  }
  const mqtt = notifications?.mqtt;
  if (mqtt !== undefined) jobs.push({ name: 'mqtt', kind: 'mqtt', make: () => createMqttSink(mqtt, { env: deps.env, redactor, host: deps.hostname }) });
  try {
    return await Promise.all(
      jobs.map(async (job): Promise<SinkTestResult> => {
        const started = clock();
        let target = '-';
        try {
          const sink = await job.make();
          target = sink.where;
          try {
            await sink.deliver(n, new AbortController().signal);
          } finally {
            await sink.close();
          }
          return { sink: job.name, kind: job.kind, target, ok: true, durationMs: Math.round(clock() - started) };
        } catch (error) {
          const message = redactor.redact(error instanceof Error ? error.message : String(error));
          return { sink: job.name, kind: job.kind, target, ok: false, durationMs: Math.round(clock() - started), error: message };
        }
      }),
    );
  } finally {
    await http.close();
  }
}

/** `resolver notify test`. @throws ResolverError ERR_USAGE when no sink is configured. */
export async function runNotifyTest(options: { config: string }, deps: NotifyCommandDeps): Promise<SinkTestResult[]> {
  const { loadConfig } = await import('../../config/load.js');
  const config = await loadConfig(options.config);
  const n = config.notifications;
  if (n === undefined || (n.webhooks.length === 0 && n.mqtt === undefined)) {
    throw new ResolverError('ERR_USAGE', `${options.config} configures no notification sink`, { details: ['add notifications.webhooks or notifications.mqtt (docs/notifications.md)'] });
  }
  return testSinks(n, { ...deps.process, clock: deps.clock });
}

/** Registers `notify test`. */
export function register(program: Command, deps: ProgramDeps): void {
  const test = commandGroup(program, 'notify', 'notification commands')
    .command('test')
    .description('send a test notification to every configured sink and report each result (exit 1 if any failed)');
  addConfigOption(test, defaultConfig)
    .option('--json', 'print a JSON array')
    .action(async (opts: { config: string; json?: boolean }) => {
      const results = await runNotifyTest({ config: opts.config }, deps);
      if (opts.json === true) deps.output.out(JSON.stringify(results, null, 2));
      else {
        const rows = [['SINK', 'KIND', 'TARGET', 'RESULT', 'TIME']];
        for (const r of results) rows.push([r.sink, r.kind, r.target, r.ok ? 'ok' : `failed: ${r.error ?? ''}`, `${r.durationMs} ms`]);
        deps.output.out(table(rows));
      }
      if (results.some((r) => !r.ok)) deps.setExitCode(1);
    });
}

/** What the daemon's notifier needs from its composition root. */
export interface NotifyListenerDeps {
  readonly configFile: string;
  readonly env: NodeJS.ProcessEnv;
  readonly hostname: string;
  readonly logger: Logger;
  readonly stateDir: (config: Config) => string;
  /** Each delivery attempt's result (the daemon counts them: resolver_notifications_total). */
  readonly onResult?: (sink: string, result: 'delivered' | 'retry' | 'dropped') => void;
}

/**
 * The daemon's subscriber: `daemon.events.on(notifyListener({...}))`. On each `configured` event it reads the
 * `notifications:` section of the config file (the daemon has just loaded the same file) and (re)configures
 * the notifier; on `stopped` it persists the outbox and closes the sinks. Without `notifications:` it does nothing.
 */
export function notifyListener(deps: NotifyListenerDeps): (event: DaemonEvent) => void {
  let notifier: Promise<Notifier | undefined> | undefined;
  let http: HttpClient | undefined;
  const log = deps.logger.child({ component: 'notify' });
  const configure = async (reload: boolean): Promise<Notifier | undefined> => {
    const [{ loadConfig }, { Notifier }] = await Promise.all([import('../../config/load.js'), import('../../notify/notifier.js')]);
    const config = await loadConfig(deps.configFile);
    const current = reload ? await notifier : undefined;
    if (current !== undefined) {
      await current.configure(config.notifications);
      return current;
    }
    if (config.notifications === undefined) return undefined;
    http = await httpClient(deps.env);
    const onResult = deps.onResult;
    const n = new Notifier({ stateDir: deps.stateDir(config), env: deps.env, logger: log, http, host: deps.hostname, ...(onResult === undefined ? {} : { onResult: (sink: string, result: 'delivered' | 'retry' | 'dropped') => onResult(sink, result) }) });
    await n.start(config.notifications);
    return n;
  };
  return (event) => {
    // Discovered entries changed (changed: 'containers'): the same config file, nothing to re-read.
    if (event.type === 'configured' && event.changed === undefined) {
      const previous = notifier;
      notifier = (previous ?? Promise.resolve(undefined))
        .then(() => configure(previous !== undefined))
        .catch((error: unknown) => {
          log.error({ err: error instanceof Error ? error.message : String(error) }, 'notifications not started');
          return previous;
        });
    }
    if (event.type === 'stopped') {
      void notifier?.then(async (n) => {
        await n?.flush(3000);
        await n?.close(3000);
        await http?.close();
      });
      return;
    }
    // In order: each event waits for the notifier (re)configured before it, then goes straight in.
    void notifier?.then((n) => n?.observe(event));
  };
}
