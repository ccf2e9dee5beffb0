import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NotificationsSchema } from '../../notify/config.js';
import { closedLoopbackPort as closedPort, closeLoopbackServers, startLoopbackServer } from '../../../test/fakes/loopback-server.js';
import { expectResolverError } from '../../../test/fakes/expect-error.js';
import { runNotifyTest, testSinks, type NotifyCommandDeps } from './notify.js';


describe('notify test against a receiver that is down', () => {
  it('names the receiver, not a registry, and keeps the query secret out', async () => {
    const port = await closedPort();
    const config = NotificationsSchema.parse({ webhooks: [{ name: 'ops', url: `http://127.0.0.1:${port}/hook?token=canary-q` }] });
    const [r] = await testSinks(config, { env: {}, hostname: 'h' });
    expect(r?.ok).toBe(false);
    expect(r?.error).toMatch(/refused: is the receiver running and the port right\?/);
    expect(r?.error).not.toMatch(/registry/);
    expect(r?.error).not.toMatch(/canary-q/);
  });
});

afterEach(closeLoopbackServers);

const deps: NotifyCommandDeps = {
  output: { out: () => undefined, err: () => undefined },
  setExitCode: () => undefined,
  process: { env: {}, hostname: 'unit-host' },
  clock: () => 0,
};

async function configFile(text: string): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'notify-cmd-')), 'resolver.yaml');
  await writeFile(file, text);
  return file;
}

describe('notify test: runNotifyTest(options, deps)', () => {
  it('sends one test notification to each webhook and reports each result; a failing sink is a result, not an error', async () => {
    const ok = await startLoopbackServer((_req, res) => res.writeHead(204).end());
    const broken = await startLoopbackServer((_req, res) => res.writeHead(500).end());
    const file = await configFile(`images:\n  - image: localhost:5001/app:1\nnotifications:\n  webhooks:\n    - name: ops\n      url: ${ok.url}/hook\n    - name: broken\n      url: ${broken.url}/hook\n`);
    const results = await runNotifyTest({ config: file }, deps);
    expect(results.map((r) => [r.sink, r.kind, r.ok])).toEqual([['ops', 'webhook', true], ['broken', 'webhook', false]]);
    expect(results[1]?.error).toMatch(/500/);
    expect(ok.requests).toHaveLength(1);
    expect(ok.requests[0]?.body.toString()).toContain('test notification from unit-host');
  });

  it('a config without sinks is a usage error naming the keys to add', async () => {
    const file = await configFile('images:\n  - image: localhost:5001/app:1\n');
    const e = await expectResolverError(runNotifyTest({ config: file }, deps), 'ERR_USAGE');
    expect(e.details).toEqual(['add notifications.webhooks or notifications.mqtt (docs/notifications.md)']);
  });
});
