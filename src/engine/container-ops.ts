/**
 * The container operations container activation needs (issue 11 §3, docs/activation.md), beside the listing
 * and inspect of containers.ts (discovery's): list containers with their labels (that one), inspect a
 * container whole and an image's config, create a container from an
 * inspect-derived body (container-spec.ts), connect networks, start, stop within a timeout, rename, remove
 * (keeping volumes) and change the restart policy. Implemented with dockerode in dockerode-container-ops.ts and by
 * fakes in tests. The engine's inspect documents are parsed at this boundary with the loose schemas of
 * container-spec.ts: only the fields activation reads are typed, the rest is carried through untouched.
 */
import type { ContainerInspect, CreateContainerBody, EndpointConfig, ImageInspect } from './container-spec.js';
import type { ContainerEngine } from './containers.js';

/** A restart policy (HostConfig.RestartPolicy). */
export interface RestartPolicy {
  readonly Name: string;
  readonly MaximumRetryCount?: number | undefined;
}

/** The container operations activation needs (the listing is discovery's, from containers.ts). */
export interface ContainerOps extends Pick<ContainerEngine, 'listContainers'> {
  /** The whole inspect document (what re-creating takes); undefined when the engine has no such container. */
  inspectFull(idOrName: string): Promise<ContainerInspect | undefined>;
  /** An image's ID and config (`GET /images/{name}/json`); undefined when the engine has no such image. */
  inspectImageConfig(name: string): Promise<ImageInspect | undefined>;
  /** Creates a container named `name`; returns its ID. The engine's refusal is an ERR_CONTAINER_FAILED. */
  createContainer(name: string, body: CreateContainerBody): Promise<string>;
  /** Connects a container to one more network (the create API takes only one). */
  connectNetwork(network: string, id: string, endpoint: EndpointConfig): Promise<void>;
  startContainer(id: string): Promise<void>;
  /** Stops with the container's stop signal, killing it after `timeoutSeconds`; a stopped one is not an error. */
  stopContainer(id: string, timeoutSeconds: number): Promise<void>;
  renameContainer(id: string, name: string): Promise<void>;
  /** Force-removes a container, keeping its volumes (they may be the other container's); one gone is not an error. */
  removeContainer(id: string): Promise<void>;
  /** `docker update --restart`: a kept old container must not come back when dockerd restarts. */
  updateRestartPolicy(id: string, policy: RestartPolicy): Promise<void>;
  close(): Promise<void>;
}
