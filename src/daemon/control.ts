/**
 * The daemon's control surfaces (docs/daemon.md "Lock and control socket", docs/api.md): the control socket's
 * requests (`status`, `last-check`, `check`), the HTTP endpoint's backend, and "check now", the one
 * implementation behind `resolver check` beside a daemon and `POST /v1/check`: the entries a selector names
 * (`selectEntries`), run now, where a request for an entry whose check-now is queued or running joins it
 * instead of queueing another (`CheckNow`).
 */
import type { ApiBackend, CheckSelector, CheckStarted, EventsQuery, Probe } from '../api/server.js';
import { platformKey } from '../config/values.js';
import { ResolverError } from '../errors.js';
import { formatReference, parseReference, withDefaultTag } from '../reference/reference.js';
import { detectedPlatform, type EntrySpec } from './events.js';
import type { ControlRequest } from './lock.js';
import type { DaemonStatus } from './process-status.js';
import type { ImageStatus, StatusState } from './status.js';

/** What a check-now settles with: the statuses of the entries it ran. */
export interface CheckNowResult {
  readonly pid: number;
  readonly images: ImageStatus[];
}

/** A check-now that started. */
export type CheckNowStarted = CheckStarted & { readonly done: Promise<CheckNowResult> };

/**
 * The entries a check-now names: all, or one image (at one platform). An entry's platform is the configured
 * one, else (host platform) the detected one once `status` knows it; `detected` names the host's entries.
 * @throws ResolverError ERR_USAGE for a selector that does not parse, ERR_NOT_FOUND for one that names no entry
 */
export function selectEntries(all: readonly EntrySpec[], selector: CheckSelector, status: StatusState): EntrySpec[] {
  let image: string | undefined;
  let platform: string | undefined;
  try {
    image = selector.image === undefined ? undefined : formatReference(withDefaultTag(parseReference(selector.image)));
    // `detected` (the host's entry) is a word, not a platform: matched below, never parsed.
    platform = selector.platform === undefined || selector.platform === detectedPlatform ? undefined : platformKey(selector.platform);
  } catch (error) {
    throw new ResolverError('ERR_USAGE', error instanceof Error ? error.message : String(error));
  }
  const platformOf = (e: EntrySpec): string | undefined => {
    const p = e.platformSpec ?? status.get(e.key)?.platform;
    try {
      return p === undefined ? undefined : platformKey(p);
    } catch {
      return undefined;
    }
  };
  const picked = all.filter((e) => (image === undefined || e.image === image) && (selector.platform === detectedPlatform ? e.platformSpec === undefined : platform === undefined || platformOf(e) === platform));
  if (picked.length === 0 && (image !== undefined || platform !== undefined)) {
    const what = `${selector.image ?? 'any image'}${selector.platform === undefined ? '' : ` for ${selector.platform}`}`;
    throw new ResolverError('ERR_NOT_FOUND', `no configured image is ${what}`, {
      details: [`configured: ${all.map((e) => e.key).join(', ') || '(none)'}`, 'to follow it, add it to images: (or label its container resolver.enable=true with discovery on) and reload the daemon (SIGHUP, systemctl reload resolver)'],
    });
  }
  return picked;
}

/** What check-now needs. */
export interface CheckNowDeps {
  /** A run now of one entry (`Runner.runNow`: waits for a run in flight, no splay, no backoff). */
  readonly runNow: (entry: EntrySpec, options: { readonly dryRun: boolean }) => Promise<void>;
  readonly status: () => StatusState;
  readonly pid: number;
}

/** Check-now runs queued or running, per entry key and dry-run flag. */
export class CheckNow {
  readonly #deps: CheckNowDeps;
  readonly #runs = new Map<string, Promise<void>>();

  constructor(deps: CheckNowDeps) {
    this.#deps = deps;
  }

  /** Runs the entries of `all` that `selector` names; `done` settles with their statuses. @throws as selectEntries */
  start(all: readonly EntrySpec[], selector: CheckSelector): CheckNowStarted {
    const entries = selectEntries(all, selector, this.#deps.status());
    const joined: string[] = [];
    const runs = entries.map((e) => {
      const k = `${e.key}\0${selector.dryRun}`;
      const queued = this.#runs.get(k);
      if (queued !== undefined) {
        joined.push(e.key);
        return queued;
      }
      const run = this.#deps.runNow(e, { dryRun: selector.dryRun }).finally(() => this.#runs.delete(k));
      this.#runs.set(k, run);
      return run;
    });
    const done = Promise.all(runs).then(() => ({ pid: this.#deps.pid, images: this.#statusesOf(entries) }));
    return { accepted: entries.map((e) => ({ key: e.key, image: e.image, platform: e.platformSpec ?? this.#deps.status().get(e.key)?.platform ?? detectedPlatform })), joined, done };
  }

  /** Copies of the statuses of `entries`, in their order. */
  #statusesOf(entries: readonly EntrySpec[]): ImageStatus[] {
    const status = this.#deps.status();
    return entries.flatMap((e) => {
      const s = status.get(e.key);
      return s === undefined ? [] : [{ ...s }];
    });
  }
}

/** The daemon as its control surfaces see it. */
export interface Controlled {
  status(): DaemonStatus;
  checkNow(selector: CheckSelector): CheckNowStarted;
  live(): Probe;
  ready(): Promise<Probe>;
  readonly metrics: { render(): string };
  readonly recent: { list(query: EventsQuery): unknown };
}

/** The control socket's answers (lock.ts); `lastCheck` answers `last-check` (LastChecks.answer). */
export function controlHandler(d: Pick<Controlled, 'status' | 'checkNow'>, lastCheck: (image: string, platform: string) => unknown): (request: ControlRequest) => Promise<unknown> {
  return async (request) => {
    if (request.op === 'status') return d.status();
    if (request.op === 'last-check') return lastCheck(request.image, request.platform);
    return d.checkNow({ dryRun: request.dryRun, image: request.image, platform: request.platform }).done;
  };
}

/** What the HTTP endpoint serves (src/api/). */
export function apiBackend(d: Controlled): ApiBackend {
  return {
    live: () => d.live(),
    ready: () => d.ready(),
    metrics: () => d.metrics.render(),
    // The `resolver status --json` document of a running daemon.
    status: () => ({ daemon: 'running', ...d.status() }),
    events: (q) => d.recent.list(q),
    check: (selector) => d.checkNow(selector),
  };
}
