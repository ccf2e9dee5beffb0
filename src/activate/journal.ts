/**
 * `activation.json` in the state folder: the journal of activations in progress, the activations waiting for
 * their window, and the children marked bad (docs/activation.md "Crash recovery"). Each step of an activation is recorded durably (writeFileDurable:
 * temp file, fsync, rename, fsync of the folder) *before* it is taken, so a daemon killed at any point finds, at
 * its next start, what it was doing and with which containers, and finishes or undoes it. A file that cannot be
 * read is moved aside with a warning (as state.json is), never silently dropped.
 */
import { lstat, mkdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { parseJson } from '../json/parse-json.js';
import { removeOrphans, writeFileDurable } from '../state/durable-file.js';

/** The steps of an activation, in order; the journal holds the last one started. */
export const steps = ['begin', 'renamed', 'created', 'old-stopped', 'started', 'healthy', 'rolling-back'] as const;
export type Step = (typeof steps)[number];

const RestartPolicy = z.object({ Name: z.string(), MaximumRetryCount: z.number().optional() });

/** One activation in progress, keyed by the container's name. */
export const JournalEntry = z.object({
  name: z.string(),
  /** Canonical tag the container follows, and the daemon entry (key, platform) that pulled the child. */
  image: z.string(),
  entryKey: z.string(),
  platform: z.string(),
  /** The container being replaced: its ID, its image, its child digest (if known), its restart policy. */
  oldId: z.string(),
  oldImageId: z.string(),
  oldDigest: z.string().optional(),
  restartPolicy: RestartPolicy,
  /** The child being activated. */
  newDigest: z.string(),
  newImageId: z.string(),
  /** The new container, once created. */
  newId: z.string().optional(),
  step: z.enum(steps),
  /** While rolling back: whether the new child failed its health check (it is then marked bad), and why. */
  blame: z.boolean().optional(),
  reason: z.string().optional(),
  /** Activations of this child tried on this container (a crash mid-way counts one). */
  attempts: z.number().int().min(1),
  at: z.string(),
});
export type JournalEntry = z.infer<typeof JournalEntry>;

/** A child that failed its health check: never activated again on this host until the tag moves on. */
export const BadChild = z.object({ digest: z.string(), container: z.string(), reason: z.string(), at: z.string() });
export type BadChild = z.infer<typeof BadChild>;

/**
 * An activation waiting for its container's window, kept across a restart: after one, no `pulled` comes again
 * (the child is already present), so without this the container would stay on its child until the tag moved.
 */
export const PendingActivation = z.object({
  name: z.string(),
  image: z.string(),
  entryKey: z.string(),
  platform: z.string(),
  newDigest: z.string(),
  previous: z.string().optional(),
  attempts: z.number().int().min(1),
  /** The window it waits for (`HH:MM-HH:MM`, as the label or config said when the child was pulled). */
  window: z.string(),
  /** When it started waiting. */
  since: z.string(),
});
export type PendingActivation = z.infer<typeof PendingActivation>;

export const ActivationFile = z.object({
  version: z.literal(1),
  /** Per canonical tag. */
  bad: z.record(z.string(), BadChild),
  /** Per container name. */
  journal: z.record(z.string(), JournalEntry),
  /** Per container name: activations waiting for their window (absent in files written before they were kept). */
  pending: z.record(z.string(), PendingActivation).default({}),
});
export type ActivationFile = z.infer<typeof ActivationFile>;

const empty: ActivationFile = { version: 1, bad: {}, journal: {}, pending: {} };

/** Reads and updates activation.json; updates are serialised and each is durable before it resolves. */
export class ActivationStore {
  readonly path: string;
  readonly #warn: (message: string) => void;
  #current: ActivationFile | undefined;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(stateDir: string, warn: (message: string) => void) {
    this.path = join(stateDir, 'activation.json');
    this.#warn = warn;
  }

  /** The file (read once, then kept: this process is its only writer, under the daemon's lock). */
  async load(): Promise<ActivationFile> {
    if (this.#current !== undefined) return this.#current;
    await mkdir(join(this.path, '..'), { recursive: true, mode: 0o700 });
    await removeOrphans(this.path);
    const info = await lstat(this.path).catch(() => undefined);
    if (info === undefined) return (this.#current = empty);
    let parsed: ActivationFile | undefined;
    try {
      if (info.isFile()) {
        const r = parseJson(ActivationFile, await readFile(this.path, 'utf8'));
        parsed = r.success ? r.data : undefined;
      }
    } catch {
      // A file that cannot be read is moved aside like a corrupt one.
      parsed = undefined;
    }
    if (parsed === undefined) {
      const aside = `${this.path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      await rename(this.path, aside);
      this.#warn(`the activation journal ${this.path} was unreadable; moved aside to ${aside} (an activation it held is not recovered: check containers named *-resolver-old)`);
      parsed = empty;
    }
    return (this.#current = parsed);
  }

  /** Applies a change and writes it durably; one update at a time. */
  update(change: (f: ActivationFile) => ActivationFile): Promise<void> {
    const run = this.#chain.then(async () => {
      const current = await this.load();
      const next = change(current);
      // Nothing changed: no write (SD cards wear out).
      if (next === current) return;
      await writeFileDurable(this.path, `${JSON.stringify(next, null, 2)}\n`);
      this.#current = next;
    });
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /** Records an activation's step (before it is taken). */
  record(entry: JournalEntry): Promise<void> {
    return this.update((f) => ({ ...f, journal: { ...f.journal, [entry.name]: entry } }));
  }

  /** Forgets a finished (or undone) activation. */
  finish(name: string): Promise<void> {
    return this.update((f) => {
      const { [name]: _done, ...rest } = f.journal;
      return { ...f, journal: rest };
    });
  }

  /** Keeps an activation that waits for its window (replacing the one that waited for that container). */
  setPending(p: PendingActivation): Promise<void> {
    return this.update((f) => ({ ...f, pending: { ...f.pending, [p.name]: p } }));
  }

  /** Forgets the container's waiting activation, if it is the one for `digest` (a newer child may have replaced it). */
  clearPending(name: string, digest?: string): Promise<void> {
    return this.update((f) => {
      const p = f.pending[name];
      if (p === undefined || (digest !== undefined && p.newDigest !== digest)) return f;
      const { [name]: _gone, ...rest } = f.pending;
      return { ...f, pending: rest };
    });
  }

  /** Marks a tag's child bad. */
  markBad(image: string, bad: BadChild): Promise<void> {
    return this.update((f) => ({ ...f, bad: { ...f.bad, [image]: bad } }));
  }

  /** Forgets a tag's bad child (the tag moved on). */
  clearBad(image: string): Promise<void> {
    return this.update((f) => {
      if (f.bad[image] === undefined) return f;
      const { [image]: _gone, ...rest } = f.bad;
      return { ...f, bad: rest };
    });
  }
}
