import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ResolverError } from '../../src/errors.js';
import { expectResolverError, expectResolverErrorSync } from './expect-error.js';
import { closeLoopbackServers, startLoopbackServer } from './loopback-server.js';

afterEach(closeLoopbackServers);

/** One request; through Node's global agent, which keeps the connection open, unless `fresh`. */
function send(url: string, method: string, body?: string, fresh = false): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, timeout: 5000, ...(fresh ? { agent: false } : {}) }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

describe('startLoopbackServer', () => {
  it('listens on 127.0.0.1, hands the handler the whole body, and records every request', async () => {
    const s = await startLoopbackServer((req, res, body, self) => res.end(`${req.method ?? ''} ${body.toString('utf8')} on ${self.host}`));
    expect(s.host).toBe(`127.0.0.1:${s.port}`);
    expect(s.url).toBe(`http://127.0.0.1:${s.port}`);
    expect(await send(`${s.url}/v2/x`, 'PUT', 'abc')).toEqual({ status: 200, text: `PUT abc on ${s.host}` });
    expect(s.requests.map((r) => [r.method, r.url, r.body.toString('utf8')])).toEqual([['PUT', '/v2/x', 'abc']]);
  });

  it('answers 500 when the handler throws or rejects', async () => {
    const s = await startLoopbackServer(() => Promise.reject(new Error('boom')));
    expect(await send(s.url, 'GET')).toEqual({ status: 500, text: 'loopback handler failed: Error: boom' });
  });

  it('closeLoopbackServers closes every open server, also with an idle kept-alive client connection', async () => {
    const a = await startLoopbackServer((_req, res) => res.end('a'));
    const b = await startLoopbackServer((_req, res) => res.end('b'));
    await send(a.url, 'GET');
    await closeLoopbackServers();
    expect([a.server.listening, b.server.listening]).toEqual([false, false]);
    await expect(send(a.url, 'GET', undefined, true)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('takes a given port', async () => {
    const a = await startLoopbackServer((_req, res) => res.end('first'));
    const { port } = a;
    await a.close();
    const b = await startLoopbackServer((_req, res) => res.end('second'), { port });
    expect((await send(b.url, 'GET')).text).toBe('second');
  });
});

describe('expectResolverError', () => {
  const usage = new ResolverError('ERR_USAGE', 'bad flag');

  it('returns the error when the code matches (promise, async function, or a synchronous throw)', async () => {
    expect(await expectResolverError(Promise.reject(usage), 'ERR_USAGE')).toBe(usage);
    expect(await expectResolverError(() => Promise.reject(usage), 'ERR_USAGE')).toBe(usage);
    expect(await expectResolverError(() => { throw usage; }, 'ERR_USAGE')).toBe(usage);
    expect(expectResolverErrorSync(() => { throw usage; }, 'ERR_USAGE')).toBe(usage);
  });

  it('fails on another code, a plain Error, or success, saying what happened', async () => {
    await expect(expectResolverError(Promise.reject(usage), 'ERR_ABORTED')).rejects.toThrow(/ERR_USAGE: bad flag/);
    await expect(expectResolverError(Promise.reject(new TypeError('nope')), 'ERR_USAGE')).rejects.toThrow('expected a ResolverError ERR_USAGE, got TypeError: nope');
    await expect(expectResolverError(Promise.resolve({ ok: 1 }), 'ERR_USAGE')).rejects.toThrow('expected a ResolverError ERR_USAGE, but it succeeded with { ok: 1 }');
    expect(() => expectResolverErrorSync(() => 42, 'ERR_USAGE')).toThrow('but it succeeded with 42');
  });
});
