/**
 * Issue 13.1: no value of DEBUG (nor the debug package's DEBUG_* knobs) makes a secret reach any output.
 * A canary password on a real htpasswd registry, pulled through the real dockerd (X-Registry-Auth carries
 * the password), looked up by `which`, and kept pulled by the daemon: 0 hits of the canary, plain or in
 * any base64 / base64url run of the output, for every pattern form of the debug package's syntax.
 * The MQTT client is a second file (dist/resolver-mqtt.cjs, loaded only for an MQTT sink): with the canary as
 * the broker password (Debian's mosquitto on loopback), neither `notify test` through the launcher nor the
 * chunk loaded on its own with DEBUG set prints the canary or any of mqtt's `mqttjs:*` debug lines.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient } from '../../src/http/http.js';
import { buildImage, buildIndex, platformObject } from '../sandbox/oci-builder.js';
import { Pusher } from '../sandbox/push.js';
import { startRegistry, type RunningRegistry } from '../sandbox/registry-server.js';
import { cli, cliPath } from './cli.js';
import { engineApi } from './engine-api.js';

const s = inject('services');
const dockerHost = s.engine;
const http = createHttpClient();
const user = 'canary-user';
const canary = `canary-${randomBytes(12).toString('hex')}`;
let dir = '';
let registry: RunningRegistry;
let dockerConfig = '';

/** Every pattern form of the debug package: wildcards, lists, negations, whitespace, prefixes. */
const debugValues = ['*', 'modem', 'mod*', '*dem', 'm*m', '-x,*', '*,-nothing', 'docker*', ' modem ', 'other modem', 'modem,other', 'x,,modem', '*:*', 'MODEM'];
/** The debug package's formatting knobs, set together with DEBUG. */
const debugKnobs = { DEBUG_HIDE_DATE: 'true', DEBUG_DEPTH: '20', DEBUG_COLORS: 'false', DEBUG_SHOW_HIDDEN: 'true' };
/** Node's own debug logs (undici prints request lines through them): read at bootstrap, they print no secret. */
const nodeDebug = { NODE_DEBUG: '*' };

