/**
 * SIGINT/SIGTERM for CLI commands: by default they cancel the command's AbortSignal; a command that runs
 * a container pushes its own handler (forwarding the signal). The exit code then follows the shell
 * convention: 130 for SIGINT, 143 for SIGTERM. A cancelled command gets a second to unwind (undici cannot
 * cancel a TCP/TLS connect in progress, which would otherwise hold the process for the 5 s connect timeout);
 * then, or at a second signal, the process exits.
 */
import { ResolverError } from '../errors.js';
import { processOutput } from './output.js';

/** Routes termination signals. */
export class SignalHub {
  readonly controller = new AbortController();
  /** How long a cancelled command may take to unwind before the process exits. */
  graceMs = 1000;
  received: 'SIGINT' | 'SIGTERM' | undefined;
  readonly #handlers: ((signal: 'SIGINT' | 'SIGTERM') => void)[] = [];
  readonly #listeners: [string, () => void][] = [];

  /** Listens on the process. */
  install(): void {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const listener = (): void => {
        const handler = this.#handlers.at(-1);
        if (handler !== undefined) {
          this.received = signal;
          handler(signal);
          return;
        }
        if (this.received !== undefined) this.#exit();
        this.received = signal;
        this.controller.abort(new ResolverError('ERR_ABORTED', `interrupted by ${signal}`));
        setTimeout(() => this.#exit(), this.graceMs).unref();
      };
      process.on(signal, listener);
      this.#listeners.push([signal, listener]);
    }
  }

  /** Makes `handler` receive signals until the returned function is called. */
  push(handler: (signal: 'SIGINT' | 'SIGTERM') => void): () => void {
    this.#handlers.push(handler);
    return () => {
      const i = this.#handlers.lastIndexOf(handler);
      if (i !== -1) this.#handlers.splice(i, 1);
    };
  }

  /** Stops listening. */
  uninstall(): void {
    for (const [signal, listener] of this.#listeners) process.off(signal, listener);
    this.#listeners.length = 0;
  }

  #exit(): never {
    processOutput.err(`resolver: interrupted by ${this.received ?? 'a signal'}`);
    process.exit(this.exitCode());
  }

  /** The exit code for a cancelled command. */
  exitCode(): number {
    return this.received === 'SIGTERM' ? 143 : 130;
  }
}
