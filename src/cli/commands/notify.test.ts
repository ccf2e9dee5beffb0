import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { NotificationsSchema } from '../../notify/config.js';
import { testSinks } from './notify.js';

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  await new Promise((r) => server.close(r));
  return typeof a === 'object' && a !== null ? a.port : 0;
}

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
