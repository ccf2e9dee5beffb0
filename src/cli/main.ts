/**
 * The process boundary: clears DEBUG and DEBUG_* before anything can load docker-modem (through the
 * debug package it prints X-Registry-Auth, i.e. passwords, for any DEBUG pattern that matches `modem`:
 * `*`, `mod*`, `-x,*` …), builds the program, maps errors to exit codes. The only place that sets the
 * exit code. Shipped bundled (scripts/bundle.mjs) behind bin/resolver.cjs, which sets V8 flags.
 */
import { hostname } from 'node:os';
import { CommanderError } from 'commander';
import { exitCodeOf, ResolverError } from '../errors.js';
import { printError, processOutput } from './output.js';
import { noEscapesWanted } from './progress.js';
import { runUsageCode } from './commands/run.js';
import { buildProgram, commanderExit } from './program.js';
import { createServices } from './services.js';
import { SignalHub } from './signals.js';

// Second layer (issue 13.1): the bundle maps `debug` to a no-op and bin/resolver.cjs clears these too.
// Filtering patterns is not enough: the debug package's syntax has wildcards and negations.
for (const name of Object.keys(process.env)) if (name === 'DEBUG' || name.startsWith('DEBUG_')) Reflect.deleteProperty(process.env, name);

function onSignal(signal: NodeJS.Signals, listener: () => void): () => void {
  process.on(signal, listener);
  return () => void process.off(signal, listener);
}

async function main(argv: readonly string[]): Promise<number> {
  const json = argv.includes('--json');
  const signals = new SignalHub();
  signals.install();
  let exitCode = 0;
  const program = buildProgram({
    output: processOutput,
    stderr: {
      write: (t) => void process.stderr.write(t),
      isTTY: process.stderr.isTTY,
      get columns() {
        return process.stderr.columns;
      },
      noEscapes: noEscapesWanted(process.env),
    },
    io: { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
    signals,
    setExitCode: (code) => {
      exitCode = code;
    },
    services: (opts) => createServices(process.env, { ...opts, onWarning: (m) => processOutput.err(`warning: ${m}`) }),
    process: {
      env: process.env,
      hostname: hostname(),
      uid: process.getuid?.(),
      stdoutIsTTY: process.stdout.isTTY,
      onHangup: (listener) => onSignal('SIGHUP', listener),
      onSignal,
      exit: (code) => process.exit(code),
    },
    // Monotonic milliseconds without `performance` (its first use loads perf_hooks: ~2 ms a one-shot start does not need).
    clock: () => Number(process.hrtime.bigint()) / 1e6,
  });
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === runUsageCode) return error.exitCode;
      const usage = commanderExit(error);
      return usage === undefined ? 0 : exitCodeOf(usage);
    }
    printError(processOutput, error, json);
    if (error instanceof ResolverError && error.code === 'ERR_ABORTED') return signals.exitCode();
    return error instanceof ResolverError ? exitCodeOf(error) : 1;
  } finally {
    signals.uninstall();
  }
}

function start(): void {
  main(process.argv).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      printError(processOutput, error, false);
      process.exitCode = 1;
    },
  );
}

// bin/resolver-snapshot.cjs evaluates the bundle while Node builds a V8 startup snapshot and runs `start` only
// after the snapshot is deserialised (docs/packaging.md §Startup snapshot): it leaves this hook on globalThis.
const defer = (globalThis as Record<symbol, ((main: () => void) => void) | undefined>)[Symbol.for('resolver.deferMain')];
if (defer === undefined) start();
else defer(start);
