/**
 * The composition root for CLI commands: builds the HTTP client, credential store, token cache,
 * registry client and engine probe from the environment. Nothing else constructs IO objects.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { RegistryBudget } from '../budget/budget.js';
import { ResolverError } from '../errors.js';
import { PromiseMemo } from '../memo/promise-memo.js';
import { resolveEngineEndpoint } from '../engine/docker-host.js';
import { createEngineProbe } from '../engine/engine-probe.js';
import type { EngineFacts } from '../platform/engine-facts.js';
import { createHttpClient } from '../http/http.js';
import { detectTarget, hostFacts, type TargetPlatform } from '../platform/detect.js';
import { TokenCache } from '../registry/auth.js';
import { RegistryClient } from '../registry/client.js';
import { dockerCredentialStore, spawnHelper, type CredentialStore } from '../registry/credentials.js';
import type { Engine } from '../engine/engine.js';
import { preflightFromEnv, type PreflightSettings } from '../preflight/config.js';
import { createDiskPreflight, type DiskPreflight } from '../preflight/preflight.js';
import { defaultStateDir, StateStore } from '../state/state-store.js';
import { mirrorSources, type MirrorsConfig } from '../mirror/config.js';
import { mirrorTable } from '../mirror/read.js';
import { enginePullRepositories, namespaceOf } from '../mirror/hosts.js';
import { repositoryOf } from '../reference/repository.js';
import type { Reference } from '../reference/reference.js';
import type { MirrorAnswer } from '../registry/client.js';
import type { PrefetchSettings } from '../prefetch/config.js';
import { createPrefetch, type Prefetch } from '../prefetch/prefetch.js';
import { sleep } from '../limit/abort.js';

/** Options shared by commands that resolve. */
export interface TargetOptions {
  readonly platform?: string | undefined;
  readonly store?: 'containerd' | 'classic' | undefined;
  readonly engineVersion?: string | undefined;
  /**
   * Fail (exit 9) when the engine was named explicitly (--host, DOCKER_HOST, --context, DOCKER_CONTEXT,
   * currentContext) and cannot be reached, unless the platform is given: an answer for this machine instead
   * of that engine's would be wrong. Only the default socket missing falls back to this host, with a warning.
   */
  readonly needsNamedEngine?: boolean | undefined;
}

/** Everything a resolving command needs. */
export interface Services {
  readonly registry: RegistryClient;
  readonly tokens: TokenCache;
  readonly credentials: CredentialStore;
  readonly state: StateStore;
  /** The disk preflight before pulls (the daemon's `preflight:`, else RESOLVER_PREFLIGHT*). */
  readonly preflight: DiskPreflight;
  /** The Docker Engine: its client on the undici stack (loaded on first use). */
  engine(signal?: AbortSignal): Promise<Engine>;
  target(options: TargetOptions, signal?: AbortSignal): Promise<TargetPlatform>;
  /** The resolver-side prefetch (the daemon's `prefetch:`, docs/prefetch.md); undefined: off. */
  readonly prefetch?: Prefetch | undefined;
  /** Mirror repositories the engine should pull `ref`'s child from first (docs/mirrors.md). */
  pullSources(ref: Reference, store: 'classic' | 'containerd'): Promise<readonly string[]>;
  close(): Promise<void>;
}

/** What a command asks of its services: registries to treat as insecure, and the global engine options. */
export interface ServiceOptions {
  readonly insecureRegistries: readonly string[];
  /** `--host`/`-H` (docker's). */
  readonly engineHost?: string | undefined;
  /** `--context` (docker's). */
  readonly engineContext?: string | undefined;
  /** resolver.yaml `mirrors:` (the daemon); default: the engine's own files (docs/mirrors.md). */
  readonly mirrors?: MirrorsConfig | undefined;
  /** Hears which host answered each read of a registry that has mirrors. */
  readonly onMirrorAnswer?: ((answer: MirrorAnswer) => void) | undefined;
  /** The daemon's request budget, shared across config generations (docs/budget.md). */
  readonly budget?: RegistryBudget | undefined;
}

/**
 * Builds services from an environment. The engine endpoint is resolved here, as the docker CLI does
 * at start-up, so an unknown context or an invalid host fails every command (src/engine/docker-host.ts).
 */
