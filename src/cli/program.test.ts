import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ResolverError } from '../errors.js';
import { buildProgram, commanderExit } from './program.js';
import type { ServiceOptions, Services } from './services.js';
import { SignalHub } from './signals.js';

/** Builds the program with services that record what they were asked for and then refuse. */
function harness(): { parse: (argv: string[]) => Promise<{ error: unknown; asked: ServiceOptions[]; err: string; out: string }> } {
  return {
    async parse(argv) {
      const asked: ServiceOptions[] = [];
      let err = '';
      let out = '';
      const stop = new ResolverError('ERR_ENGINE_UNAVAILABLE', 'stub services: stop here');
      const program = buildProgram({
        output: { out: (t) => (out += t), err: (t) => (err += t) },
        stderr: { write: () => undefined, isTTY: false },
        io: { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
        signals: new SignalHub(),
        setExitCode: () => undefined,
        process: { env: {}, hostname: 'test', uid: undefined, stdoutIsTTY: false, onHangup: () => () => undefined, onSignal: () => () => undefined, exit: () => undefined },
        clock: () => 0,
        services: (o) => {
          asked.push(o);
          const refuse = (): never => {
            throw stop;
          };
          return { registry: new Proxy({}, { get: refuse }), target: refuse, engine: refuse, close: () => Promise.resolve() } as unknown as Services;
        },
      });
      let error: unknown;
      try {
        await program.parseAsync(['node', 'resolver', ...argv]);
      } catch (e) {
        error = e;
      }
      return { error: error === stop ? undefined : error, asked, err, out };
    },
  };
}

const usage = (error: unknown): string | undefined => commanderExit(error)?.message ?? (error instanceof ResolverError && error.code === 'ERR_USAGE' ? error.message : undefined);

describe('program options', () => {
  it.each([
    [['which', '--store', 'overlay', 'alpine'], /--store <store>' argument 'overlay' is invalid\. Allowed choices are containerd, classic/],
    [['platform', '--store', 'Containerd'], /Allowed choices are containerd, classic/],
    [['which', '--engine-version', 'banana', 'alpine'], /use a Docker Engine version MAJOR\.MINOR, e\.g\. 26\.1, 28\.0 or 29\.7 \(got "banana"\)/],
    [['platform', '--engine-version', '29'], /MAJOR\.MINOR/],
  ])('%j is a usage error naming the allowed values (issue 13.14)', async (argv, message) => {
    const { error, asked } = await harness().parse(argv);
    expect(usage(error)).toMatch(message);
    expect(asked).toEqual([]);
  });

  it.each([['28.0.4', '28.0'], ['v26.1', '26.1'], ['29.7', '29.7']])('--engine-version %s is taken as %s', async (given, want) => {
    const h = harness();
    const { error } = await h.parse(['platform', '--engine-version', given]);
    expect(error).toBeUndefined();
    const { parseEngineVersion } = await import('./options.js');
    expect(parseEngineVersion(given)).toBe(want);
  });

  it('the global -H/--host and --context reach every command\'s services', async () => {
    const a = await harness().parse(['-H', 'unix:///run/x.sock', 'which', 'alpine']);
    expect(a.asked).toEqual([expect.objectContaining({ engineHost: 'unix:///run/x.sock', engineContext: undefined })]);
    const b = await harness().parse(['--context', 'edge', 'manifest', 'inspect', 'alpine']);
    expect(b.asked).toEqual([expect.objectContaining({ engineContext: 'edge' })]);
    // -c before the command is docker's --context; after `daemon`/`check` it stays their --config.
    const c = await harness().parse(['-c', 'edge', 'platform']);
    expect(c.asked).toEqual([expect.objectContaining({ engineContext: 'edge' })]);
    const d = await harness().parse(['-c', '/etc/resolver/resolver.yaml', 'check']);
    expect(usage(d.error)).toBe('--host/--context do not apply to "resolver check"');
  });

  it('--insecure-registry is repeatable on every command that has it', async () => {
    for (const argv of [['which'], ['pull'], ['manifest', 'inspect']]) {
      const { asked } = await harness().parse([...argv, '--insecure-registry', 'a.example:5000', '--insecure-registry', 'b.example', 'alpine']);
      expect(asked[0]?.insecureRegistries).toEqual(['a.example:5000', 'b.example']);
    }
  });

  it('manifest inspect --insecure makes the registry of IMAGE insecure, as docker manifest inspect --insecure', async () => {
    const { asked } = await harness().parse(['manifest', 'inspect', '--insecure', 'registry.example:5000/team/app:v1']);
    expect(asked[0]?.insecureRegistries).toEqual(['registry.example:5000']);
    const hub = await harness().parse(['manifest', 'inspect', '--insecure', 'alpine']);
    expect(hub.asked[0]?.insecureRegistries).toEqual(['registry-1.docker.io']);
  });

  it('--raw, -v and --table exclude each other', async () => {
    const { error } = await harness().parse(['manifest', 'inspect', '--raw', '-v', 'alpine']);
    expect(usage(error)).toBe('give at most one of --raw, --verbose and --table');
  });
});

describe('usage errors', () => {
  it.each([
    [['which', '--bogus', 'x'], "See 'resolver which --help'."],
    [['manifest', 'inspect'], "See 'resolver manifest inspect --help'."],
    [['frob'], "See 'resolver --help'."],
  ])('%j prints the error and one line pointing at the help, as docker does, not the whole help', async (argv, hint) => {
    const { error, err } = await harness().parse(argv);
    expect(usage(error)).toBeDefined();
    expect(err).toContain(hint);
    expect(err).not.toMatch(/^Usage:/m);
    expect(err.trim().split('\n')).toHaveLength(2);
  });
});

describe('config check: the file as FILE or --config FILE', () => {
  const dir = mkdtempSync(join(tmpdir(), 'config-check-'));
  const good = join(dir, 'good.yaml');
  writeFileSync(good, 'images:\n  - image: 127.0.0.1:1/a:b\n');
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'images: 3\n');

  it.each([[['config', 'check', good]], [['config', 'check', '--config', good]], [['config', 'check', `--config=${good}`]]])('%j validates that file', async (argv) => {
    const { error, out } = await harness().parse(argv);
    expect(error).toBeUndefined();
    expect(out).toBe(`${good}: valid (1 image)`);
  });

  it('--config FILE is the file checked (an invalid one: exit 78), not the default', async () => {
    const { error } = await harness().parse(['config', 'check', '--config', bad]);
    expect(error).toBeInstanceOf(ResolverError);
    expect((error as ResolverError).code).toBe('ERR_CONFIG_INVALID');
    expect((error as ResolverError).message).toContain(bad);
  });

  it('both FILE and --config FILE is a usage error', async () => {
    const { error } = await harness().parse(['config', 'check', '--config', good, good]);
    expect(usage(error)).toBe('give the config file once: resolver config check FILE, or resolver config check --config FILE');
  });
});
