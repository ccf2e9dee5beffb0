/**
 * Options several commands share, declared once: `--insecure-registry`, `--store`, `--engine-version`,
 * and the global engine options `--host`/`-H` and `--context` (docker's). Invalid values are usage
 * errors (exit 2) that name the allowed values.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';

/** The image stores resolver can imitate. */
export const storeChoices = ['containerd', 'classic'] as const;

/** `--insecure-registry HOST` (repeatable). The parsed value is `insecureRegistry: string[]`. */
export function addInsecureRegistryOption(cmd: Command): Command {
  return cmd.option('--insecure-registry <host>', 'allow plain HTTP / unverified TLS for this registry (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[]);
}

/** Parses `--engine-version`: `MAJOR.MINOR` or `MAJOR.MINOR.PATCH` (e.g. 26.1, 28.0.4), kept as `MAJOR.MINOR`. */
export function parseEngineVersion(value: string): string {
  const m = /^v?(\d{1,2})\.(\d{1,2})(?:\.\d{1,3})?$/.exec(value.trim());
  if (m === null) throw new InvalidArgumentError(`use a Docker Engine version MAJOR.MINOR, e.g. 26.1, 28.0 or 29.7 (got "${value}")`);
  return `${Number(m[1])}.${Number(m[2])}`;
}

/** `--store` (containerd | classic) and `--engine-version X.Y`. */
export function addRulesOptions(cmd: Command, help: { store: string; engineVersion: string }): Command {
  return cmd
    .addOption(new Option('--store <store>', help.store).choices(storeChoices))
    .addOption(new Option('--engine-version <x.y>', help.engineVersion).argParser(parseEngineVersion));
}

/** The global engine options of docker: `-H, --host` and `--context`. */
export function addEngineOptions(program: Command): Command {
  return program
    .option('-H, --host <host>', 'Docker Engine to connect to (unix:///path/docker.sock, tcp://HOST:PORT), as docker -H; overrides DOCKER_HOST and contexts')
    .option('-c, --context <name>', 'docker context to use (overrides DOCKER_HOST, DOCKER_CONTEXT and "docker context use"); "default" = DOCKER_HOST or the default socket');
}

/** The global engine options as parsed. */
export interface EngineOptions {
  readonly host?: string | undefined;
  readonly context?: string | undefined;
}

/** A command group (`config`, `notify`, `manifest`): found when already registered, else added; usage errors throw. */
export function commandGroup(program: Command, name: string, description: string): Command {
  const group = program.commands.find((c) => c.name() === name) ?? program.command(name).description(description);
  return group.exitOverride();
}

/** `--config FILE` with the daemon's default config file. */
export function addConfigOption(cmd: Command, defaultFile: string, help = 'config file'): Command {
  return cmd.option('--config <file>', help, defaultFile);
}
