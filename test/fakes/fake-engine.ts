/**
 * An in-memory Docker Engine for unit tests (style.md §17): images with tags and digests, pulls that can
 * be held or failed on demand, containers that pin images. Running containers throws unless `runExitCode` is
 * set (`resolver run`'s tests); containers can be added and removed (`addContainer`, `removeContainer`: listed, inspected,
 * announced on the events stream), and the events stream can be dropped or refused (an engine restart).
 * Names are kept as the caller spelled them (familiar form), as dockerd reports RepoTags.
 * It implements the whole `Engine` (the image half, the container-running half, the listing and events), so one
 * instance serves a test of a consumer that asks for either half.
 */
import { createHash } from 'node:crypto';
import type { ContainerDetails, ContainerEvent, ContainerEventStream, ContainerSummary } from '../../src/engine/containers.js';
import type { ContainerIo, ContainerSpec, CreatedContainer, Engine, ImageInfo, PullRequest } from '../../src/engine/engine.js';
import type { EngineFacts } from '../../src/platform/engine-facts.js';
import { initialPullState, type PullState } from '../../src/engine/pull-progress.js';
import { ResolverError } from '../../src/errors.js';

interface FakeImage {
  id: string;
  repoTags: Set<string>;
  repoDigests: Set<string>;
  platform: { os: string; architecture: string; variant: string };
}

/** What a pull may do instead of succeeding at once (block, fail). Called before the image appears. */
export type PullHook = (req: PullRequest) => Promise<void> | void;

interface EventSubscriber {
  push(event: ContainerEvent): void;
  end(error?: Error): void;
}

/** A fake engine: `ImageEngine`, `ContainerRunner` and `ContainerEngine` at once. */
export class FakeEngine implements Engine {
  readonly #images = new Map<string, FakeImage>();
  readonly #containers = new Map<string, ContainerDetails>();
  readonly #streams = new Set<EventSubscriber>();
  /** When set, opening the events stream rejects with it (the engine is restarting). */
  eventsRefused: Error | undefined;
  /** Events streams opened so far, and open now. */
  eventConnections = 0;
  /** Every call, e.g. `pull localhost:5000/app@sha256:…`, in order. */
  readonly calls: string[] = [];
  /** Image IDs a container uses (`imagesInUse`). */
  readonly inUse = new Set<string>();
  /** Runs before each pull; throw to fail it, await to hold it. */
  pullHook: PullHook | undefined;
  /** When set, every call rejects with this (engine down). */
  down: Error | undefined;
  /** Pulls in flight right now, and the most at once. */
  inFlight = 0;
  maxInFlight = 0;
  closed = false;
  /**
   * The exit code every container run ends with. Unset (the default), creating or running a container rejects:
   * no unit test runs one by accident. Set, `createContainer` records the spec in `created`.
   */
  runExitCode: number | undefined;
  /** The specs of the containers created, in order. */
  readonly created: ContainerSpec[] = [];
  /** The engine's warnings for each create (docker run prints them). */
  createWarnings: readonly string[] = [];
  /** The config platform of the images a pull adds (a real engine reads it from the image's config). */
  pulledPlatform: { os: string; architecture: string; variant: string } = { os: 'linux', architecture: 'amd64', variant: '' };
  /** Runs while a container runs (before runAttached resolves); await to hold it. */
  runHook: ((id: string) => Promise<void> | void) | undefined;

  readonly factsValue: EngineFacts = {
    endpoint: 'unix:///fake/docker.sock', local: true, version: '26.1.5', apiVersion: '1.45', os: 'linux', arch: 'amd64',
    kernelArch: 'x86_64', kernelVersion: '6.1.0', osVersion: undefined, store: 'classic', driver: 'overlay2', product: 'docker',
  };

