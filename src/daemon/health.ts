/**
 * The daemon's probes (docs/daemon.md, Health): liveness (/healthz) is the scheduler's watchdog and not
 * stopping; readiness (/readyz) is a config loaded, an engine that answers and not every entry failing. The
 * engine probe is one small request with a 2 s deadline, its answer kept 5 s on monotonic time, so a prober
 * that asks every second costs the engine one request per 5 s; a new config generation probes again.
 */
import type { Probe } from '../api/server.js';
import { withDeadline } from '../limit/deadline.js';
import type { DaemonServices } from './generation.js';
import type { StatusState } from './status.js';

/** What the probes read. */
export interface HealthDeps {
  readonly stopping: () => boolean;
  /** The scheduler's watchdog ticked lately (`Scheduler.alive`). */
  readonly alive: () => boolean;
  /** The config generation in force; undefined: no config loaded. */
  readonly generation: () => { readonly services: Pick<DaemonServices, 'engine'> } | undefined;
  readonly status: () => StatusState;
  readonly monotonic: () => number;
}

/** How long one engine answer is kept. */
export const engineProbeTtlMs = 5000;

/** Liveness and readiness. */
export class Health {
  readonly #deps: HealthDeps;
  #engineProbe: { at: number; result: Promise<string | undefined> } | undefined;

  constructor(deps: HealthDeps) {
    this.#deps = deps;
  }

  /** A new config generation (maybe another engine): the next readiness probe asks the engine again. */
  forget(): void {
    this.#engineProbe = undefined;
  }

  #counts(): { images: number; failing: number; held: number } {
    const all = [...this.#deps.status().values()];
    return { images: all.length, failing: all.filter((s) => s.state === 'failing').length, held: all.filter((s) => s.state === 'held').length };
  }

  /** Liveness (/healthz): the scheduler's watchdog ticks. */
  live(): Probe {
    const ok = !this.#deps.stopping() && this.#deps.alive();
    return { ok, detail: { status: ok ? 'ok' : 'not live', ...this.#counts() } };
  }

  /** Readiness (/readyz): config loaded, engine reachable, and not every entry failing. */
  async ready(): Promise<Probe> {
    const counts = this.#counts();
    const gen = this.#deps.generation();
    const engine = gen === undefined ? 'no config loaded' : await this.#probeEngine(gen.services);
    const allFailing = counts.images > 0 && counts.failing === counts.images;
    const stopping = this.#deps.stopping();
    const ok = gen !== undefined && engine === undefined && !allFailing && !stopping;
    const reason = gen === undefined ? 'no config loaded' : engine !== undefined ? `engine unreachable: ${engine}` : allFailing ? 'the last check of every image failed' : stopping ? 'stopping' : undefined;
    return { ok, detail: { status: ok ? 'ready' : 'not ready', ...(reason === undefined ? {} : { reason }), ...counts } };
  }

  /** undefined when the engine answers (a 2 s request, its result kept 5 s), else why not. */
  #probeEngine(services: Pick<DaemonServices, 'engine'>): Promise<string | undefined> {
    const now = this.#deps.monotonic();
    if (this.#engineProbe !== undefined && now - this.#engineProbe.at < engineProbeTtlMs) return this.#engineProbe.result;
    // An image that cannot exist: a 404 proves the engine answers, at the cost of one small request.
    const result = withDeadline(async (signal) => {
      const engine = await services.engine(signal);
      await engine.inspectImage(`sha256:${'0'.repeat(64)}`);
    }, 2000, { what: 'the engine', code: 'ERR_ENGINE_UNAVAILABLE', message: 'no answer within 2 s' }).then(
      () => undefined,
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
    this.#engineProbe = { at: now, result };
    return result;
  }
}
