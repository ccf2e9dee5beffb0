/**
 * Containers follow their tag (issue 11 §3, docs/activation.md). The daemon's `pulled` event (a new child for
 * THIS platform, pulled, tagged, verified: an index rebuilt for other architectures emits none) selects the
 * containers that opted in (label `resolver.follow=true`, or by name in `activation.containers`) and run that
 * tag; each is recreated from the new child inside its window (or at once) with the same configuration
 * (container-spec.ts), gated by the health rule (health.ts), and rolled back when it fails:
 *
 *   begin → rename old to NAME-resolver-old → create NAME from the new child → stop old (its stop timeout;
 *   restart policy set to `no` so dockerd cannot bring it back) → start new → healthy? remove old : roll back
 *   (remove new, rename old back, restore its policy, start it, mark the child bad, `rolled-back`).
 *
 * The old container is kept, stopped and renamed, until the new one is healthy: at no point is there neither
 * (the Watchtower #1385 failure). Every step is journalled durably before it is taken (journal.ts); at start,
 * `recover` finishes an activation that was judged healthy and undoes any other, then tries it again once.
 * Activations run one at a time, outside the check path: a listener only queues.
 */
import type { ContainerInspect } from '../engine/container-spec.js';
import { recreateSpec } from '../engine/container-spec.js';
import type { ContainerOps, RestartPolicy } from '../engine/container-ops.js';
import { familiarName, formatReference, parseReference, withDefaultTag, type Reference } from '../reference/reference.js';
import type { ActivationConfig } from './config.js';
import { waitHealthy, type HealthClock } from './health.js';
import type { ActivationStore, JournalEntry, Step } from './journal.js';
import { inWindow, msUntilOpen, parseWindow, type Window } from './window.js';

/** Labels a container opts in with. */
export const followLabel = 'resolver.follow';
export const windowLabel = 'resolver.window';
/** Compose's label: such containers are skipped (docs/activation.md "Compose"). */
export const composeProjectLabel = 'com.docker.compose.project';
export const composeServiceLabel = 'com.docker.compose.service';
/** The name the old container has while the new one proves itself. */
export const oldSuffix = '-resolver-old';

/** Which daemon entry an event is about (the daemon's EntryRef). */
export interface EntryRefInput {
  readonly key: string;
  readonly image: string;
  readonly platform: string;
}

/** The daemon's `pulled` event, as read here (a structural subset of src/daemon/events.ts). */
export interface PulledInput {
  readonly type: 'pulled';
  readonly entry: EntryRefInput;
  readonly childDigest: string;
  readonly previous: string | undefined;
}

/** What activation tells the daemon (added to DaemonEvent, delivered to notifications and logs). */
export type ActivationEvent =
  | { readonly type: 'activated'; readonly entry: EntryRefInput; readonly container: string; readonly childDigest: string; readonly previous: string | undefined; readonly at: string }
  | { readonly type: 'rolled-back'; readonly entry: EntryRefInput; readonly container: string; readonly childDigest: string; readonly badDigest: string; readonly message: string; readonly at: string };

/** The logger seam (pino's shape). */
export interface ActivationLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
  debug(fields: Record<string, unknown>, message: string): void;
}

/** The seams: the engine's containers, the journal, the clocks, timers, and where events go. */
export interface ActivationDeps {
  readonly containers: ContainerOps;
  readonly store: ActivationStore;
  readonly emit: (event: ActivationEvent) => void;
  readonly log: ActivationLog;
  /** Wall clock (windows are local time). */
  readonly now?: () => Date;
  readonly clock?: HealthClock;
  readonly setTimer?: (fn: () => void, ms: number) => { cancel(): void };
}

/** One container to move to one child. */
interface Target {
  readonly name: string;
  readonly entry: EntryRefInput;
  readonly image: string;
  readonly newDigest: string;
  readonly previous: string | undefined;
  readonly attempts: number;
}

