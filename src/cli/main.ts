#!/usr/bin/env node
/**
 * The process boundary: strips `modem` from DEBUG before anything can load docker-modem (it prints
 * X-Registry-Auth, i.e. passwords), builds the program, maps errors to exit codes. The only place that
 * sets the exit code.
 */
import { CommanderError } from 'commander';
import { setFlagsFromString } from 'node:v8';
import { exitCodeOf, ResolverError } from '../errors.js';
import { printError, processOutput } from './output.js';
import { buildProgram, commanderExit } from './program.js';
import { createServices } from './services.js';

if (process.env['DEBUG'] !== undefined) {
  const kept = process.env['DEBUG'].split(',').filter((d) => !/modem/.test(d.trim()));
  process.env['DEBUG'] = kept.join(',');
}

// undici's HTTP parser is WebAssembly; V8 tiers it up with TurboFan on a background thread and waits
// for that compile at exit, which kept every one-shot command alive ~180 ms longer (measured, bench/README.md).
// Liftoff alone is plenty for a few requests. Set before the first connection compiles the module.
if (process.argv[2] !== 'daemon') setFlagsFromString('--liftoff-only');

const argv = process.argv;
const json = argv.includes('--json');
const program = buildProgram({
  output: processOutput,
  services: (opts) => createServices(process.env, { ...opts, onWarning: (m) => processOutput.err(`warning: ${m}`) }),
});

try {
  await program.parseAsync(argv);
} catch (error) {
  if (error instanceof CommanderError) {
    const usage = commanderExit(error);
    process.exitCode = usage === undefined ? 0 : exitCodeOf(usage);
  } else {
    printError(processOutput, error, json);
    process.exitCode = error instanceof ResolverError ? exitCodeOf(error) : 1;
  }
}
