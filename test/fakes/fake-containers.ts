/**
 * An in-memory `ContainerOps` (src/engine/container-ops.ts) for activation's unit tests: containers with names,
 * labels, images, a state and a restart count, images by reference. It records every call. Behaviour a test
 * wants of a new container (healthy at once, unhealthy, crash) comes from `onStart`.
 */
import type { ContainerInspect, CreateContainerBody, ImageInspect } from '../../src/engine/container-spec.js';
import type { ContainerOps, RestartPolicy } from '../../src/engine/container-ops.js';
import type { ContainerSummary } from '../../src/engine/containers.js';

/** One fake container. */
export interface FakeContainer {
  id: string;
  name: string;
  /** Config.Image: as created. */
  image: string;
  imageId: string;
  labels: Record<string, string>;
  running: boolean;
  restarting: boolean;
  restartCount: number;
  startedAt: string;
  health: string | undefined;
  healthcheck: boolean;
  restartPolicy: RestartPolicy;
  body: CreateContainerBody | undefined;
}

let counter = 0;
const newId = (): string => (++counter).toString(16).padStart(64, 'c');

export class FakeContainers implements ContainerOps {
  readonly containers = new Map<string, FakeContainer>();
  /** Image references (`name:tag`, `name@digest`, IDs) to image ID. */
  readonly images = new Map<string, { id: string; repoDigests: string[]; healthcheck: boolean }>();
  readonly calls: string[] = [];
  /** What a started new container does: stays running with this health, or exits/restarts. */
  onStart: (c: FakeContainer) => void = (c) => {
    c.health = c.healthcheck ? 'healthy' : undefined;
  };

  addImage(id: string, refs: readonly string[], repoDigests: string[] = [], healthcheck = false): void {
    for (const r of [id, ...refs]) this.images.set(r, { id, repoDigests, healthcheck });
  }

  addContainer(c: Partial<FakeContainer> & { name: string; image: string }): FakeContainer {
    const imageId = c.imageId ?? this.images.get(c.image)?.id ?? 'sha256:none';
    const full: FakeContainer = {
      id: newId(), labels: {}, running: true, restarting: false, restartCount: 0, startedAt: '2026-12-01T00:00:00Z',
      health: undefined, healthcheck: false, restartPolicy: { Name: 'no' }, body: undefined, imageId, ...c,
    };
    this.containers.set(full.id, full);
    return full;
  }

  byName(name: string): FakeContainer | undefined {
    return [...this.containers.values()].find((c) => c.name === name);
  }

  #find(idOrName: string): FakeContainer | undefined {
    return this.containers.get(idOrName) ?? this.byName(idOrName);
  }

  listContainers(): Promise<readonly ContainerSummary[]> {
    this.calls.push('list');
    return Promise.resolve([...this.containers.values()].map((c): ContainerSummary => ({ id: c.id, name: c.name, imageId: c.imageId, labels: c.labels, state: c.running ? 'running' : 'exited' })));
  }

  inspectFull(idOrName: string): Promise<ContainerInspect | undefined> {
    const c = this.#find(idOrName);
    if (c === undefined) return Promise.resolve(undefined);
    return Promise.resolve({
      Id: c.id, Name: `/${c.name}`, Image: c.imageId, RestartCount: c.restartCount,
      State: { Status: c.running ? 'running' : 'exited', Running: c.running, Restarting: c.restarting, ExitCode: c.running ? 0 : 1, StartedAt: c.startedAt, ...(c.health === undefined ? {} : { Health: { Status: c.health } }) },
      Config: { Image: c.image, Labels: c.labels, ...(c.healthcheck ? { Healthcheck: { Test: ['CMD-SHELL', 'true'] } } : {}) },
      HostConfig: { NetworkMode: 'none', RestartPolicy: c.restartPolicy },
      NetworkSettings: { Networks: {} },
      Mounts: [],
    });
  }

  inspectImageConfig(name: string): Promise<ImageInspect | undefined> {
    const i = this.images.get(name);
    return Promise.resolve(i === undefined ? undefined : { Id: i.id, RepoDigests: i.repoDigests, Config: { Labels: {} } });
  }

  createContainer(name: string, body: CreateContainerBody): Promise<string> {
    this.calls.push(`create ${name}`);
    if (this.byName(name) !== undefined) return Promise.reject(new Error(`Conflict. The container name "/${name}" is already in use`));
    const image = this.images.get(body.Image);
    const c = this.addContainer({ name, image: body.Image, imageId: image?.id ?? 'sha256:none', running: false, healthcheck: image?.healthcheck ?? false, labels: (body['Labels'] ?? {}) as Record<string, string>, body });
    return Promise.resolve(c.id);
  }

  connectNetwork(network: string, id: string): Promise<void> {
    this.calls.push(`connect ${network} ${id.slice(0, 4)}`);
    return Promise.resolve();
  }

  startContainer(id: string): Promise<void> {
    const c = this.#find(id);
    this.calls.push(`start ${c?.name ?? id}`);
    if (c === undefined) return Promise.reject(new Error('no such container'));
    const fresh = !c.running && c.body !== undefined && c.startedAt === '2026-12-01T00:00:00Z';
    c.running = true;
    c.startedAt = new Date().toISOString();
    if (fresh) this.onStart(c);
    return Promise.resolve();
  }

  stopContainer(id: string): Promise<void> {
    const c = this.#find(id);
    this.calls.push(`stop ${c?.name ?? id}`);
    if (c !== undefined) c.running = false;
    return Promise.resolve();
  }

  renameContainer(id: string, name: string): Promise<void> {
    const c = this.#find(id);
    this.calls.push(`rename ${c?.name ?? id} ${name}`);
    if (c === undefined) return Promise.reject(new Error('no such container'));
    if (this.byName(name) !== undefined) return Promise.reject(new Error(`Conflict. The container name "/${name}" is already in use`));
    c.name = name;
    return Promise.resolve();
  }

  removeContainer(id: string): Promise<void> {
    const c = this.#find(id);
    this.calls.push(`remove ${c?.name ?? id.slice(0, 4)}`);
    if (c !== undefined) this.containers.delete(c.id);
    return Promise.resolve();
  }

  updateRestartPolicy(id: string, policy: RestartPolicy): Promise<void> {
    const c = this.#find(id);
    this.calls.push(`policy ${c?.name ?? id} ${policy.Name}`);
    if (c !== undefined) c.restartPolicy = policy;
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
