/**
 * A daemon on fakes for unit tests: FakeEngine, FakeRegistry, a real StateStore in a temp folder, the
 * config from YAML text (through the real parser), a pino logger into an array, and the clock seams.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { Daemon, type DaemonDeps, type DaemonServices } from '../../src/daemon/daemon.js';
import { createLogger } from '../../src/log/logger.js';
import { detectTarget, type TargetPlatform } from '../../src/platform/detect.js';
import { formatPlatformAll } from '../../src/platform/platform.js';
import { StateStore } from '../../src/state/state-store.js';
import { FakeEngine } from './fake-engine.js';
import { FakeRegistry } from './fake-registry.js';

/** The target a fake x86-64 host with `engine` detects, or `platform` when given. */
export function targetFor(engine: FakeEngine, platform?: string): Promise<TargetPlatform> {
  return detectTarget({
    engine: engine.factsValue,
    facts: { cpuinfo: () => Promise.resolve(''), unameMachine: () => Promise.resolve('x86_64'), cpuFlags: () => Promise.resolve([]) },
    processArch: 'x64', processPlatform: 'linux',
    override: platform === undefined ? undefined : { spec: platform, source: 'config' },
  });
}

/** The platform text (`linux/amd64/v1`) the fake host detects, as status, state and metrics show it. */
export async function hostPlatform(): Promise<string> {
  return formatPlatformAll((await targetFor(new FakeEngine())).platform);
}

/** Services of one config generation, with what the test wants to see. */
export interface RigServices extends DaemonServices {
  closed: boolean;
}

/** The rig. */
export interface Rig {
  readonly daemon: Daemon;
  readonly engine: FakeEngine;
  readonly registry: FakeRegistry;
  readonly dir: string;
  /** Every generation of services the daemon asked for, oldest first. */
  readonly generations: RigServices[];
  /** Log lines as objects. */
  readonly logs: Record<string, unknown>[];
  /** Replaces the config text the next load/reload reads. */
  setConfig(yaml: string): void;
}

/** Builds a daemon over fakes. `yaml` is the config; `stateDir` is filled in. `from`: a restart, on that rig's folder, engine and registry. */
export function rig(yaml: string, extra: Partial<DaemonDeps> = {}, share: { readonly from?: Rig } = {}): Rig {
  const dir = share.from?.dir ?? mkdtempSync(join(tmpdir(), 'daemon-unit-'));
  const engine = share.from?.engine ?? new FakeEngine();
  const registry = share.from?.registry ?? new FakeRegistry();
  const generations: RigServices[] = [];
  const logs: Record<string, unknown>[] = [];
  let text = yaml;
  const logger = createLogger({ level: 'debug', human: false, write: (line) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const state = new StateStore(join(dir, 'state'), () => undefined);
  const services = (_config: Config): RigServices => {
    const s: RigServices = {
      closed: false,
      registry: registry.asClient(),
      credentials: { get: () => Promise.resolve(undefined) },
      state,
      engine: () => (engine.down === undefined ? Promise.resolve(engine) : Promise.reject(engine.down)),
      target: ({ platform }) => targetFor(engine, platform),
      close: () => {
        s.closed = true;
        return Promise.resolve();
      },
    };
    generations.push(s);
    return s;
  };
  // Parsing is pure and costs ~8 ms; a reload of unchanged text reuses it (a fresh object each time, as a load gives).
  let parsed: { text: string; config: Config } | undefined;
  const load = (): Config => {
    if (parsed?.text !== text) parsed = { text, config: parseConfig(text.replace('STATE', join(dir, 'state')), 'rig.yaml') };
    return structuredClone(parsed.config);
  };
  const daemon = new Daemon({
    loadConfig: () => Promise.resolve(load()),
    services,
    stateDir: (c) => c.stateDir ?? join(dir, 'state'),
    logger,
    hostname: 'unit-host',
    monotonic: () => Date.now(),
    random: () => 0.5,
    lock: false,
    ...extra,
  });
  return { daemon, engine, registry, dir, generations, logs, setConfig: (t) => (text = t) };
}
