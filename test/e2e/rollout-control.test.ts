/**
 * The rollout control document (issue 12 §3; docs/rollout.md) on a running built daemon with a fake clock
 * (libfaketime: the daemon's wall clock jumps, monotonic time does not), against a real docker-registry
 * behind a counting proxy and the harness's private dockerd. What the engine pulled is counted at the
 * registry (GETs of the child's layer blob, which only the engine downloads) and in the engine itself.
 * Each `resolver check` beside the daemon is one check run by the daemon. The ramp is 1/10/50/100 % every
 * 6 h; each device id is chosen for its cohort of the new child.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient } from '../../src/http/http.js';
import { controlDocument } from '../../src/rollout/control.js';
import { cohortOf, type RolloutControl } from '../../src/rollout/decide.js';
import type { SlowProxy } from '../harness/slow-proxy.js';
import { buildImage, buildIndex, platformObject, type BuiltImage } from '../sandbox/oci-builder.js';
import { Pusher } from '../sandbox/push.js';
import type { RunningRegistry } from '../sandbox/registry-server.js';
import { startCountingRegistry, type CountingRegistry } from './counting-registry.js';
import { cli } from './cli.js';
import { fakeClock, libfaketime as faketime, startDaemon, until, type DaemonProcess } from './daemon-process.js';
import { engineApi } from './engine-api.js';

const s = inject('services');
const dockerHost = s.engine;
const http = createHttpClient();
let dir = '';
let counting: CountingRegistry;
let registry: RunningRegistry;
let proxy: SlowProxy;
const h = 3_600_000;

beforeAll(async () => {
  dir = await mkdtemp(join(s.tmp, 'rollout-control-'));
  counting = await startCountingRegistry(join(dir, 'registry'));
  ({ registry, proxy } = counting);
});
afterAll(async () => {
  await counting.stop();
  await http.close();
});

const image = (label: string): BuiltImage => buildImage({ platform: { os: 'linux', architecture: 'amd64' }, files: [{ path: 'v', content: Buffer.from(label) }], format: 'oci', label });

/** One repository: publish a child under `stable`, push the control document `stable.rollout`. */
function repo(name: string): { ref: string; publish: (c: BuiltImage) => Promise<void>; control: (c: Partial<RolloutControl>) => Promise<void>; layerGets: (c: BuiltImage) => number } {
  const pusher = new Pusher({ http, host: registry.host, repository: `ctl/${name}` });
  const empty = { digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', bytes: Buffer.from('{}'), mediaType: 'application/vnd.oci.empty.v1+json' };
  return {
    ref: `${proxy.host}/ctl/${name}:stable`,
    publish: async (c) => {
      await pusher.image(c);
      await pusher.manifest(buildIndex([{ manifest: c.manifest, platform: platformObject(c.platform) }], 'oci'), 'stable');
    },
    control: async (c) => {
      await pusher.blob(empty);
      const bytes = controlDocument(c);
      await pusher.manifest({ digest: '', bytes, mediaType: 'application/vnd.oci.image.manifest.v1+json' }, 'stable.rollout');
    },
    layerGets: (c) => proxy.requests.filter((r) => r === `GET /v2/ctl/${name}/blobs/${c.layers[0]?.digest ?? ''}`).length,
  };
}

/** A device id whose cohort for `child` lies in [lo, hi). */
function deviceIn(child: string, lo: number, hi: number): string {
  for (let i = 0; i < 100_000; i++) {
    const u = cohortOf('', `ctl-${i}`, child);
    if (u >= lo && u < hi) return `ctl-${i}`;
  }
  throw new Error('no device in that cohort');
}

interface Rig {
  readonly daemon: DaemonProcess;
  readonly config: string;
  /** Sets the daemon's wall clock to now + `offset` (`+30d`, `+0`). */
  clock(offset: string): Promise<void>;
  /** One check, run by the daemon; the entry's status after it. */
  check(): Promise<{ lastCheck?: string; childDigest?: string; waitReason?: string; waitMessage?: string; waitUntil?: string; lastResult?: string; state: string }>;
}

async function start(name: string, ref: string, device: string): Promise<Rig> {
  const clockFile = join(dir, `${name}.faketime`);
  await writeFile(clockFile, '+0');
  const config = join(dir, `${name}.yaml`);
  await writeFile(config, `engine:\n  host: ${dockerHost ?? ''}\nschedule: "0 0 1 1 *"\nsplay: 0s\nstateDir: ${join(dir, `state-${name}`)}\nshutdownTimeout: 5s\nrollout:\n  deviceId: ${device}\n  steps: [1%, 10%, 50%, 100%]\n  stepEvery: 6h\n  control: true\nimages:\n  - image: ${ref}\n`);
  const daemon = startDaemon(config, fakeClock(clockFile));
  // The first check records the tag's child: pulled, or (already in the engine) recorded as present.
  await until('the first child recorded', () => daemon.logs().find((l) => l['msg'] === 'pulled a new child' || l['msg'] === 'child already present; recorded'), 60_000);
  return {
    daemon, config,
    clock: (offset) => writeFile(clockFile, offset),
    check: async () => {
      const r = await cli(['check', '--config', config, '--json']);
      if (!r.stderr.includes('the daemon')) throw new Error(`the check did not run in the daemon: ${r.stderr}`);
      const [status] = JSON.parse(r.stdout) as Awaited<ReturnType<Rig['check']>>[];
      if (status === undefined) throw new Error(`no status: ${r.stdout} ${r.stderr}`);
      return status;
    },
  };
}

describe.runIf(dockerHost !== undefined && faketime !== undefined)('the rollout control document on a running daemon (fake clock)', () => {
  const api = (): ReturnType<typeof engineApi> => engineApi(dockerHost ?? '');
  const inEngine = async (ref: string, c: BuiltImage): Promise<boolean> => (await api().get(`/images/${ref.replace(/:stable$/, '')}@${c.manifest.digest}/json`)).status === 200;

  it('pause: no device starts a pull of a new child, 30 days on; unpaused, it is pulled at the next check', async () => {
    const r = repo('pause');
    const v1 = image('pause v1');
    const v2 = image('pause v2');
    await r.publish(v1);
    const rig = await start('pause', r.ref, deviceIn(v2.manifest.digest, 0, 0.01)); // step 0: pulls at once without a document
    try {
      await r.control({ paused: true });
      await r.publish(v2);
      expect(await rig.check()).toMatchObject({ childDigest: v1.manifest.digest, waitReason: 'rollout', waitMessage: 'the rollout is paused by its control document' });
      await rig.clock('+30d');
      const later = await rig.check();
      expect(later).toMatchObject({ childDigest: v1.manifest.digest, waitReason: 'rollout' });
      // The daemon's clock did move: its check is dated 30 days on.
      expect(Date.parse(later.lastCheck ?? '') - Date.now()).toBeGreaterThan(29 * 24 * h);
      expect(r.layerGets(v2)).toBe(0);
      expect(await inEngine(r.ref, v2)).toBe(false);
      await r.control({});
      expect(await rig.check()).toMatchObject({ childDigest: v2.manifest.digest, lastResult: 'pulled' });
      expect(r.layerGets(v2)).toBe(1);
      expect(await inEngine(r.ref, v2)).toBe(true);
    } finally {
      expect(await rig.daemon.stop()).toBe(0);
    }
  }, 180_000);

  it('block: a blocked child is never pulled, even with the ramp fully open 30 days on; the next child is', async () => {
    const r = repo('block');
    const v1 = image('block v1');
    const v2 = image('block v2');
    const v3 = image('block v3');
    await r.publish(v1);
    const rig = await start('block', r.ref, deviceIn(v2.manifest.digest, 0, 0.01));
    try {
      await r.control({ blocked: [v2.manifest.digest] });
      await r.publish(v2);
      expect(await rig.check()).toMatchObject({ childDigest: v1.manifest.digest, waitReason: 'rollout', waitMessage: `the rollout control document blocks ${v2.manifest.digest}` });
      await rig.clock('+30d');
      expect(await rig.check()).toMatchObject({ childDigest: v1.manifest.digest, waitReason: 'rollout' });
      await r.publish(v3);
      // v3 is a new child: its ramp starts now (first seen); a device in step 0 for v2 may be later for v3, so force step 3.
      await r.control({ blocked: [v2.manifest.digest], step: 3 });
      expect(await rig.check()).toMatchObject({ childDigest: v3.manifest.digest, lastResult: 'pulled' });
      expect(r.layerGets(v2)).toBe(0);
      expect(await inEngine(r.ref, v2)).toBe(false);
      expect(r.layerGets(v3)).toBe(1);
    } finally {
      expect(await rig.daemon.stop()).toBe(0);
    }
  }, 180_000);

  it('force a step: a device of the last cohort (open at 18 h) waits 6 h on, then pulls at the first check after the document says step 3', async () => {
    const r = repo('force');
    const v1 = image('force v1');
    const v2 = image('force v2');
    await r.publish(v1);
    const rig = await start('force', r.ref, deviceIn(v2.manifest.digest, 0.5, 1));
    try {
      await r.control({});
      await r.publish(v2);
      const waiting = await rig.check();
      expect(waiting).toMatchObject({ childDigest: v1.manifest.digest, waitReason: 'rollout', waitMessage: 'ramp: this device is in step 3 (100%), open from then' });
      const firstSeen = Date.parse(waiting.waitUntil ?? '') - 18 * h;
      expect(Math.abs(firstSeen - Date.now())).toBeLessThan(120_000);
      await rig.clock('+6h');
      const later = await rig.check();
      expect(later).toMatchObject({ childDigest: v1.manifest.digest, waitUntil: waiting.waitUntil });
      expect(Date.parse(later.lastCheck ?? '') - Date.now()).toBeGreaterThan(5 * h);
      expect(r.layerGets(v2)).toBe(0);
      await r.control({ step: 3 });
      expect(await rig.check()).toMatchObject({ childDigest: v2.manifest.digest, lastResult: 'pulled' });
      expect(r.layerGets(v2)).toBe(1);
      expect(await inEngine(r.ref, v2)).toBe(true);
    } finally {
      expect(await rig.daemon.stop()).toBe(0);
    }
  }, 180_000);
});
