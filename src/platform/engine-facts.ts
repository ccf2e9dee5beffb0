/**
 * What the engine says about itself (`GET /version`, `GET /info`), as platform detection reads it. The type
 * lives here, beside its reader, so that platform/ depends on nothing above the pure core: engine/ fills it in
 * (engine-probe.ts) and imports it from here (docs/architecture.md).
 */
export interface EngineFacts {
  readonly endpoint: string;
  readonly local: boolean;
  readonly version: string;
  readonly apiVersion: string;
  readonly os: string;
  /** GOARCH of the daemon binary. */
  readonly arch: string;
  /** `uname -m` of the engine's machine. */
  readonly kernelArch: string | undefined;
  readonly kernelVersion: string | undefined;
  readonly osVersion: string | undefined;
  readonly store: 'containerd' | 'classic';
  readonly driver: string | undefined;
  /** `DockerRootDir` of `/info`: where the engine keeps images (the disk preflight reads its free space). */
  readonly dataRoot?: string | undefined;
  /**
   * Which engine answers the Docker API: Docker, or Podman's compat service (`/version` lists a
   * component named "Podman Engine"; its `Version` is Podman's, e.g. 4.3.1, not a Docker version).
   */
  readonly product: 'docker' | 'podman';
}