const realClock: HealthClock = {
  monotonic: () => performance.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

function canonical(text: string): string | undefined {
  try {
    const ref = parseReference(text);
    return ref.digest === undefined ? formatReference(withDefaultTag(ref)) : undefined;
  } catch {
    return undefined;
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The longest a window timer sleeps before it looks at the clock again (wall-clock jumps, DST). */
const windowRecheckMs = 60_000;

/** The activation service: `pulled` in, recreated containers and `activated`/`rolled-back` out. */
export class Activation {
  #config: ActivationConfig;
  readonly #deps: ActivationDeps;
  readonly #now: () => Date;
  readonly #clock: HealthClock;
  readonly #setTimer: (fn: () => void, ms: number) => { cancel(): void };
  #chain: Promise<void> = Promise.resolve();
  /** Targets waiting for their window, per container name (a newer child replaces an older one). */
  readonly #waiting = new Map<string, { target: Target; window: Window; timer: { cancel(): void } }>();
  #closed = false;

  constructor(config: ActivationConfig, deps: ActivationDeps) {
    this.#config = config;
    this.#deps = deps;
    this.#now = deps.now ?? (() => new Date());
    this.#clock = deps.clock ?? realClock;
    this.#setTimer = deps.setTimer ?? ((fn, ms) => {
      const t = setTimeout(fn, ms);
      t.unref();
      return { cancel: () => clearTimeout(t) };
    });
  }

  /** A reloaded config applies to the next selection (waiting targets keep the window they had). */
  configure(config: ActivationConfig): void {
    this.#config = config;
  }

  /** Resolves when every queued activation is done (tests, shutdown). */
  idle(): Promise<void> {
    return this.#chain;
  }

  /** Cancels waiting targets; an activation in progress runs to its end (its steps are journalled). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#waiting.values()) w.timer.cancel();
    this.#waiting.clear();
    await this.#chain;
  }

  /** Queues `job` after every earlier one; a failure is logged, never thrown to the caller. */
  #enqueue(what: string, job: () => Promise<void>): Promise<void> {
    const run = this.#chain.then(job).catch((error: unknown) => this.#deps.log.error({ err: message(error) }, `activation: ${what} failed`));
    this.#chain = run;
    return run;
  }

  /** The daemon pulled a new child for this platform: select the containers that follow that tag. */
  pulled(event: PulledInput): Promise<void> {
    if (!this.#config.enabled || this.#closed) return Promise.resolve();
    return this.#enqueue(`selecting containers for ${event.entry.image}`, () => this.#select(event));
  }

  async #select(event: PulledInput): Promise<void> {
    const image = canonical(event.entry.image);
    if (image === undefined) return;
    const f = await this.#deps.store.load();
    const bad = f.bad[image];
    if (bad !== undefined && bad.digest !== event.childDigest) await this.#deps.store.clearBad(image);
    const byName = new Map(this.#config.containers.map((c) => (typeof c === 'string' ? [c, undefined] : [c.name, c.window] as const)));
    const list = await this.#deps.containers.listContainers();
    for (const c of list) {
      const opted = c.labels[followLabel] === 'true' || byName.has(c.name);
      if (!opted || c.name.endsWith(oldSuffix)) continue;
      // The listing shows an image ID once the tag moved to another image: the inspect keeps what it was created with.
      const inspect = await this.#deps.containers.inspectFull(c.id);
      if (inspect === undefined || canonical(inspect.Config.Image ?? '') !== image) continue;
      const name = c.name;
      if (c.labels[composeProjectLabel] !== undefined) {
        this.#deps.log.warn({ container: name, image, service: c.labels[composeServiceLabel], project: c.labels[composeProjectLabel] }, 'activation: skipping a compose-managed container (compose owns its definition); run `docker compose up -d SERVICE` from a pulled hook instead (docs/activation.md)');
        continue;
      }
      if (!inspect.State.Running) {
        this.#deps.log.info({ container: name, image, state: inspect.State.Status }, 'activation: skipping a container that is not running');
        continue;
      }
      if (bad?.digest === event.childDigest) {
        this.#deps.log.warn({ container: name, image, child: event.childDigest, reason: bad.reason }, 'activation: not activating a child marked bad on this host (it failed its health check); waiting for the tag to move on');
        continue;
      }
      const windowText = c.labels[windowLabel] ?? byName.get(name) ?? this.#config.window;
      const window = windowText === undefined ? undefined : parseWindow(windowText);
      if (typeof window === 'string') {
        this.#deps.log.warn({ container: name, label: windowLabel, problem: window }, 'activation: skipping a container whose window label is not a window');
        continue;
      }
      const target: Target = { name, entry: event.entry, image, newDigest: event.childDigest, previous: event.previous, attempts: 1 };
      await this.#schedule(target, window);
    }
  }

  /**
   * Runs `target` now if its window is open, else when it opens. A waiting target is kept in activation.json
   * (before this resolves), so a restart before the window resumes it (`recover`); it is forgotten when its
   * activation has run (or found nothing to do).
   */
  async #schedule(target: Target, window: Window | undefined, since?: string): Promise<void> {
    const pending = this.#waiting.get(target.name);
    pending?.timer.cancel();
    this.#waiting.delete(target.name);
    if (window === undefined || inWindow(window, this.#now())) {
      // An older child that waited for this container is superseded (this one's entry goes when it has run).
      const stale = (await this.#deps.store.load()).pending[target.name];
      if (stale !== undefined && stale.newDigest !== target.newDigest) await this.#deps.store.clearPending(target.name, stale.newDigest);
      void this.#enqueue(`activating ${target.name}`, () => this.#activate(target));
      return;
    }
    const wait = msUntilOpen(window, this.#now());
    this.#deps.log.info({ container: target.name, image: target.image, child: target.newDigest, window: window.text, inMinutes: Math.ceil(wait / 60_000) }, 'activation: waiting for the container\'s window');
    await this.#deps.store.setPending({
      name: target.name, image: target.image, entryKey: target.entry.key, platform: target.entry.platform, newDigest: target.newDigest,
      ...(target.previous === undefined ? {} : { previous: target.previous }), attempts: target.attempts, window: window.text,
      since: since ?? this.#now().toISOString(),
    });
    this.#arm(target, window);
  }

  /** Looks at the clock when the window should open (at least once a minute); runs the target once it is open. */
  #arm(target: Target, window: Window): void {
    const timer = this.#setTimer(() => {
      if (this.#closed || this.#waiting.get(target.name)?.target !== target) return;
      if (inWindow(window, this.#now())) {
        this.#waiting.delete(target.name);
        void this.#enqueue(`activating ${target.name}`, () => this.#activate(target));
      } else this.#arm(target, window);
    }, Math.max(1000, Math.min(windowRecheckMs, msUntilOpen(window, this.#now()))));
    this.#waiting.set(target.name, { target, window, timer });
  }

  /** The wall clock jumped (the daemon's `clock-jumped`): look at every waiting window again now, not in a minute. */
  clockJumped(): void {
    if (this.#closed) return;
    for (const { target, window, timer } of [...this.#waiting.values()]) {
      timer.cancel();
      this.#arm(target, window);
    }
  }

  /** Containers waiting for a window (status, tests). */
  waiting(): readonly string[] {
    return [...this.#waiting.keys()];
  }

  async #activate(target: Target): Promise<void> {
    try {
      await this.#activateNow(target);
    } finally {
      // Ran, or found nothing to do: no longer waiting (a newer child that replaced it keeps its own entry).
      await this.#deps.store.clearPending(target.name, target.newDigest);
    }
  }

  async #activateNow(target: Target): Promise<void> {
    const { containers, store, log } = this.#deps;
    const { name } = target;
    const old = await containers.inspectFull(name);
    if (!old?.State.Running) {
      log.info({ container: name }, 'activation: the container is gone or stopped; nothing to do');
      return;
    }
    if (canonical(old.Config.Image ?? '') !== target.image) return;
    const ref = parseReference(target.image);
    const byDigest = `${familiarName(ref)}@${target.newDigest}`;
    const fresh = await containers.inspectImageConfig(byDigest);
    const tagged = await containers.inspectImageConfig(old.Config.Image ?? target.image);
    if (fresh === undefined) {
      log.warn({ container: name, child: target.newDigest }, 'activation: the new child is not on the engine (pruned or removed); skipping');
      return;
    }
    // This platform's child owns the tag; an entry for another platform keeps its child by digest only.
    if (tagged?.Id !== fresh.Id) {
      log.debug({ container: name, child: target.newDigest }, 'activation: the tag does not point at this child on this host (another platform\'s entry); nothing to do');
      return;
    }
    if (old.Image === fresh.Id) {
      log.debug({ container: name, child: target.newDigest }, 'activation: the container already runs this child');
      return;
    }
    if ((await containers.inspectFull(`${name}${oldSuffix}`)) !== undefined) {
      log.error({ container: name, leftover: `${name}${oldSuffix}` }, 'activation: a container named NAME-resolver-old exists already (left by an earlier run?); remove it to let this container follow its tag');
      return;
    }
    const oldImage = await containers.inspectImageConfig(old.Image);
    const spec = recreateSpec(old, oldImage, old.Config.Image ?? target.image);
    const policy = restartPolicyOf(old);
    let entry: JournalEntry = {
      name, image: target.image, entryKey: target.entry.key, platform: target.entry.platform,
      oldId: old.Id, oldImageId: old.Image, oldDigest: digestOf(oldImage?.RepoDigests, ref) ?? target.previous,
      restartPolicy: policy, newDigest: target.newDigest, newImageId: fresh.Id,
      step: 'begin', attempts: target.attempts, at: this.#now().toISOString(),
    };
    const step = async (s: Step, extra: Partial<JournalEntry> = {}): Promise<void> => {
      entry = { ...entry, ...extra, step: s, at: this.#now().toISOString() };
      await store.record(entry);
    };
    log.info({ container: name, image: target.image, from: entry.oldDigest, to: target.newDigest }, 'activation: recreating the container from the new child');
    await step('begin');
    try {
      await step('renamed');
      await containers.renameContainer(old.Id, `${name}${oldSuffix}`);
      const newId = await containers.createContainer(name, spec.body);
      await step('created', { newId });
      for (const n of spec.networks) await containers.connectNetwork(n.name, newId, n.endpoint);
      const created = await containers.inspectFull(newId);
      if (created?.Image !== fresh.Id) throw new Error(`the tag moved while the container was created (it got image ${created?.Image.slice(0, 19) ?? '?'}, not ${fresh.Id.slice(0, 19)})`);
      await step('old-stopped');
      await containers.updateRestartPolicy(old.Id, { Name: 'no' });
      await containers.stopContainer(old.Id, stopTimeoutOf(old, this.#config.stopTimeout));
      await step('started');
      try {
        await containers.startContainer(newId);
      } catch (error) {
        await this.#rollBack(entry, `the new container did not start: ${message(error)}`, true);
        return;
      }
      const health = await waitHealthy(containers, newId, { healthTimeoutMs: this.#config.healthTimeout, stableForMs: this.#config.stableFor }, this.#clock);
      if (!health.ok) {
        await this.#rollBack(entry, health.reason, true);
        return;
      }
      await step('healthy');
      await this.#finish(entry);
      log.info({ container: name, image: target.image, child: target.newDigest, how: health.how }, 'activation: the new container is healthy; the old one is removed');
    } catch (error) {
      // A start the engine refused is the new child's failure (above); anything else (the engine, the tag moving)
      // is undone without blaming the child.
      await this.#rollBack(entry, message(error), false);
    }
  }

  /** The new container is healthy: remove the old one, forget the journal entry, say `activated`. */
  async #finish(entry: JournalEntry): Promise<void> {
    await this.#deps.containers.removeContainer(entry.oldId);
    await this.#deps.store.finish(entry.name);
    this.#deps.emit({ type: 'activated', entry: { key: entry.entryKey, image: entry.image, platform: entry.platform }, container: entry.name, childDigest: entry.newDigest, previous: entry.oldDigest, at: this.#now().toISOString() });
  }

  /**
   * Back to the old container: remove the new one (by ID, or the container holding the name that is not the old
   * one), give the old its name and restart policy back, start it. With `blame`, the child is marked bad and
   * `rolled-back` is emitted. Idempotent: recovery runs it again after a crash.
   */
  async #rollBack(entry: JournalEntry, reason: string, blame: boolean): Promise<void> {
    const { containers, store, log } = this.#deps;
    const current: JournalEntry = { ...entry, step: 'rolling-back', blame, reason, at: this.#now().toISOString() };
    await store.record(current);
    if (current.newId !== undefined) await containers.removeContainer(current.newId);
    const holder = await containers.inspectFull(current.name);
    if (holder !== undefined && holder.Id !== current.oldId) await containers.removeContainer(holder.Id);
    const old = await containers.inspectFull(current.oldId);
    if (old === undefined) {
      await store.finish(current.name);
      log.error({ container: current.name, oldId: current.oldId.slice(0, 12) }, 'activation: the old container is gone (removed by someone else?); nothing to roll back to');
      return;
    }
    if (old.Name.replace(/^\//, '') !== current.name) await containers.renameContainer(current.oldId, current.name);
    await containers.updateRestartPolicy(current.oldId, current.restartPolicy);
    await containers.startContainer(current.oldId);
    if (blame) await store.markBad(current.image, { digest: current.newDigest, container: current.name, reason, at: this.#now().toISOString() });
    await store.finish(current.name);
    const ref: EntryRefInput = { key: current.entryKey, image: current.image, platform: current.platform };
    if (blame) {
      log.warn({ container: current.name, image: current.image, bad: current.newDigest, back: current.oldDigest, reason }, 'activation: rolled back to the old container; the new child is marked bad on this host');
      this.#deps.emit({ type: 'rolled-back', entry: ref, container: current.name, childDigest: current.oldDigest ?? current.oldImageId, badDigest: current.newDigest, message: reason, at: this.#now().toISOString() });
    } else {
      log.error({ container: current.name, image: current.image, child: current.newDigest, reason }, 'activation: undone (not the new child\'s fault: see reason); the old container runs again');
    }
  }

  /**
   * After a crash: finish each journalled activation that was judged healthy, undo any other (the old container
   * back under its name, running), then try that child once more. Afterwards exactly one container of each
   * name runs, on a known child (the old one, or the new one that passed its health check).
   */
  recover(): Promise<void> {
    return this.#enqueue('recovering the activation journal', async () => {
      const f = await this.#deps.store.load();
      for (const entry of Object.values(f.journal)) {
        this.#deps.log.warn({ container: entry.name, step: entry.step, child: entry.newDigest }, 'activation: an activation was interrupted (daemon killed?); recovering');
        if (entry.step === 'healthy') {
          const current = await this.#deps.containers.inspectFull(entry.name);
          if (current !== undefined && current.Id !== entry.oldId) {
            if (!current.State.Running) await this.#deps.containers.startContainer(current.Id);
            await this.#finish(entry);
            continue;
          }
        }
        // A rollback that was under way for a failed health check goes on as one (the child stays bad).
        const judged = entry.step === 'rolling-back' && entry.blame === true;
        await this.#rollBack(entry, judged ? (entry.reason ?? 'unhealthy') : 'interrupted', judged);
        if (!judged && entry.attempts < 2 && this.#config.enabled) {
          await this.#schedule({ name: entry.name, entry: { key: entry.entryKey, image: entry.image, platform: entry.platform }, image: entry.image, newDigest: entry.newDigest, previous: entry.oldDigest, attempts: entry.attempts + 1 }, undefined);
        }
      }
      // Activations that waited for their window when the daemon stopped: waiting again (or run, if it is open).
      for (const p of Object.values(f.pending)) {
        const drop = (why: string): Promise<void> => {
          this.#deps.log.info({ container: p.name, image: p.image, child: p.newDigest, why }, 'activation: dropping a waiting activation kept from before the restart');
          return this.#deps.store.clearPending(p.name, p.newDigest);
        };
        if (f.journal[p.name] !== undefined) {
          await drop('an interrupted activation of this container was recovered instead');
          continue;
        }
        if (!this.#config.enabled) {
          await drop('activation is disabled (activation.enabled: false)');
          continue;
        }
        if (f.bad[p.image]?.digest === p.newDigest) {
          await drop('the child is marked bad on this host');
          continue;
        }
        const window = parseWindow(p.window);
        if (typeof window === 'string') {
          await drop(window);
          continue;
        }
        this.#deps.log.info({ container: p.name, image: p.image, child: p.newDigest, window: window.text, since: p.since }, 'activation: resuming an activation that waits for its window (kept across the restart)');
        await this.#schedule({ name: p.name, entry: { key: p.entryKey, image: p.image, platform: p.platform }, image: p.image, newDigest: p.newDigest, previous: p.previous, attempts: p.attempts }, window, p.since);
      }
    });
  }
}

function restartPolicyOf(c: ContainerInspect): RestartPolicy {
  const p = c.HostConfig['RestartPolicy'] as { Name?: unknown; MaximumRetryCount?: unknown } | undefined;
  const name = typeof p?.Name === 'string' && p.Name !== '' ? p.Name : 'no';
  return { Name: name, ...(typeof p?.MaximumRetryCount === 'number' && p.MaximumRetryCount > 0 ? { MaximumRetryCount: p.MaximumRetryCount } : {}) };
}

/** The container's own stop timeout (`--stop-timeout`), else the configured default, in seconds. */
function stopTimeoutOf(c: ContainerInspect, defaultMs: number): number {
  const own = c.Config.StopTimeout;
  return typeof own === 'number' && own >= 0 ? own : Math.ceil(defaultMs / 1000);
}

/** The digest `ref`'s repository knows this image by (its RepoDigests), if any. */
function digestOf(repoDigests: readonly string[] | null | undefined, ref: Reference): string | undefined {
  const repo = familiarName(ref);
  for (const d of repoDigests ?? []) {
    const at = d.lastIndexOf('@');
    if (at > 0 && (d.slice(0, at) === repo || canonicalRepo(d.slice(0, at)) === `${ref.domain}/${ref.path}`)) return d.slice(at + 1);
  }
  return undefined;
}

function canonicalRepo(name: string): string | undefined {
  try {
    const r = parseReference(name);
    return `${r.domain}/${r.path}`;
  } catch {
    return undefined;
  }
}
