/**
 * Containers follow their tag (issue 11 §3), with the built daemon, a real registry and the private dockerd:
 * a healthy update (same env, labels, restart policy; the old container removed only after the new one is
 * healthy), an unhealthy update that rolls back and marks the child bad (not tried again), a crash-looping
 * update (no HEALTHCHECK, exits at once) that rolls back, an index rebuilt for another architecture that
 * recreates nothing, and a daemon killed with SIGKILL in the middle of an activation: after the restart exactly
 * one container of that name runs, on a known child, and no `-resolver-old` container is left.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient } from '../../src/http/http.js';
import { closeLoopbackServers, startLoopbackServer } from '../fakes/loopback-server.js';
import type { BuiltImage } from '../sandbox/oci-builder.js';
import { startRegistry, type RunningRegistry } from '../sandbox/registry-server.js';
import { arm, healthcheck, ns, publishStable, runnable as runnableImage } from './activation-images.js';
import { messages, poller, startDaemon, type DaemonProcess } from './daemon-process.js';
import { containersNamed, engineApi, imageIdOf, removeContainersNamed, type EngineApi } from './engine-api.js';

const s = inject('services');
const dockerHost = s.engine;
const http = createHttpClient();
let dir = '';
let registry: RunningRegistry;
let api: EngineApi;
const name = 'act-web';

const runnable = (label: string, cmd: string, config: Record<string, unknown> = {}): Promise<BuiltImage> => runnableImage(label, cmd, { env: ['PATH=/bin', 'MODE=image-default'], config });
const publish = (children: BuiltImage[]): Promise<string> => publishStable(http, registry.host, 'act/app', children);

type Running = DaemonProcess;
const until = poller({ timeoutMs: 60_000, everyMs: 150 });
const named = (n: string): ReturnType<typeof containersNamed> => containersNamed(api, n);
const imageId = (ref: string): Promise<string | undefined> => imageIdOf(api, ref);
const healthyMsg = 'activation: the new container is healthy; the old one is removed';
const rolledMsg = 'activation: rolled back to the old container; the new child is marked bad on this host';
const recreatingMsg = 'activation: recreating the container from the new child';

beforeAll(async () => {
  if (dockerHost === undefined) return;
  dir = await mkdtemp(join(s.tmp, 'activate-'));
  registry = await startRegistry({ dir: join(dir, 'registry'), auth: { kind: 'none' } });
  api = engineApi(dockerHost);
  await removeContainersNamed(api, name);
});
afterAll(async () => {
  await closeLoopbackServers();
  if (dockerHost === undefined) return;
  await removeContainersNamed(api, name);
  await api.close();
  await registry.stop();
  await http.close();
});

describe.runIf(dockerHost !== undefined || process.env['CI'] === 'true')('containers follow their tag (real dockerd)', () => {
  it('healthy update, unhealthy rollback, crash-loop rollback, other-arch rebuild, kill -9 mid-activation', { timeout: 300_000 }, async () => {
    const stateDir = join(dir, 'state');
    const config = join(dir, 'resolver.yaml');
    // The notifier delivers activation's events like any other (a loopback webhook receiver).
    const receiver = await startLoopbackServer((_req, res) => void res.writeHead(204).end());
    const delivered = (): Record<string, any>[] => receiver.requests.map((r) => JSON.parse(r.body.toString()) as Record<string, any>);
    await writeFile(config, `engine:
  host: ${dockerHost ?? ''}
schedule: "*/2 * * * * *"
splay: 0s
stateDir: ${stateDir}
shutdownTimeout: 5s
retain: 1
notifications:
  webhooks:
    - name: ops
      url: ${receiver.url}/hook
      events: [activated, rolled-back]
activation:
  healthTimeout: 20s
  stableFor: 3s
  stopTimeout: 2s
images:
  - image: ${registry.host}/act/app:stable
