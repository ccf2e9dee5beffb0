/**
 * The health rule of a new container (docs/activation.md): with a HEALTHCHECK (the image's or the container's),
 * `healthy` within `healthTimeout`; without one, running for `stableFor` without a restart. Either way a restart
 * (RestartCount up, Restarting, a new StartedAt) or an exit fails at once: a crash loop is not waited out.
 * Polls inspect every 500 ms; every wait has its deadline.
 */
import type { ContainerOps } from '../engine/container-ops.js';

/** How long to wait. */
export interface HealthRule {
  readonly healthTimeoutMs: number;
  readonly stableForMs: number;
}

/** The clock seams (monotonic ms and an abortable sleep). */
export interface HealthClock {
  monotonic(): number;
  sleep(ms: number): Promise<void>;
}

/** The verdict. */
export type Health = { readonly ok: true; readonly how: string } | { readonly ok: false; readonly reason: string };

const pollMs = 500;

/** Waits for container `id` to prove healthy, or to fail. */
export async function waitHealthy(containers: ContainerOps, id: string, rule: HealthRule, clock: HealthClock): Promise<Health> {
  const first = await containers.inspectFull(id);
  if (first === undefined) return { ok: false, reason: 'the new container disappeared' };
  const test = first.Config.Healthcheck?.Test ?? [];
  const hasCheck = test.length > 0 && test[0] !== 'NONE';
  const restarts = first.RestartCount ?? 0;
  const startedAt = first.State.StartedAt;
  const limit = hasCheck ? rule.healthTimeoutMs : rule.stableForMs;
  const deadline = clock.monotonic() + limit;
  for (;;) {
    const s = await containers.inspectFull(id);
    if (s === undefined) return { ok: false, reason: 'the new container disappeared' };
    const code = s.State.ExitCode ?? 0;
    if ((s.RestartCount ?? 0) > restarts || s.State.Restarting === true || (s.State.StartedAt !== startedAt && startedAt !== undefined)) {
      return { ok: false, reason: `the new container restarted (crash loop; last exit code ${code})` };
    }
    if (!s.State.Running) return { ok: false, reason: `the new container exited with code ${code}${s.State.Error === undefined || s.State.Error === null || s.State.Error === '' ? '' : `: ${s.State.Error}`}` };
    const now = clock.monotonic();
    if (hasCheck) {
      const status = s.State.Health?.Status;
      if (status === 'healthy') return { ok: true, how: 'its HEALTHCHECK reported healthy' };
      if (status === 'unhealthy') {
        const streak = s.State.Health?.FailingStreak ?? 0;
        return { ok: false, reason: `the new container's HEALTHCHECK reported unhealthy (${streak} ${streak === 1 ? 'failure' : 'failures'} in a row)` };
      }
      if (now >= deadline) return { ok: false, reason: `the new container was not healthy within ${Math.round(limit / 1000)} s (health: ${status ?? 'none'})` };
    } else if (now >= deadline) {
      return { ok: true, how: `it ran ${Math.round(limit / 1000)} s without restarting (no HEALTHCHECK)` };
    }
    await clock.sleep(Math.max(1, Math.min(pollMs, deadline - now)));
  }
}
