/**
 * Containers as the engine lists and inspects them, and its container events stream: the part of the
 * Engine API that discovery by label reads (docs/discovery.md). The implementation is in
 * http-engine.ts (undici); `FakeEngine` (test/fakes) implements it in memory.
 */

/** A container as `GET /containers/json?all=1` lists it. */
export interface ContainerSummary {
  readonly id: string;
  /** The name, without docker's leading slash. */
  readonly name: string;
  /** The ID of the image the container was created from (`sha256:…`). */
  readonly imageId: string;
  readonly labels: Readonly<Record<string, string>>;
  /** `created`, `running`, `paused`, `restarting`, `exited`, `removing` or `dead`. */
  readonly state: string;
}

/** What `GET /containers/{id}/json` says, the part resolver reads. */
export interface ContainerDetails extends ContainerSummary {
  /**
   * `Config.Image`: the reference the container was created from, as it was given (`nginx:1.27`,
   * `repo@sha256:…`, or an image ID). Unlike the listing's `Image`, which shows the image ID once the tag
   * has moved to another image, it never changes.
   */
  readonly image: string;
}

/** One container event of `GET /events`. */
export interface ContainerEvent {
  /** `create`, `start`, `die`, `destroy`, `rename`, … (Podman also says `died`, `remove`). */
  readonly action: string;
  /** The container's ID. */
  readonly id: string;
}

/** One connection to the events stream: iterate it; it ends when the engine closes it. */
export type ContainerEventStream = AsyncIterable<ContainerEvent>;

/** The container operations of an engine. */
export interface ContainerEngine {
  /** Every container, running or not (`all=1`). */
  listContainers(signal?: AbortSignal): Promise<readonly ContainerSummary[]>;
  /** undefined when there is no such container (any more). */
  inspectContainer(id: string, signal?: AbortSignal): Promise<ContainerDetails | undefined>;
  /**
   * Opens `GET /events` filtered to containers; resolves once the engine answered (within
   * `connectTimeoutMs`, default 10 s), and the stream then ends when the engine closes it or `signal` aborts.
   */
  containerEvents(signal: AbortSignal, options?: { readonly connectTimeoutMs?: number }): Promise<ContainerEventStream>;
}
