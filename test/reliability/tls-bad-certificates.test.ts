/**
 * reliability.md §6 case 4, tls-bad-certificates: an expired certificate, one for another host, a
 * self-signed one, one from an unknown CA, and a good one seen by a client whose clock is 2 days behind
 * (faketime). Expected: each fails with a message naming the host and the cause (the clock case hints at
 * the system clock), exit 6, no HTTP fallback and one connection per check (TLS failures are not retried).
 * Loopback registries are insecure by default (as in dockerd), so the registry listens on 192.0.2.1, an
 * address the test adds to `lo` inside a network namespace it creates; nothing leaves the namespace.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { canUseNetns, createNetns, type Netns } from './netns.js';

const s = inject('services');
const address = '192.0.2.1';
const hasFaketime = ((): boolean => {
  try {
    execFileSync('faketime', ['-f', '+0', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.runIf(canUseNetns() && hasFaketime)('tls-bad-certificates (§6 case 4)', () => {
  let ns: Netns;
  let dir = '';
  const openssl = (args: string[], fake?: string): void => {
    execFileSync(fake === undefined ? 'openssl' : 'faketime', fake === undefined ? args : ['-f', fake, 'openssl', ...args], { cwd: dir, stdio: 'ignore' });
  };
  /** A key and a certificate for `san`, signed by `ca` (or self-signed), valid `days` from `from` (a faketime offset). */
  const leaf = async (name: string, san: string, ca: string | undefined, from: string, days: number): Promise<void> => {
    await writeFile(join(dir, `${name}.ext`), `subjectAltName=${san}\n`);
    if (ca === undefined) {
      openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', String(days), '-subj', `/CN=${name}`, '-addext', `subjectAltName=${san}`], from);
      return;
    }
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', String(days), '-extfile', `${name}.ext`, '-out', `${name}.pem`], from);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(s.tmp, 'tls-'));
    for (const ca of ['ca', 'other-ca']) openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '60', '-subj', `/CN=${ca}`], '-10d');
    await leaf('good', `IP:${address}`, 'ca', '-1d', 30);
    await leaf('expired', `IP:${address}`, 'ca', '-5d', 2);
    await leaf('wrong-host', 'DNS:other.test', 'ca', '-1d', 30);
    await leaf('self-signed', `IP:${address}`, undefined, '-1d', 30);
    await leaf('unknown-ca', `IP:${address}`, 'other-ca', '-1d', 30);
    ns = createNetns('tls');
    ns.exec('ip', 'addr', 'add', `${address}/32`, 'dev', 'lo');
  });
  afterAll(() => ns.close());

  /** Serves `cert` on 192.0.2.1:PORT inside the namespace, runs `which` there, and counts what the server saw. */
  async function whichAgainst(cert: string, port: number, prefix: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string; connections: number; requests: number }> {
    const server: ChildProcess = ns.spawn(process.execPath, [resolve('test/harness/tls-registry.mjs'), join(dir, `${cert}.key`), join(dir, `${cert}.pem`), address, String(port)]);
    let connections = 0;
    let requests = 0;
    await new Promise<void>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error('the TLS registry did not start within 10 s')), 10_000);
      createInterface({ input: server.stdout ?? process.stdin }).on('line', (line) => {
        if (line === 'listening') {
          clearTimeout(timer);
          ok();
        }
        if (line === 'connection') connections++;
        if (line.startsWith('request ')) requests++;
      });
    });
    try {
      const r = await ns.cli(['which', '--platform', 'linux/amd64', `${address}:${port}/app:v1`], { NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem'), RESOLVER_TIMEOUT: '20s' }, prefix);
      return { code: r.code, stdout: r.stdout, stderr: r.stderr, connections, requests };
    } finally {
      server.kill('SIGTERM');
    }
  }

  it('the good certificate, trusted through NODE_EXTRA_CA_CERTS, answers (the set-up is right)', async () => {
    const r = await whichAgainst('good', 8443);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`sha256:${'a'.repeat(64)}`);
    expect(r.requests).toBeGreaterThan(0);
  });

  it.each([
    ['expired', 8444, /TLS connection to 192\.0\.2\.1:8444 failed \(CERT_HAS_EXPIRED\)/],
    ['wrong-host', 8445, /TLS connection to 192\.0\.2\.1:8445 failed \(ERR_TLS_CERT_ALTNAME_INVALID\).*192\.0\.2\.1/],
    ['self-signed', 8446, /TLS connection to 192\.0\.2\.1:8446 failed \(DEPTH_ZERO_SELF_SIGNED_CERT\)/],
    ['unknown-ca', 8447, /TLS connection to 192\.0\.2\.1:8447 failed \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/],
  ] as const)('%s: exit 6 naming the host and the cause; one connection, no HTTP fallback, no request', async (cert, port, message) => {
    const r = await whichAgainst(cert, port);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('check the registry certificate');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(6);
    expect(r.connections).toBe(1);
    expect(r.requests).toBe(0);
  });

  it('a client clock 2 days behind (faketime): "not yet valid" with the system-clock hint', async () => {
    const r = await whichAgainst('good', 8448, ['faketime', '-f', '-2d']);
    expect(r.stderr).toMatch(/TLS connection to 192\.0\.2\.1:8448 failed \(CERT_NOT_YET_VALID\)/);
    expect(r.stderr).toContain('the system clock looks wrong');
    expect(r.code).toBe(6);
    expect(r.connections).toBe(1);
  });
});