/** Hits of the canary in `text`: plain, or inside any decoded base64 / base64url run. */
function canaryHits(text: string): string[] {
  const hits: string[] = [];
  if (text.includes(canary)) hits.push('plain');
  for (const run of text.match(/[A-Za-z0-9+/_-]{16,}={0,2}/g) ?? []) {
    // Every alignment: a secret inside a longer base64 string decodes only from its own offset.
    for (let shift = 0; shift < 4; shift++) {
      const decoded = Buffer.from(run.slice(shift).replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('latin1');
      if (decoded.includes(canary)) hits.push(`base64: ${run.slice(0, 24)}…`);
    }
  }
  return hits;
}

beforeAll(async () => {
  dir = await mkdtemp(join(s.tmp, 'security-debug-'));
  const htpasswd = join(dir, 'htpasswd');
  await writeFile(htpasswd, execFileSync('htpasswd', ['-Bbn', user, canary]));
  registry = await startRegistry({ dir: join(dir, 'registry'), auth: { kind: 'htpasswd', file: htpasswd } });
  const children = [buildImage({ platform: { os: 'linux', architecture: 'amd64' }, files: [{ path: 'c', content: Buffer.from('canary') }], format: 'oci', label: 'canary' })];
  const pusher = new Pusher({ http, host: registry.host, repository: 'secret/app', username: user, password: canary });
  for (const c of children) await pusher.image(c);
  await pusher.manifest(buildIndex(children.map((c) => ({ manifest: c.manifest, platform: platformObject(c.platform) })), 'oci'), 'latest');
  dockerConfig = join(dir, 'docker');
  await mkdir(dockerConfig);
  await writeFile(join(dockerConfig, 'config.json'), JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${user}:${canary}`).toString('base64') } } }));
});
afterAll(async () => {
  await registry.stop();
  await http.close();
});

describe('no DEBUG value prints a secret', () => {
  it('the canary detector finds the secret in the shapes docker-modem prints it', () => {
    const auth = Buffer.from(JSON.stringify({ username: user, password: canary, serveraddress: registry.host })).toString('base64url');
    expect(canaryHits(`'X-Registry-Auth': '${auth}'`)).not.toEqual([]);
    expect(canaryHits(`Authorization: Basic ${Buffer.from(`${user}:${canary}`).toString('base64')}`)).not.toEqual([]);
    expect(canaryHits(`password: ${canary}`)).not.toEqual([]);
    expect(canaryHits('nothing secret here, sha256:0123456789abcdef0123456789abcdef')).toEqual([]);
  });

  it.each(debugValues)('which with DEBUG=%j', async (value) => {
    const r = await cli(['which', `${registry.host}/secret/app:latest`, '--platform', 'linux/amd64'], { DOCKER_CONFIG: dockerConfig, DEBUG: value, ...debugKnobs, ...(value === '*' ? nodeDebug : {}) });
    expect(r.code, r.stderr).toBe(0);
    expect(canaryHits(r.stdout + r.stderr)).toEqual([]);
  });

  describe.runIf(dockerHost !== undefined || process.env['CI'] === 'true')('through the real dockerd (X-Registry-Auth)', () => {
    const api = dockerHost === undefined ? undefined : engineApi(dockerHost);
    afterAll(async () => api?.close());

    it.each(debugValues)('pull with DEBUG=%j', async (value) => {
      const ref = `${registry.host}/secret/app:latest`;
      await api?.del(`/images/${ref}?force=1`);
      const stateDir = await mkdtemp(join(dir, 'state-'));
      const r = await cli(['pull', ref], { DOCKER_HOST: dockerHost ?? '', RESOLVER_STATE_DIR: stateDir, DOCKER_CONFIG: dockerConfig, DEBUG: value, ...debugKnobs, ...(value === '*' ? nodeDebug : {}) });
      expect(r.code, r.stderr).toBe(0);
      // The engine pulled (so X-Registry-Auth was sent), not "already present".
      expect(r.stderr).not.toMatch(/already present/);
      expect(canaryHits(r.stdout + r.stderr)).toEqual([]);
    });

    it.each(['*', '-x,*', 'modem'])('the daemon with DEBUG=%j pulls and prints no secret', async (value) => {
      const ref = `${registry.host}/secret/app:latest`;
      await api?.del(`/images/${ref}?force=1`);
      const stateDir = await mkdtemp(join(dir, 'daemon-state-'));
      const config = join(stateDir, 'resolver.yaml');
      await writeFile(config, `engine:\n  host: ${dockerHost}\nschedule: "*/2 * * * * *"\nsplay: 0s\nstateDir: ${stateDir}\nlogLevel: trace\nshutdownTimeout: 5s\nregistries:\n  dockerConfig: ${dockerConfig}\nimages:\n  - image: ${ref}\n`);
      const child = spawn(process.execPath, [cliPath, 'daemon', '--config', config], {
        env: { PATH: process.env['PATH'], HOME: process.env['HOME'], DEBUG: value, ...debugKnobs }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString('latin1')));
      child.stderr.on('data', (c: Buffer) => (out += c.toString('latin1')));
      const exited = new Promise<number | null>((r) => child.on('close', r));
      try {
        const end = Date.now() + 60_000;
        while (!out.includes('"msg":"pulled a new child"')) {
          if (Date.now() > end) throw new Error(`the daemon did not pull within 60 s:\n${out.slice(-2000)}`);
          await delay(200);
        }
      } finally {
        child.kill('SIGTERM');
        await exited;
      }
      expect(out).toMatch(/"msg":"pulled a new child"/);
      expect(canaryHits(out)).toEqual([]);
    });
  });
});

describe('the MQTT chunk prints no debug output and no secret', () => {
  const mqttUser = 'canary-mqtt';
  let broker: ChildProcess | undefined;
  let port = 0;
  let mqttDir = '';

  beforeAll(async () => {
    mqttDir = await mkdtemp(join(dir, 'mqtt-'));
    port = await new Promise<number>((ok) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const a = srv.address();
        srv.close(() => ok(typeof a === 'object' && a !== null ? a.port : 0));
      });
    });
    execFileSync('mosquitto_passwd', ['-b', '-c', join(mqttDir, 'passwd'), mqttUser, canary]);
    await writeFile(join(mqttDir, 'mosquitto.conf'), [`listener ${port} 127.0.0.1`, 'allow_anonymous false', `password_file ${join(mqttDir, 'passwd')}`, 'persistence false', 'user root', ''].join('\n'));
    broker = spawn('/usr/sbin/mosquitto', ['-c', join(mqttDir, 'mosquitto.conf')], { stdio: 'ignore' });
    const end = Date.now() + 10_000;
    for (;;) {
      const r = spawnSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-u', mqttUser, '-P', canary, '-t', 'probe', '-m', 'x'], { timeout: 2000 });
      if (r.status === 0) break;
      if (Date.now() > end) throw new Error(`mosquitto did not start: ${r.stderr.toString()}`);
      await delay(50);
    }
    await writeFile(join(mqttDir, 'password'), `${canary}\n`);
  });
  afterAll(async () => {
    const b = broker;
    if (b?.exitCode !== null) return;
    await new Promise<void>((r) => {
      b.once('exit', () => r());
      b.kill('SIGTERM');
    });
  });

  it.each(['*', 'mqttjs*', 'mqttjs:client'])('notify test with DEBUG=%j publishes and prints no secret', async (value) => {
    const config = join(mqttDir, `resolver-${value.replace(/\W/g, '_')}.yaml`);
    await writeFile(config, [`images: [{ image: 127.0.0.1:1/app:1 }]`, `stateDir: ${join(mqttDir, 'state')}`, 'notifications:', '  mqtt:', `    url: mqtt://127.0.0.1:${port}`, `    username: ${mqttUser}`, `    password: { file: ${join(mqttDir, 'password')} }`, '    topicPrefix: canary', '    timeout: 5s', ''].join('\n'));
    const r = await cli(['notify', 'test', '--config', config], { DEBUG: value, ...debugKnobs });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/mqtt +mqtt +mqtt:\/\/127\.0\.0\.1:\d+ +ok/);
    expect(r.stdout + r.stderr).not.toMatch(/mqttjs/);
    expect(canaryHits(r.stdout + r.stderr)).toEqual([]);
  });

  it('dist/resolver-mqtt.cjs loaded with DEBUG=* set (no launcher to clear it) connects and prints nothing', () => {
    const chunk = resolve('dist/resolver-mqtt.cjs');
    const script = `process.env.DEBUG = '*'; process.env.DEBUG_COLORS = 'false';
      const { connectAsync } = require(${JSON.stringify(chunk)});
      connectAsync('mqtt://127.0.0.1:${port}', { username: ${JSON.stringify(mqttUser)}, password: process.argv[1], reconnectPeriod: 0, connectTimeout: 5000 })
        .then(async (c) => { await c.publishAsync('canary/t', 'x'); await c.endAsync(); process.exitCode = 0; }, (e) => { process.exitCode = 3; process.stdout.write('failed ' + e.message); });`;
    const r = spawnSync(process.execPath, ['-e', script, canary], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env['PATH'], HOME: process.env['HOME'] } });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toBe('');
    expect(readFileSync(chunk, 'utf8')).not.toMatch(/require\("debug"\)/);
  });
});
