import { describe, expect, it } from 'vitest';
import { ResolverError } from '../errors.js';
import { createHttpClient } from './http.js';
import { expectResolverError } from '../../test/fakes/expect-error.js';
import { closedLoopbackPort as closedPort } from '../../test/fakes/loopback-server.js';


/** The ResolverError `p` rejects with (of any code). */
const failure = (p: Promise<unknown>): Promise<ResolverError> => expectResolverError(p);

describe('connection errors name what refused', () => {
  it('a refused registry gets the registry hint; a refused engine does not', async () => {
    const port = await closedPort();
    const req = { method: 'GET' as const, url: new URL(`http://127.0.0.1:${port}/v2/`), deadlineMs: 5000, maxBytes: 1000 };
    const registry = createHttpClient();
    const engine = createHttpClient({ peer: 'engine' });
    try {
      expect((await failure(registry.send(req))).message).toBe(`connection to 127.0.0.1:${port} refused: is the registry running and the port right?`);
      const e = await failure(engine.send(req));
      expect(e.message).toBe(`connection to 127.0.0.1:${port} refused`);
      expect(e.message).not.toMatch(/registry/);
    } finally {
      await Promise.all([registry.close(), engine.close()]);
    }
  });

  it('behind a refused proxy the error names the proxy and its variable, never the proxy userinfo', async () => {
    const port = await closedPort();
    const http = createHttpClient({ proxyEnv: { HTTPS_PROXY: `http://u:pw-canary@127.0.0.1:${port}`, http_proxy: `http://127.0.0.1:${port}` } });
    try {
      const tls = await failure(http.send({ method: 'GET', url: new URL('https://registry.example.invalid/v2/'), deadlineMs: 5000, maxBytes: 1000 }));
      expect(tls.code).toBe('ERR_NETWORK');
      expect(tls.message).toBe(`the proxy 127.0.0.1:${port} (HTTPS_PROXY) for registry.example.invalid refused the connection`);
      expect(JSON.stringify(tls.details)).not.toMatch(/pw-canary/);
      const plain = await failure(http.send({ method: 'GET', url: new URL('http://registry.example.invalid/v2/'), deadlineMs: 5000, maxBytes: 1000 }));
      expect(plain.message).toBe(`the proxy 127.0.0.1:${port} (http_proxy) for registry.example.invalid refused the connection`);
    } finally {
      await http.close();
    }
  });
});
