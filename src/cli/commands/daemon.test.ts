import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireLock } from '../../daemon/lock.js';
import { SignalHub } from '../signals.js';
import { checkExitCode, checkExitCodes, runCheck, runConfigCheck, runStatus, statusRows, type DaemonCommandDeps } from './daemon.js';
import { expectResolverError } from '../../../test/fakes/expect-error.js';

function deps(env: NodeJS.ProcessEnv = {}): { deps: DaemonCommandDeps; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out, err,
    deps: {
      output: { out: (t) => void out.push(t), err: (t) => void err.push(t) },
      signals: new SignalHub(),
      setExitCode: () => undefined,
      process: { env, hostname: 'unit', uid: process.getuid?.(), stdoutIsTTY: false, onHangup: () => () => undefined },
    },
  };
}

describe('check exit codes', () => {
  it.each([
    [['ok', 'ok'], checkExitCodes.ok],
    [['ok', 'held'], checkExitCodes.held],
    [['held', 'failing'], checkExitCodes.someFailed],
    [['failing', 'failing'], checkExitCodes.allFailed],
    [[], checkExitCodes.ok],
  ] as const)('%j → %i', (states, code) => {
    expect(checkExitCode(states.map((state) => ({ state })))).toBe(code);
  });
});

describe('runStatus', () => {
  it('fails on a --config that does not load; without --config a missing default file means the default folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'status-'));
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'images: [\n');
    const a = deps({ RESOLVER_STATE_DIR: join(dir, 'default-state') });
    await expect(runStatus({ config: bad, configGiven: true, json: true }, a.deps)).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    expect(a.out).toEqual([]);
    await runStatus({ config: join(dir, 'absent.yaml'), configGiven: false, json: true }, a.deps);
    expect(JSON.parse(a.out[0] ?? '')).toEqual({ daemon: 'not running', images: [] });
    await expect(runStatus({ config: join(dir, 'absent.yaml'), configGiven: true, json: true }, a.deps)).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
  });
});

describe('runCheck', () => {
  it('beside a running daemon, asks it to run the cycle and returns its result (issue 9.5)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'check-'));
    const stateDir = join(dir, 'state');
    const file = join(dir, 'c.yaml');
    await writeFile(file, `stateDir: ${stateDir}\nimages:\n  - image: localhost:5001/app:1\n`);
    const asked: unknown[] = [];
    const images = [{ key: 'localhost:5001/app:1 detected', image: 'localhost:5001/app:1', state: 'ok', lastResult: 'unchanged' }];
    const lock = await acquireLock(stateDir, (r) => {
      asked.push(r);
      return Promise.resolve({ pid: 4242, images });
    });
    try {
      const d = deps();
      expect(await runCheck({ config: file, dryRun: true, json: true }, d.deps)).toEqual(images);
      expect(asked).toEqual([{ op: 'check', dryRun: true }]);
      expect(d.err.join('')).toMatch(/the daemon \(pid 4242\) ran this cycle/);
      expect(d.out).toEqual([]);
    } finally {
      await lock.close();
    }
  });
});

describe('runDaemon', () => {
  it('listens for SIGHUP before the daemon starts, so an early one cannot end the process; a failed start removes the listener', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'daemon-cmd-'));
    const file = join(dir, 'c.yaml');
    // A metrics port that cannot be bound makes start fail after the config loaded.
    await writeFile(file, `stateDir: ${join(dir, 'state')}\nmetrics:\n  listen: 127.0.0.1:0\nimages:\n  - image: localhost:5001/app:1\n`);
    const listeners: (() => void)[] = [];
    const d = deps();
    const withHangup: DaemonCommandDeps = {
      ...d.deps,
      process: {
        ...d.deps.process,
        onHangup: (l) => {
          listeners.push(l);
          return () => void listeners.splice(listeners.indexOf(l), 1);
        },
      },
    };
    const { runDaemon } = await import('./daemon.js');
    await expect(runDaemon({ config: file }, withHangup)).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    expect(listeners).toEqual([]);
  });
});

describe('runStatus is read-only', () => {
  it('reports a corrupt state file, exits 1 and leaves the folder exactly as it was; a missing folder is not created', async () => {
    const { mkdir, readdir, readFile, stat } = await import('node:fs/promises');
    const dir = await mkdtemp(join(tmpdir(), 'status-ro-'));
    const stateDir = join(dir, 'state');
    await mkdir(stateDir, { mode: 0o700 });
    await writeFile(join(stateDir, 'state.json'), 'garbage{');
    await writeFile(join(stateDir, 'state.json.tmp-1-2'), 'left by a killed writer');
    const codes: number[] = [];
    const a = deps({ RESOLVER_STATE_DIR: stateDir });
    const d = { ...a.deps, setExitCode: (c: number) => void codes.push(c) };
    await runStatus({ config: join(dir, 'absent.yaml'), configGiven: false, json: false }, d);
    expect(codes).toEqual([1]);
    expect(a.out).toEqual([]);
    expect(a.err.join('\n')).toMatch(/state file .*state\.json is unreadable; left as it is/);
    expect((await readdir(stateDir)).sort()).toEqual(['state.json', 'state.json.tmp-1-2']);
    expect(await readFile(join(stateDir, 'state.json'), 'utf8')).toBe('garbage{');
    const missing = join(dir, 'never');
    await runStatus({ config: join(dir, 'absent.yaml'), configGiven: false, json: true }, deps({ RESOLVER_STATE_DIR: missing }).deps);
    await expect(stat(missing)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('the check table', () => {
  it('says which entries a dry run would pull, and the child it would pull', () => {
    const base = {
      platform: 'linux/amd64', schedule: '* * * * *', state: 'ok', indexDigest: `sha256:${'1'.repeat(64)}`, lastCheck: 'T', lastPull: undefined,
      nextRun: undefined, failures: 0, backoffUntil: undefined, retryAfterSeconds: undefined, lastError: undefined, held: undefined,
    } as const;
    const text = statusRows([
      { ...base, key: 'a', image: 'r/a:1', childDigest: `sha256:${'a'.repeat(64)}`, lastResult: 'would-pull' },
      { ...base, key: 'b', image: 'r/b:1', childDigest: `sha256:${'b'.repeat(64)}`, lastResult: 'unchanged' },
    ]);
    expect(text).toMatch(/r\/a:1\s+linux\/amd64\s+would pull\s+sha256:1{12}\s+sha256:a{12}/);
    expect(text).toMatch(/r\/b:1\s+linux\/amd64\s+ok\s/);
  });
});

describe('runConfigCheck', () => {
  it('returns the validated config; an invalid file is ERR_CONFIG_INVALID (exit 78)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'config-check-'));
    const good = join(dir, 'good.yaml');
    await writeFile(good, 'images:\n  - image: localhost:5001/app:1\n');
    expect((await runConfigCheck({ file: good })).images.map((i) => i.image)).toEqual(['localhost:5001/app:1']);
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'images:\n  - imag: localhost:5001/app:1\n');
    await expectResolverError(runConfigCheck({ file: bad }), 'ERR_CONFIG_INVALID');
  });
});