export function createServices(env: NodeJS.ProcessEnv, options: ServiceOptions & { onWarning: (m: string) => void; root?: string; stateDir?: string | undefined; preflight?: PreflightSettings | undefined; prefetch?: PrefetchSettings | undefined; onPrefetchPaused?: ((m: string) => void) | undefined }): Services {
  const endpoint = resolveEngineEndpoint({ env, homeDir: homedir(), host: options.engineHost, context: options.engineContext }, { onWarning: options.onWarning });
  const http = createHttpClient({ proxyEnv: env, userAgent: 'resolver/0.1' });
  // Monotonic milliseconds without `performance` (its first use loads perf_hooks: ~2 ms a one-shot start does not need).
  const clock = (): number => Number(process.hrtime.bigint()) / 1e6;
  const tokens = new TokenCache(http, clock);
  const credentials = dockerCredentialStore({
    configDir: env['DOCKER_CONFIG'] ?? join(homedir(), '.docker'),
    envAuthConfig: env['DOCKER_AUTH_CONFIG'],
    runHelper: spawnHelper({ env }),
  });
  // The engine's mirror files, or the folders RESOLVER_HOSTS_DIRS names (':'-separated; empty: none) and
  // RESOLVER_DOCKER_DAEMON_JSON; the config's `mirrors:` wins over both.
  const envDirs = env['RESOLVER_HOSTS_DIRS'];
  const envDaemon = env['RESOLVER_DOCKER_DAEMON_JSON'];
  const sources = mirrorSources({
    ...(envDirs === undefined ? {} : { hostsDirs: envDirs.split(':').filter((d) => d !== '') }),
    ...(envDaemon === undefined ? {} : { daemonConfig: envDaemon === '' ? false : envDaemon }),
    ...options.mirrors,
  });
  const mirrors = mirrorTable(sources, options.onWarning);
  const registry = new RegistryClient({
    http, tokens, credentials, clock, insecureRegistries: options.insecureRegistries, onWarning: options.onWarning,
    mirrors, budget: options.budget,
    onMirrorSkip: (s) => options.onWarning(`mirror ${s.host} skipped for ${s.what}: ${s.reason}; trying the next host`),
    ...(options.onMirrorAnswer === undefined ? {} : { onMirrorAnswer: options.onMirrorAnswer }),
  });
  const probe = createEngineProbe(endpoint);
  const stateDir = options.stateDir ?? defaultStateDir(env, homedir(), process.getuid?.() === 0);
  const state = new StateStore(stateDir, options.onWarning);
  const prefetch = options.prefetch?.enabled === true
    ? createPrefetch({ reader: registry, dir: join(stateDir, 'prefetch'), rateBytesPerSecond: options.prefetch.rateBytesPerSecond, port: options.prefetch.port, attempts: options.prefetch.attempts, now: clock, sleep, onPaused: options.onPrefetchPaused })
    : undefined;
  const engine = new PromiseMemo<'engine', Engine>();
  let settings = options.preflight;
  if (settings === undefined) {
    const fromEnv = preflightFromEnv(env);
    if (fromEnv.problem !== undefined) options.onWarning(fromEnv.problem);
    settings = fromEnv.settings;
  }
  return {
    registry,
    tokens,
    credentials,
    state,
    preflight: createDiskPreflight(settings),
    prefetch,
    engine(signal) {
      return engine.get('engine', async () => {
        const { createHttpEngine } = await import('../engine/http-engine.js');
        return createHttpEngine(endpoint, probe, signal);
      });
    },
    async target(o, signal) {
      let engine: EngineFacts | undefined;
      let engineError: string | undefined;
      // docker: an empty --platform is no platform (the host's), also over DOCKER_DEFAULT_PLATFORM.
      const spec = o.platform === '' ? undefined : (o.platform ?? (env['DOCKER_DEFAULT_PLATFORM'] === '' ? undefined : env['DOCKER_DEFAULT_PLATFORM']));
      try {
        engine = await probe.facts(signal);
      } catch (error) {
        if (!(error instanceof ResolverError)) throw error;
        if (o.needsNamedEngine === true && spec === undefined && endpoint.source !== 'default socket' && error.code === 'ERR_ENGINE_UNAVAILABLE') {
          throw new ResolverError('ERR_ENGINE_UNAVAILABLE', error.message, {
            cause: error,
            details: [...error.details, 'or pass --platform (or DOCKER_DEFAULT_PLATFORM) to answer without the engine'],
          });
        }
        engineError = error.message;
      }
      const source = o.platform !== undefined ? '--platform' : 'DOCKER_DEFAULT_PLATFORM';
      return detectTarget({
        engine, engineError, facts: hostFacts(options.root ?? env['RESOLVER_HOST_ROOT'] ?? '/'),
        processArch: process.arch, processPlatform: process.platform,
        override: spec === undefined ? undefined : { spec, source },
        rulesOverride: { store: o.store, engineVersion: o.engineVersion },
      });
    },
    async pullSources(ref, store) {
      const repo = repositoryOf(ref);
      return enginePullRepositories(await mirrors.hostsFor(namespaceOf(repo.host)), store, repo.path);
    },
    async close() {
      await Promise.all([http.close(), probe.close()]);
    },
  };
}
