/**
 * Network namespaces the reliability suite creates for faults loopback cannot give: a registry port whose
 * SYNs are dropped (reliability.md §6 case 2). `ip netns add` makes a namespace with only `lo`; rules are
 * added inside it, so the host's network is never touched and nothing leaves the namespace. Root only.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cliPath, type CliRun } from '../e2e/cli.js';

/** True when this process can create namespaces and filter inside them (root, `ip` and `iptables`). */
export function canUseNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
    execFileSync('iptables', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A namespace with `lo` up; `close()` deletes it (and with it every rule and socket inside). */
export interface Netns {
  readonly name: string;
  /** Runs a command inside the namespace and returns its stdout. */
  exec(command: string, ...args: string[]): string;
  /** Drops every TCP SYN to `port` on 127.0.0.1: a connect there is never answered (a blackhole). */
  blackhole(port: number): void;
  /** Starts a long-running process inside the namespace. */
  spawn(command: string, args: readonly string[], env?: Record<string, string | undefined>): ChildProcess;
  /** Runs the built CLI inside the namespace, as `cli()` does outside (behind `prefix`, e.g. faketime). */
  cli(args: readonly string[], env?: Record<string, string | undefined>, prefix?: readonly string[]): Promise<CliRun>;
  close(): void;
}

/** Creates a namespace named `resolver-NAME-PID`. */
export function createNetns(name: string): Netns {
  const ns = `resolver-${name}-${process.pid}`;
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    // none left over
  }
  execFileSync('ip', ['netns', 'add', ns]);
  const exec = (command: string, ...args: string[]): string => execFileSync('ip', ['netns', 'exec', ns, command, ...args], { encoding: 'utf8' });
  exec('ip', 'link', 'set', 'lo', 'up');
  const baseEnv = (env: Record<string, string | undefined>): NodeJS.ProcessEnv => ({ PATH: process.env['PATH'], HOME: process.env['HOME'], DOCKER_HOST: 'unix:///nonexistent/docker.sock', ...env });
  const spawnIn = (command: string, args: readonly string[], env: Record<string, string | undefined> = {}): ChildProcess =>
    spawn('ip', ['netns', 'exec', ns, command, ...args], { env: baseEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  return {
    name: ns,
    exec,
    blackhole(port) {
      exec('iptables', '-A', 'OUTPUT', '-p', 'tcp', '-d', '127.0.0.1', '--dport', String(port), '--syn', '-j', 'DROP');
    },
    spawn: spawnIn,
    cli(args, env = {}, prefix = []) {
      return new Promise((resolve, reject) => {
        const argv = [...prefix, process.execPath, cliPath, ...args];
        const child = spawnIn(argv[0] ?? process.execPath, argv.slice(1), env);
        let stdout = '';
        let stderr = '';
        child.stdout?.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
        child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    },
    close() {
      execFileSync('ip', ['netns', 'del', ns]);
    },
  };
}