  #check(call: string): void {
    this.calls.push(call);
    if (this.down !== undefined) throw this.down;
  }

  facts(): Promise<EngineFacts> {
    this.#check('facts');
    return Promise.resolve(this.factsValue);
  }

  async pull(req: PullRequest): Promise<PullState> {
    this.#check(`pull ${req.repository}@${req.digest}`);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      req.signal?.throwIfAborted();
      await this.pullHook?.(req);
      req.signal?.throwIfAborted();
      const id = `sha256:${createHash('sha256').update(`image ${req.digest}`).digest('hex')}`;
      const image = this.#images.get(id) ?? { id, repoTags: new Set(), repoDigests: new Set(), platform: { ...this.pulledPlatform } };
      image.repoDigests.add(`${req.repository}@${req.digest}`);
      this.#images.set(id, image);
      return { ...initialPullState, digest: req.digest, final: `Status: Downloaded newer image for ${req.repository}@${req.digest}` };
    } finally {
      this.inFlight--;
    }
  }

  #find(name: string): FakeImage | undefined {
    for (const image of this.#images.values()) if (image.repoTags.has(name) || image.repoDigests.has(name) || image.id === name) return image;
    return undefined;
  }

  tag(source: string, repository: string, tag: string): Promise<void> {
    this.#check(`tag ${source} ${repository}:${tag}`);
    const image = this.#find(source);
    if (image === undefined) return Promise.reject(new ResolverError('ERR_PULL_FAILED', `No such image: ${source}`));
    const name = `${repository}:${tag}`;
    for (const other of this.#images.values()) other.repoTags.delete(name);
    image.repoTags.add(name);
    return Promise.resolve();
  }

  #info(image: FakeImage): ImageInfo {
    return { id: image.id, repoTags: [...image.repoTags], repoDigests: [...image.repoDigests], ...image.platform };
  }

  inspectImage(name: string): Promise<ImageInfo | undefined> {
    this.#check(`inspect ${name}`);
    const image = this.#find(name);
    return Promise.resolve(image === undefined ? undefined : this.#info(image));
  }

  listImages(): Promise<readonly ImageInfo[]> {
    this.#check('list');
    return Promise.resolve([...this.#images.values()].map((i) => this.#info(i)));
  }

  imagesInUse(): Promise<ReadonlySet<string>> {
    this.#check('in-use');
    return Promise.resolve(new Set(this.inUse));
  }

  removeImage(name: string): Promise<void> {
    this.#check(`remove ${name}`);
    const image = this.#find(name);
    if (image === undefined) return Promise.resolve();
    image.repoDigests.delete(name);
    image.repoTags.delete(name);
    if (image.repoDigests.size === 0) this.#images.delete(image.id);
    return Promise.resolve();
  }

  /** Adds an image (a pull that already happened); returns its ID. */
  addImage(options: { tags?: readonly string[]; platform?: { os: string; architecture: string; variant?: string }; id?: string }): string {
    const id = options.id ?? `sha256:${createHash('sha256').update(`image ${this.#images.size} ${JSON.stringify(options)}`).digest('hex')}`;
    for (const tag of options.tags ?? []) for (const other of this.#images.values()) other.repoTags.delete(tag);
    const p = options.platform ?? { os: 'linux', architecture: 'amd64' };
    this.#images.set(id, { id, repoTags: new Set(options.tags), repoDigests: new Set(), platform: { os: p.os, architecture: p.architecture, variant: p.variant ?? '' } });
    return id;
  }

  /**
   * Adds a container created from `image` (a name the fake has, or an image ID) and announces it (`create`,
   * then `start` unless its state is `created`/`exited`). Its `Config.Image` is `configImage ?? image`.
   */
  addContainer(options: { name: string; image: string; configImage?: string; labels?: Record<string, string>; state?: string }): ContainerDetails {
    const image = this.#find(options.image);
    if (image === undefined) throw new Error(`FakeEngine: no image ${options.image}`);
    const id = createHash('sha256').update(`container ${options.name} ${this.#containers.size} ${String(Math.random())}`).digest('hex');
    const c: ContainerDetails = { id, name: options.name, imageId: image.id, image: options.configImage ?? options.image, labels: { ...options.labels }, state: options.state ?? 'running' };
    this.#containers.set(id, c);
    this.emitContainerEvent('create', id);
    if (c.state === 'running') this.emitContainerEvent('start', id);
    return c;
  }

  /** Removes a container (by name or ID) and announces `destroy`. */
  removeContainer(nameOrId: string): void {
    for (const c of this.#containers.values()) {
      if (c.name !== nameOrId && c.id !== nameOrId) continue;
      this.#containers.delete(c.id);
      this.emitContainerEvent('destroy', c.id);
    }
  }

  /** Sends an event to every open events stream. */
  emitContainerEvent(action: string, id: string): void {
    for (const s of this.#streams) s.push({ action, id });
  }

  /** Ends every open events stream (with `error`: as a lost connection). */
  dropEventStreams(error?: Error): void {
    for (const s of [...this.#streams]) s.end(error);
  }

  /** Events streams open now. */
  get openEventStreams(): number {
    return this.#streams.size;
  }

  listContainers(): Promise<readonly ContainerSummary[]> {
    this.#check('containers');
    return Promise.resolve([...this.#containers.values()].map(({ image: _image, ...summary }) => ({ ...summary, labels: { ...summary.labels } })));
  }

  inspectContainer(id: string): Promise<ContainerDetails | undefined> {
    this.#check(`inspect-container ${id.slice(0, 12)}`);
    const c = this.#containers.get(id);
    return Promise.resolve(c === undefined ? undefined : { ...c, labels: { ...c.labels } });
  }

  containerEvents(signal: AbortSignal): Promise<ContainerEventStream> {
    this.#check('events');
    if (this.eventsRefused !== undefined) return Promise.reject(this.eventsRefused);
    signal.throwIfAborted();
    this.eventConnections++;
    const queue: ContainerEvent[] = [];
    let wake: (() => void) | undefined;
    let ended: { error: Error | undefined } | undefined;
    const sub: EventSubscriber = {
      push: (e) => {
        queue.push(e);
        wake?.();
      },
      end: (error) => {
        ended = { error };
        wake?.();
      },
    };
    const onAbort = (): void => sub.end();
    signal.addEventListener('abort', onAbort, { once: true });
    this.#streams.add(sub);
    const streams = this.#streams;
    async function* events(): AsyncGenerator<ContainerEvent> {
      try {
        for (;;) {
          const next = queue.shift();
          if (next !== undefined) {
            yield next;
            continue;
          }
          if (ended !== undefined) {
            if (ended.error !== undefined && !signal.aborted) throw ended.error;
            return;
          }
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
      } finally {
        streams.delete(sub);
        signal.removeEventListener('abort', onAbort);
      }
    }
    return Promise.resolve(events());
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  #running(call: string): Promise<void> {
    this.#check(call);
    return this.runExitCode === undefined ? Promise.reject(new Error('FakeEngine: containers are not implemented (set runExitCode)')) : Promise.resolve();
  }

  async createContainer(spec: ContainerSpec): Promise<CreatedContainer> {
    await this.#running(`create ${spec.image}`);
    this.created.push(spec);
    return { id: `fake-container-${this.created.length}`, warnings: [...this.createWarnings] };
  }
  async runAttached(id: string, _io: ContainerIo, _options: { tty: boolean; stdin: boolean }): Promise<number> {
    await this.#running(`run ${id}`);
    await this.runHook?.(id);
    return this.runExitCode ?? 0;
  }
  start(id: string): Promise<void> {
    return this.#running(`start ${id}`);
  }
  kill(id: string, signal: string): Promise<void> {
    return this.#running(`kill ${id} ${signal}`);
  }
  remove(id: string): Promise<void> {
    return this.#running(`remove-container ${id}`);
  }
  resize(id: string, rows: number, columns: number): Promise<void> {
    return this.#running(`resize ${id} ${rows}x${columns}`);
  }
}