`);
    const ref = `${registry.host}/act/app:stable`;
    const v1 = await runnable('v1', ': > /tmp/healthy; exec sleep 3600', { Healthcheck: healthcheck });
    const armV1 = arm('arm v1');
    await publish([v1, armV1]);

    const daemon = startDaemon(config);
    let second: Running | undefined;
    try {
      await until('the first pull', () => messages(daemon, 'pulled a new child')[0]);
      // The follower: created by the operator from the tag, with its own env, label and restart policy.
      const created = await api.postJson(`/containers/create?name=${name}`, {
        Image: ref, Env: ['FOO=bar', 'MODE=override'], Labels: { 'resolver.follow': 'true', 'team': 'ops' },
        HostConfig: { NetworkMode: 'none', RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 5 } },
      });
      expect(await api.post(`/containers/${created.Id}/start`)).toMatchObject({ status: 204 });
      const v1Id = await imageId(`${registry.host}/act/app@${v1.manifest.digest}`);

      // 1. A healthy update: recreated from v2 with the same configuration; the old container removed after.
      const v2 = await runnable('v2', ': > /tmp/healthy; exec sleep 3600', { Healthcheck: healthcheck });
      await publish([v2, armV1]);
      await until('the healthy activation', () => messages(daemon, healthyMsg)[0]);
      const v2Id = await imageId(`${registry.host}/act/app@${v2.manifest.digest}`);
      let now = await named(name);
      expect(now).toHaveLength(1);
      expect(now[0]?.ImageID).toBe(v2Id);
      expect(now[0]?.Id).not.toBe(created.Id);
      const inspect = (await api.get(`/containers/${name}/json`)).json;
      expect(inspect.State.Running).toBe(true);
      expect(inspect.State.Health.Status).toBe('healthy');
      expect(inspect.Config.Image).toBe(ref);
      expect(inspect.Config.Env).toEqual(expect.arrayContaining(['FOO=bar', 'MODE=override', 'PATH=/bin']));
      expect(inspect.Config.Labels).toMatchObject({ 'resolver.follow': 'true', team: 'ops', 'org.opencontainers.image.title': 'v2' });
      expect(inspect.HostConfig.RestartPolicy).toEqual({ Name: 'on-failure', MaximumRetryCount: 5 });
      expect(inspect.HostConfig.NetworkMode).toBe('none');
      // The old child's image stays as long as retain keeps it (v1 is the retained previous child).
      expect(await imageId(`${registry.host}/act/app@${v1.manifest.digest}`)).toBe(v1Id);

      // 2. An unhealthy update (its HEALTHCHECK never passes): rolled back to v2, v3 marked bad, not tried again.
      const v3 = await runnable('v3', 'exec sleep 3600', { Healthcheck: healthcheck });
      await publish([v3, armV1]);
      const rolled = await until('the unhealthy rollback', () => messages(daemon, rolledMsg)[0]);
      expect(rolled).toMatchObject({ container: name, bad: v3.manifest.digest, back: v2.manifest.digest });
      expect(rolled['reason']).toMatch(/unhealthy/);
      now = await named(name);
      expect(now.map((c) => [c.Names[0], c.ImageID, c.State])).toEqual([[`/${name}`, v2Id, 'running']]);
      const journal = JSON.parse(await readFile(join(stateDir, 'activation.json'), 'utf8'));
      expect(journal.bad[ref]).toMatchObject({ digest: v3.manifest.digest, container: name });
      expect(journal.journal).toEqual({});
      // The rollback target's image is still there: the container runs it.
      expect(await imageId(`${registry.host}/act/app@${v2.manifest.digest}`)).toBe(v2Id);
      const afterRollback = now[0]?.Id;
      const recreations = messages(daemon, recreatingMsg).length;
      const checks = messages(daemon, 'checked').length;
      await until('three more checks', () => messages(daemon, 'checked').length >= checks + 3);
      expect(messages(daemon, recreatingMsg)).toHaveLength(recreations);
      expect((await named(name))[0]?.Id).toBe(afterRollback);

      // 3. A crash-looping update (no HEALTHCHECK; the command exits at once, the restart policy restarts it).
      const v4 = await runnable('v4', 'exit 1');
      await publish([v4, armV1]);
      const crash = await until('the crash-loop rollback', () => messages(daemon, rolledMsg)[1]);
      expect(crash).toMatchObject({ container: name, bad: v4.manifest.digest, back: v2.manifest.digest });
      expect(crash['reason']).toMatch(/restarted|exited/);
      now = await named(name);
      expect(now.map((c) => [c.Names[0], c.ImageID, c.State])).toEqual([[`/${name}`, v2Id, 'running']]);
      // One notification per activation and rollback, in order, old → new.
      await until('three notifications', () => delivered().length >= 3);
      expect(delivered().map((b) => [b['event'], b['oldDigest'], b['newDigest']])).toEqual([
        ['activated', v1.manifest.digest, v2.manifest.digest],
        ['rolled-back', v2.manifest.digest, v3.manifest.digest],
        ['rolled-back', v2.manifest.digest, v4.manifest.digest],
      ]);

      // 4. Only the arm64 child changes: the index moves, this platform's child does not: nothing is recreated.
      const before = messages(daemon, recreatingMsg).length;
      await publish([v4, arm('arm v2')]);
      await until('the index change', () => daemon.logs().find((l) => l['result'] === 'index-changed'));
      const c2 = messages(daemon, 'checked').length;
      await until('two more checks', () => messages(daemon, 'checked').length >= c2 + 2);
      expect(messages(daemon, recreatingMsg)).toHaveLength(before);
      expect((await named(name)).map((c) => c.Id)).toEqual([afterRollback]);

      // 5. kill -9 while the new container proves itself (healthy only after 4 s): after the restart exactly one
      // container of that name runs, on a known child, and nothing is left renamed.
      const v5 = await runnable('v5', 'sleep 4; : > /tmp/healthy; exec sleep 3600', { Healthcheck: { ...healthcheck, StartPeriod: ns(20_000) } });
      await publish([v5, arm('arm v2')]);
      await until('the activation to be under way', async () => {
        const j = JSON.parse(await readFile(join(stateDir, 'activation.json'), 'utf8').catch(() => '{"journal":{}}'));
        return j.journal[name]?.step === 'started';
      });
      daemon.child.kill('SIGKILL');
      await daemon.exited;
      const mid = await named(name);
      expect(mid.map((c) => c.Names[0]).sort()).toEqual([`/${name}`, `/${name}-resolver-old`]);
      second = startDaemon(config);
      const d2 = second;
      await until('the recovery', () => d2.logs().find((l) => l['msg'] === 'activation: an activation was interrupted (daemon killed?); recovering'));
      // Recovery undoes it and tries the child once more; v5 is healthy, so it ends on v5.
      await until('the retried activation', () => messages(d2, healthyMsg)[0]);
      const v5Id = await imageId(`${registry.host}/act/app@${v5.manifest.digest}`);
      now = await named(name);
      expect(now.map((c) => [c.Names[0], c.State])).toEqual([[`/${name}`, 'running']]);
      expect([v2Id, v5Id]).toContain(now[0]?.ImageID);
      expect(now[0]?.ImageID).toBe(v5Id);
      const finalJournal = JSON.parse(await readFile(join(stateDir, 'activation.json'), 'utf8'));
      expect(finalJournal.journal).toEqual({});
    } catch (error) {
      // The daemons' activation lines and warnings: what a failure needs to be understood.
      const lines = [...daemon.logs(), ...(second?.logs() ?? [])].filter((l) => l['component'] === 'activate' || (l['level'] as number) >= 40);
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n${lines.map((l) => JSON.stringify(l)).join('\n')}`, { cause: error });
    } finally {
      daemon.child.kill('SIGTERM');
      second?.child.kill('SIGTERM');
      await daemon.exited;
      await second?.exited;
    }
  });
});
