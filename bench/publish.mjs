#!/usr/bin/env node
// Publishing benchmarks, side by side in one run against two private registries (no engine needed):
//   the article's list (2 per-arch images in other repositories, same registry: blob mounts)
//     resolver manifest push --from-spec   vs   docker manifest create + docker manifest push
//   a copy to another registry (one image with a BENCH_COPY_MB, default 100, MB incompressible layer)
//     resolver manifest push --from-spec   vs   skopeo copy
// Wall time (median of BENCH_RUNS, default 7, alternating, after a warm-up) and peak RSS of the process
// (from /usr/bin/time, when installed). Every run targets a new repository, so nothing is skipped as present.
// Node starts are timed with NODE_EXTRA_CA_CERTS unset, as on a user's host.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { dist, root, sandbox } from './setup.mjs';

const { startRegistry } = await import(sandbox('registry-server.js'));
const { createHttpClient } = await import(dist('http/http.js'));
const { Pusher } = await import(sandbox('push.js'));
const { buildImage } = await import(sandbox('oci-builder.js'));

const runs = Number(process.env.BENCH_RUNS ?? 7);
const copyMb = Number(process.env.BENCH_COPY_MB ?? 100);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const tmp = mkdtempSync(join(tmpdir(), 'resolver-bench-publish-'));
const http = createHttpClient();
const a = await startRegistry({ dir: join(tmp, 'a'), auth: { kind: 'none' } });
const b = await startRegistry({ dir: join(tmp, 'b'), auth: { kind: 'none' } });
const env = { ...process.env, DOCKER_CONFIG: join(tmp, 'cfg'), RESOLVER_STATE_DIR: join(tmp, 'state'), TMPDIR: tmp };
delete env.NODE_EXTRA_CA_CERTS;
mkdirSync(env.DOCKER_CONFIG, { recursive: true });
const cli = join(root, 'bin/resolver.cjs');
const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

/** Runs commands in sequence; returns wall ms and the largest peak RSS (MB) among them. */
function measure(commands) {
  let rss = 0;
  const t = performance.now();
  for (const [cmd, args] of commands) {
    const argv = timeBin === undefined ? [cmd, args] : [timeBin, ['-f', '%M', cmd, ...args]];
    const r = spawnSync(argv[0], argv[1], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
    if (timeBin !== undefined) rss = Math.max(rss, Number(r.stderr.toString().trim().split('\n').at(-1)) / 1024);
  }
  return { ms: performance.now() - t, rss };
}

let n = 0;
function spec(name, target, sources) {
  const file = join(tmp, `${name}-${n}.yml`);
  writeFileSync(file, `image: ${target}\nmanifests:\n${sources.map((s) => `  - image: ${s}\n`).join('')}`);
  return file;
}

try {
  const push = async (host, repository, arch, variant, bytes) => {
    const img = buildImage({ platform: { os: 'linux', architecture: arch, ...(variant ? { variant } : {}) }, files: [{ path: 'payload', content: bytes }], format: 'docker', label: repository });
    const p = new Pusher({ http, host, repository });
    await p.image(img);
    await p.manifest(img.manifest, 'latest');
  };
  await push(a.host, 'amd64/golang', 'amd64', undefined, randomBytes(2_000_000));
  await push(a.host, 'arm64v8/golang', 'arm64', 'v8', randomBytes(2_000_000));
  // A new layer before every copy (not timed): skopeo remembers where it has seen a blob (its blob-info
  // cache) and would mount it from there instead of copying, and resolver would find it present.
  let big = 0;
  const freshBig = async () => {
    await push(a.host, `big/app${++big}`, 'amd64', undefined, randomBytes(copyMb * 1_000_000));
    return `${a.host}/big/app${big}:latest`;
  };
  const article = [`${a.host}/amd64/golang:latest`, `${a.host}/arm64v8/golang:latest`];

  const cases = [
    {
      what: 'article list, same registry (mounts)',
      resolver: () => measure([[process.execPath, [cli, 'manifest', 'push', '--from-spec', spec('article', `${a.host}/sg${++n}/super-golang:latest`, article)]]]),
      peerName: 'docker manifest create + push',
      peer: () => {
        const list = `${a.host}/sg${++n}/super-golang:latest`;
        return measure([['docker', ['manifest', 'create', '--insecure', list, ...article]], ['docker', ['manifest', 'push', '--insecure', '--purge', list]]]);
      },
    },
    {
      what: `copy ${copyMb} MB to another registry`,
      before: freshBig,
      resolver: (src) => measure([[process.execPath, [cli, 'manifest', 'push', '--from-spec', spec('copy', `${b.host}/r${++n}/app:latest`, [src])]]]),
      peerName: 'skopeo copy',
      peer: (src) => measure([['skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${src}`, `docker://${b.host}/s${++n}/app:latest`]]]),
    },
  ];
  const rows = [];
  for (const c of cases) {
    const fresh = async () => (c.before === undefined ? undefined : c.before());
    c.resolver(await fresh()); c.peer(await fresh());
    const xa = [], xb = [];
    for (let i = 0; i < runs; i++) {
      const pair = i % 2 === 0 ? [c.resolver, c.peer] : [c.peer, c.resolver];
      const first = pair[0](await fresh());
      const second = pair[1](await fresh());
      (i % 2 === 0 ? xa : xb).push(first);
      (i % 2 === 0 ? xb : xa).push(second);
    }
    rows.push([c.what, median(xa.map((x) => x.ms)), Math.max(...xa.map((x) => x.rss)), c.peerName, median(xb.map((x) => x.ms)), Math.max(...xb.map((x) => x.rss))]);
  }
  const versions = `${`docker CLI ${execFileSync('docker', ['--version'], { env, encoding: 'utf8' }).trim().replace(/^Docker version /, '')}`}; ${execFileSync('skopeo', ['--version'], { encoding: 'utf8' }).trim()}`;
  const lines = [
    `runs per command: ${runs} (alternating, after a warm-up); ${versions}; NODE_EXTRA_CA_CERTS unset; peak RSS ${timeBin === undefined ? 'not measured (/usr/bin/time missing)' : 'from /usr/bin/time (largest of the run)'}`,
    '',
    '| case | resolver ms | resolver peak RSS MB | peer | peer ms | peer peak RSS MB | time ratio |',
    '|---|---:|---:|---|---:|---:|---:|',
    ...rows.map(([what, ma, ra, peer, mb, rb]) => `| ${what} | ${ma.toFixed(0)} | ${ra.toFixed(0)} | ${peer} | ${mb.toFixed(0)} | ${rb.toFixed(0)} | ${(ma / mb).toFixed(2)} |`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (process.env.BENCH_WRITE) writeFileSync(process.env.BENCH_WRITE, `${lines.join('\n')}\n`);
} finally {
  await http.close();
  await a.stop();
  await b.stop();
  rmSync(tmp, { recursive: true, force: true });
}
