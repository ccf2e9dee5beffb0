/**
 * Container activation's composition root (docs/activation.md): `activateListener` is the one subscription
 * `cli/commands/daemon.ts` makes. On the first `configured` event it reads the `activation:` section of the
 * config file (the daemon has just loaded the same file), opens its own connection to the engine, and recovers
 * the journal of an activation a killed daemon left; a reload reconfigures it; each `pulled` is handed over
 * (the listener only queues: activation runs outside the check path); `stopped` lets a running activation end
 * and closes the connection. Its `activated`/`rolled-back` events go back into the daemon's bus, so logs,
 * notifications and hooks see them as any other.
 */
import { homedir } from 'node:os';
import type { Activation, ActivationEvent } from '../activate/activation.js';
import type { Config } from '../config/schema.js';
import type { DaemonEvent } from '../daemon/events.js';
import type { ContainerOps } from '../engine/container-ops.js';
import type { Logger } from '../log/logger.js';

/** Every activation event is a daemon event (a change on either side fails the typecheck here). */
export const _activationEventsFit = (e: ActivationEvent): DaemonEvent => e;

/** What the activation subscriber needs from its composition root. */
export interface ActivateListenerDeps {
  readonly configFile: string;
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  readonly stateDir: (config: Config) => string;
  /** Where `activated` and `rolled-back` go: the daemon's bus. */
  readonly emit: (event: DaemonEvent) => void;
}

/** The daemon's activation subscriber: `daemon.events.on(activateListener({...}))`. */
export function activateListener(deps: ActivateListenerDeps): (event: DaemonEvent) => void {
  const log = deps.logger.child({ component: 'activate' });
  let service: Promise<{ activation: Activation; containers: ContainerOps } | undefined> | undefined;

  const start = async (): Promise<{ activation: Activation; containers: ContainerOps } | undefined> => {
    const [{ loadConfig }, { Activation: ActivationClass }, { ActivationStore }, { resolveEngineEndpoint }, { createEngineProbe }, { createDockerodeContainerOps }] = await Promise.all([
      import('../config/load.js'), import('../activate/activation.js'), import('../activate/journal.js'),
      import('../engine/docker-host.js'), import('../engine/engine-probe.js'), import('../engine/dockerode-container-ops.js'),
    ]);
    const config = await loadConfig(deps.configFile);
    const env = { ...deps.env, ...(config.engine.host === undefined ? {} : { DOCKER_HOST: config.engine.host }) };
    const endpoint = resolveEngineEndpoint({ env, homeDir: homedir() }, { onWarning: (m) => log.warn({}, m) });
    const containers = await createDockerodeContainerOps(endpoint, createEngineProbe(endpoint));
    const store = new ActivationStore(deps.stateDir(config), (m) => log.warn({}, m));
    const activation = new ActivationClass(config.activation, { containers, store, emit: deps.emit, log });
    await activation.recover();
    return { activation, containers };
  };

  return (event) => {
    // eslint-disable-next-line @typescript-eslint/switch-exhaustiveness-check -- reads four events, ignores the rest
    switch (event.type) {
      case 'configured': {
        if (service === undefined) {
          service = start().catch((error: unknown) => {
            log.error({ err: error instanceof Error ? error.message : String(error) }, 'activation not started');
            service = undefined;
            return undefined;
          });
          return;
        }
        void service.then(async (s) => {
          if (s === undefined) return;
          const { loadConfig } = await import('../config/load.js');
          s.activation.configure((await loadConfig(deps.configFile)).activation);
        }).catch((error: unknown) => log.error({ err: error instanceof Error ? error.message : String(error) }, 'activation config not reloaded'));
        return;
      }
      case 'pulled':
        void service?.then((s) => s?.activation.pulled(event));
        return;
      case 'clock-jumped':
        // A waiting window may have opened (or moved): look now, not at the next minute's look.
        void service?.then((s) => s?.activation.clockJumped());
        return;
      case 'stopped':
        void service?.then(async (s) => {
          await s?.activation.close();
          await s?.containers.close();
        });
        return;
      default:
        return;
    }
  };
}
