/**
 * The Docker Engine as resolver uses it: a narrow interface, implemented over undici in http-engine.ts (the
 * container-running half in http-runner.ts) and by fakes in tests. Built only in composition roots.
 */
import type { Readable, Writable } from 'node:stream';
import type { ErrorCode } from '../errors.js';
import type { Secret } from '../secret/secret.js';
import type { EngineFacts } from '../platform/engine-facts.js';
import type { ContainerEngine } from './containers.js';
import type { PullState } from './pull-progress.js';

/** Credentials for `X-Registry-Auth`. */
export interface RegistryAuth {
  readonly serveraddress: string;
  readonly username?: string | undefined;
  readonly password?: Secret | undefined;
  readonly identitytoken?: Secret | undefined;
  readonly registrytoken?: Secret | undefined;
}

/** A pull of one image by digest. */
export interface PullRequest {
  /** Repository name as the engine should record it, e.g. `localhost:5000/app` or `alpine`. */
  readonly repository: string;
  readonly digest: string;
  readonly auth: RegistryAuth | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Abort when no progress message arrives for this long. */
  readonly stallTimeoutMs?: number;
  readonly onProgress?: (state: PullState) => void;
}

/** What `GET /images/{name}/json` says. */
export interface ImageInfo {
  readonly id: string;
  readonly repoTags: readonly string[];
  readonly repoDigests: readonly string[];
  readonly os: string;
  readonly architecture: string;
  readonly variant: string;
  /** `RootFS.Layers` (diff IDs, bottom first), from inspect; not in listings. */
  readonly layers?: readonly string[] | undefined;
}

/** What to run. */
export interface ContainerSpec {
  readonly image: string;
  readonly name?: string | undefined;
  readonly cmd?: readonly string[] | undefined;
  readonly env: readonly string[];
  readonly tty: boolean;
  readonly stdin: boolean;
  readonly networkMode?: string | undefined;
  readonly binds: readonly string[];
  /** `--rm`: the engine removes the container when it exits (HostConfig.AutoRemove, as docker run sets it). */
  readonly autoRemove: boolean;
  /**
   * `--platform` as asked for (`?platform=`, API 1.41+), as docker run sends it: the engine then refuses an
   * image of another platform and leaves out its "no specific platform was requested" warning. Undefined: none asked.
   */
  readonly platform?: string | undefined;
}

/** What `POST /containers/create` answered. */
export interface CreatedContainer {
  readonly id: string;
  readonly warnings: readonly string[];
}

/** How runAttached runs a container. */
export interface RunAttachedOptions {
  readonly tty: boolean;
  readonly stdin: boolean;
  readonly autoRemove: boolean;
  /** Called once the engine started the container (docker sizes the terminal then). */
  readonly onStarted?: (() => void) | undefined;
}

/** A created container's I/O. */
export interface ContainerIo {
  readonly stdin: Readable | undefined;
  readonly stdout: Writable;
  readonly stderr: Writable;
}

/**
 * The image half of the engine: what resolving, pulling, checking and pruning use (src/resolver/, `resolver
 * pull`). It has no way to create or start a container.
 */
export interface ImageEngine {
  facts(signal?: AbortSignal): Promise<EngineFacts>;
  /**
   * Pulls `repository@digest`; resolves only when the stream ended with no error line and either with
   * its final status (Docker) or, where the engine sends none (Podman), with the image verified present
   * by inspect (`verifiedBy: 'inspect'`).
   */
  pull(req: PullRequest): Promise<PullState>;
  tag(source: string, repository: string, tag: string): Promise<void>;
  /** undefined when the engine has no such image. */
  inspectImage(name: string): Promise<ImageInfo | undefined>;
  /** Every image with its tags and digests (one request for all). */
  listImages(): Promise<readonly ImageInfo[]>;
  /** Image IDs used by any container, running or stopped. */
  imagesInUse(): Promise<ReadonlySet<string>>;
  /** Removes an image reference (`name@digest`); the image goes when no reference is left. */
  removeImage(name: string): Promise<void>;
}

/** The container-running half of the engine: what `resolver run` does with a container once it has the image. */
export interface ContainerRunner {
  /**
   * Creates a container; a refusal is an ERR_CONTAINER_FAILED/…NOT_FOUND/…NOT_INVOKABLE (see containerFailureCode).
   * `warnings` are the engine's (e.g. an image platform that does not match the host), which docker run prints.
   */
  createContainer(spec: ContainerSpec): Promise<CreatedContainer>;
  /**
   * Attaches (before start), starts, and resolves with the exit code once the container stops (with
   * `autoRemove`, once the engine removed it). A start the engine refuses rejects at once, with the attach
   * stream and the wait request closed, so nothing keeps the process alive.
   */
  runAttached(id: string, io: ContainerIo, options: RunAttachedOptions): Promise<number>;
  start(id: string): Promise<void>;
  kill(id: string, signal: string): Promise<void>;
  /** Force-removes a container and its anonymous volumes; one already gone (or going) is not an error. */
  remove(id: string): Promise<void>;
  resize(id: string, rows: number, columns: number): Promise<void>;
}

/**
 * One engine connection as the composition roots build it (cli/services.ts, the daemon): the image half, the
 * container-running half, the container listing and events (containers.ts), and closing it. Consumers ask
 * for the half they use (docs/architecture.md).
 */
export interface Engine extends ImageEngine, ContainerRunner, ContainerEngine {
  close(): Promise<void>;
}

/** `X-Registry-Auth`: padded base64url of the AuthConfig JSON (registry-protocol.md §5.3). */
export function encodeRegistryAuth(auth: RegistryAuth): string {
  const json = JSON.stringify({
    username: auth.username ?? '',
    password: auth.password?.reveal() ?? '',
    serveraddress: auth.serveraddress,
    ...(auth.identitytoken === undefined ? {} : { identitytoken: auth.identitytoken.reveal() }),
    ...(auth.registrytoken === undefined ? {} : { registrytoken: auth.registrytoken.reveal() }),
  });
  return Buffer.from(json, 'utf8').toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/**
 * The error code for an engine's refusal to create or start a container, from the engine's message, the
 * way the docker CLI picks `docker run`'s exit status (cli/command/container/run.go, runStartContainerErr):
 * the engine reports these only as text (runc's, crun's or the Windows one), so the text is all there is.
 * 127: the command does not exist; 126: it cannot be invoked (EACCES, EISDIR); 125: anything else.
 * Unlike the CLI's `strings.Contains`, case is ignored: runtimes other than runc capitalise strerror's text.
 */
export function containerFailureCode(engineMessage: string): Extract<ErrorCode, 'ERR_CONTAINER_FAILED' | 'ERR_COMMAND_NOT_INVOKABLE' | 'ERR_COMMAND_NOT_FOUND'> {
  const text = engineMessage.replace(/^Error response from daemon: /, '');
  if (/executable file not found|no such file or directory|system cannot find the file specified/i.test(text)) return 'ERR_COMMAND_NOT_FOUND';
  if (/permission denied|is a directory/i.test(text)) return 'ERR_COMMAND_NOT_INVOKABLE';
  return 'ERR_CONTAINER_FAILED';
}
