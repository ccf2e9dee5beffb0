/**
 * The container listing, inspect and events stream of the engine client (http-engine.ts, undici) against a fake Engine API on a Unix
 * socket, for what a real engine does not do on demand: an events answer that never comes (the connect
 * deadline), lines split across chunks, other event types and garbage on the stream. The real dockerd and
 * Podman are in test/e2e/discovery*.test.ts.
 */
import { mkdtemp } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { expectResolverError } from '../../test/fakes/expect-error.js';
import { createHttpEngine, parseContainerEvent } from './http-engine.js';
import { createEngineProbe } from './engine-probe.js';
import type { Engine } from './engine.js';

const servers: Server[] = [];
const engines: Engine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => { s.closeAllConnections(); s.close(r); })));
});

async function engineWith(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ engine: Engine; paths: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'fake-engine-'));
  const socketPath = join(dir, 'docker.sock');
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(decodeURIComponent(req.url ?? ''));
    if (req.url?.endsWith('/version')) res.end(JSON.stringify({ Version: '26.1.5', ApiVersion: '1.45', Os: 'linux', Arch: 'amd64' }));
    else if (req.url?.endsWith('/info')) res.end(JSON.stringify({ OSType: 'linux', Architecture: 'x86_64', DriverStatus: [] }));
    else handle(req, res);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(socketPath, r));
  const endpoint = { kind: 'unix' as const, socketPath, display: `unix://${socketPath}` };
  const engine = await createHttpEngine(endpoint, createEngineProbe(endpoint));
  engines.push(engine);
  return { engine, paths };
}

describe('container events', () => {
  it('reads Docker and Podman event lines; other types and garbage are skipped', () => {
    expect(parseContainerEvent('{"Type":"container","Action":"start","Actor":{"ID":"abc","Attributes":{"name":"web"}},"status":"start","id":"abc"}')).toEqual({ action: 'start', id: 'abc' });
    // Podman 4.3's compat stream: the same fields.
    expect(parseContainerEvent('{"status":"died","id":"def","from":"x","Type":"container","Action":"died","Actor":{"ID":"def"},"scope":"local"}')).toEqual({ action: 'died', id: 'def' });
    expect(parseContainerEvent('{"Type":"image","Action":"pull","Actor":{"ID":"x"}}')).toBeUndefined();
    expect(parseContainerEvent('not json')).toBeUndefined();
    expect(parseContainerEvent('{"Type":"container"}')).toBeUndefined();
    // Hostile or odd lines are skipped (or read for the fields that are strings), never thrown.
    expect(['null', '[1]', '"start"', '{"Type":"container","Action":"start","Actor":{"ID":{"x":1}}}', '{"Type":"container","Action":"start","Actor":null}'].map(parseContainerEvent)).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(parseContainerEvent('{"Type":"container","Action":5,"status":"stop","Actor":"x","id":"q"}')).toEqual({ action: 'stop', id: 'q' });
  });

  it('asks for container events only and yields them as they come, across chunk boundaries, until the engine closes', async () => {
    const { engine, paths } = await engineWith((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"Type":"container","Action":"create","Actor":{"ID":"a1"}}\n{"Type":"network","Action":"connect","Actor":{"ID":"n"}}\n{"Type":"contai');
      setTimeout(() => res.end('ner","Action":"start","Actor":{"ID":"a1"}}\n'), 20);
    });
    const seen: string[] = [];
    for await (const e of await engine.containerEvents(AbortSignal.timeout(5000))) seen.push(`${e.action} ${e.id}`);
    expect(seen).toEqual(['create a1', 'start a1']);
    expect(paths.find((p) => p.includes('/events'))).toMatch(/\/events\?filters=\{"type":\["container"\]\}$/);
  });

  it('rejects within the connect deadline when the engine never answers GET /events', async () => {
    const { engine } = await engineWith(() => undefined);
    const started = performance.now();
    const e = await expectResolverError(engine.containerEvents(new AbortController().signal, { connectTimeoutMs: 300 }), 'ERR_ENGINE_UNAVAILABLE');
    expect(e.message).toMatch(/did not answer GET \/events within 0\.3 s/);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('ends quietly when its signal aborts', async () => {
    const { engine } = await engineWith((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"Type":"container","Action":"create","Actor":{"ID":"a1"}}\n');
    });
    const controller = new AbortController();
    const seen: string[] = [];
    for await (const e of await engine.containerEvents(controller.signal)) {
      seen.push(e.action);
      controller.abort();
    }
    expect(seen).toEqual(['create']);
  });
});

describe('containers', () => {
  it('lists every container with name, image ID, labels and state, and inspects Config.Image (404: undefined)', async () => {
    const { engine, paths } = await engineWith((req, res) => {
      if (req.url?.includes('/containers/json')) {
        res.end(JSON.stringify([{ Id: 'c1', Names: ['/web'], Image: 'sha256:img', ImageID: 'sha256:img', Labels: { 'resolver.enable': 'true' }, State: 'created' }]));
      } else if (req.url?.includes('/containers/c1/json')) {
        res.end(JSON.stringify({ Id: 'c1', Name: '/web', Image: 'sha256:img', Config: { Image: 'localhost:5001/app:1', Labels: { 'resolver.enable': 'true' } }, State: { Status: 'created' } }));
      } else res.writeHead(404).end('{"message":"No such container"}');
    });
    expect(await engine.listContainers()).toEqual([{ id: 'c1', name: 'web', imageId: 'sha256:img', labels: { 'resolver.enable': 'true' }, state: 'created' }]);
    expect(paths.find((p) => p.includes('/containers/json'))).toMatch(/all=true/);
    expect(await engine.inspectContainer('c1')).toEqual({ id: 'c1', name: 'web', imageId: 'sha256:img', image: 'localhost:5001/app:1', labels: { 'resolver.enable': 'true' }, state: 'created' });
    expect(await engine.inspectContainer('gone')).toBeUndefined();
  });
});
