/**
* A token server for a token-auth sandbox registry (tests, benchmarks): issues RS256 JWTs carrying the signing certificate in
 * `x5c`, which distribution verifies against its `rootcertbundle` (registry-protocol.md §3.8).
 * Users: alice/token-secret (pull+push everywhere), reader (pull only); the identity token `refresh-canary` acts as alice.
 * Anonymous requests get a token with no access, as Docker Hub does.
 */
import { execFileSync } from 'node:child_process';
import { createSign, randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';

export const tokenUser = { username: 'alice', password: 'token-secret-canary-7f3a' };
/** May pull everywhere and push nowhere. */
export const readerUser = { username: 'reader', password: 'reader-secret-canary-2d9e' };
export const identityToken = 'refresh-canary-91be';
export const tokenService = 'resolver-test-registry';
export const tokenIssuer = 'resolver-test-issuer';

/** A running token server. */
export interface TokenServer {
  readonly realm: string;
  readonly certPath: string;
  readonly requests: { get: number; post: number };
  stop(): Promise<void>;
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** Generates a key and self-signed certificate under `dir` and starts the server on `port`. */
export async function startTokenServer(dir: string, port: number): Promise<TokenServer> {
  const keyPath = join(dir, 'token.key');
  const certPath = join(dir, 'token.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=resolver-test-token'], { stdio: 'ignore' });
  const key = readFileSync(keyPath, 'utf8');
  const der = new X509Certificate(readFileSync(certPath)).raw;
  const requests = { get: 0, post: 0 };

  const sign = (sub: string, scopes: string[]): string => {
    const now = Math.floor(Date.now() / 1000);
    const access = sub === '' ? [] : scopes.flatMap((scope) => {
      const parts = scope.split(':');
      if (parts.length < 3) return [];
      const actions = (parts.at(-1) ?? '').split(',').filter((a) => a !== '' && (sub !== readerUser.username || a === 'pull'));
      return [{ type: parts[0], name: parts.slice(1, -1).join(':'), actions }];
    });
    const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', x5c: [der.toString('base64')] }));
    const claims = b64url(JSON.stringify({ iss: tokenIssuer, sub, aud: tokenService, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access }));
    const signature = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(key);
    return `${header}.${claims}.${b64url(signature)}`;
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    const reply = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'POST') {
      requests.post++;
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        if (form.get('grant_type') !== 'refresh_token' || form.get('refresh_token') !== identityToken) {
          reply(401, { errors: [{ code: 'UNAUTHORIZED', message: 'bad refresh token' }] });
          return;
        }
        reply(200, { access_token: sign(tokenUser.username, (form.get('scope') ?? '').split(' ').filter((s) => s !== '')), expires_in: 300 });
      });
      return;
    }
    requests.get++;
    const auth = req.headers.authorization;
    let sub = '';
    if (auth !== undefined) {
      const [user, ...rest] = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString('utf8').split(':');
      const known = [tokenUser, readerUser].find((u) => u.username === user && u.password === rest.join(':'));
      if (known === undefined) {
        reply(401, { errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] });
        return;
      }
      sub = known.username;
    }
    reply(200, { token: sign(sub, url.searchParams.getAll('scope')), expires_in: 300, issued_at: new Date().toISOString() });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    realm: `http://127.0.0.1:${port}/token`,
    certPath,
    requests,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
