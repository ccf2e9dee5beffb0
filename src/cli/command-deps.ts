/**
 * The one shape of a CLI command (issue 14), as changesets' `status({ cwd })`: `run(options, deps)`, where
 * `options` is what the user asked, parsed and checked by the command's `register` (commander), and `deps` is
 * the IO it may use, a part of `CommandDeps`. `withCommandDeps` is the one place that wires them: it builds the
 * services for the command's insecure registries, hands the command its deps, and closes them afterwards.
 * A command's own `…Deps` type names only what it uses, so its unit test passes fakes for those alone.
 */
import { homedir } from 'node:os';
import type { DraftStore } from '../publish/drafts.js';
import type { CredentialStore } from '../registry/credentials.js';
import type { Registry } from '../registry/registry.js';
import type { StateStore } from '../state/state-store.js';
import type { DiskPreflight } from '../preflight/preflight.js';
import type { Output } from './output.js';
import type { ProgressSink } from './progress.js';
import type { ServiceOptions, Services } from './services.js';
import type { SignalHub } from './signals.js';

/** Terminal streams of the process. */
export interface RunIo {
  readonly stdin: NodeJS.ReadStream;
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
}

/** The process as commands see it (injected by main.ts; no command reads `process` itself). */
export interface CommandProcess {
  readonly env: NodeJS.ProcessEnv;
  readonly hostname: string;
  readonly uid: number | undefined;
  readonly stdoutIsTTY: boolean;
  /** Calls `listener` on every SIGHUP until the returned function is called. */
  onHangup(listener: () => void): () => void;
  /** Calls `listener` on every `signal` (forwarded to a container) until the returned function is called. */
  onSignal(signal: NodeJS.Signals, listener: () => void): () => void;
  /** Ends the process at once (`resolver run`'s third SIGINT, as the docker CLI). */
  exit(code: number): void;
}

/** What main.ts gives the program: the process, its streams and signals, and the services factory. */
export interface ProgramDeps {
  /** Text results (stdout) and diagnostics (stderr). */
  readonly output: Output;
  /** Where progress is drawn (stderr). */
  readonly stderr: ProgressSink;
  readonly io: RunIo;
  readonly signals: SignalHub;
  readonly services: (opts: ServiceOptions) => Services;
  readonly setExitCode: (code: number) => void;
  readonly process: CommandProcess;
  /** Monotonic milliseconds. */
  readonly clock: () => number;
}

/** Everything a command's `run` may ask for; each command's deps type is a part of this. */
export interface CommandDeps extends Omit<ProgramDeps, 'services'> {
  /** The registries (read and write), with the command's insecure hosts besides loopback. */
  readonly registry: Registry;
  readonly target: Services['target'];
  readonly engine: Services['engine'];
  readonly credentials: CredentialStore;
  readonly state: StateStore;
  readonly preflight: DiskPreflight;
  readonly pullSources: Services['pullSources'];
  /** The local drafts of manifest lists (`manifest create|annotate|push|rm`), opened on first use. */
  readonly drafts: () => Promise<DraftStore>;
  /** SIGINT/SIGTERM abort it (exit 130/143). */
  readonly signal: AbortSignal;
}

/** The drafts store in the default state folder (not the daemon's: drafts are the user's). */
export function draftsOf(p: CommandProcess): () => Promise<DraftStore> {
  return async () => {
    const [{ DraftStore }, { defaultStateDir }] = await Promise.all([import('../publish/drafts.js'), import('../state/state-store.js')]);
    return new DraftStore(defaultStateDir(p.env, homedir(), p.uid === 0));
  };
}

/**
 * Runs `body` with a command's deps for these insecure registries; closes the services however it ends.
 * The services (HTTP agents, the engine endpoint: an unknown DOCKER_CONTEXT fails here) are built before
 * `body` runs, or with `lazy` on first use, for the commands that may need none (`manifest annotate`, `rm`).
 */
export async function withCommandDeps<T>(deps: ProgramDeps, insecureRegistries: readonly string[], body: (deps: CommandDeps) => Promise<T>, options: { readonly lazy?: boolean } = {}): Promise<T> {
  const { services: servicesFor, ...rest } = deps;
  let services: Services | undefined;
  const open = (): Services => (services ??= servicesFor({ insecureRegistries: [...insecureRegistries] }));
  if (options.lazy !== true) open();
  try {
    return await body({
      ...rest,
      get registry() {
        return open().registry;
      },
      target: (o, signal) => open().target(o, signal),
      engine: (signal) => open().engine(signal),
      get credentials() {
        return open().credentials;
      },
      get state() {
        return open().state;
      },
      get preflight() {
        return open().preflight;
      },
      pullSources: (ref, store) => open().pullSources(ref, store),
      drafts: draftsOf(deps.process),
      signal: deps.signals.controller.signal,
    });
  } finally {
    await services?.close();
  }
}
