/**
 * A registry that lies or attacks the terminal, against the built CLI (loopback fakes: a real registry
 * cannot be made to do this). 13.16: a HEAD whose Content-Type calls an index an image manifest must not
 * make `which` print the index digest as the child; the document decides. 13.18: escape sequences and
 * control characters in registry error text never reach the terminal.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './cli.js';

const servers: Server[] = [];
afterAll(async () => Promise.all(servers.map((x) => new Promise((r) => x.close(r)))));

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return `127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`;
}

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const ociManifest = 'application/vnd.oci.image.manifest.v1+json';
const ociIndex = 'application/vnd.oci.image.index.v1+json';

describe('a lying or hostile registry', () => {
  it('which classifies by the document, not by a HEAD Content-Type that contradicts it (13.16)', async () => {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    const child = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: ociManifest, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.byteLength }, layers: [] }));
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: ociIndex, manifests: [{ mediaType: ociManifest, digest: sha(child), size: child.byteLength, platform: { os: 'linux', architecture: 'amd64' } }] }));
    const host = await serve((req, res) => {
      const url = req.url ?? '';
      const body = url.endsWith(sha(child)) ? child : url.endsWith('/manifests/latest') || url.endsWith(sha(index)) ? index : undefined;
      if (body === undefined) {
        res.writeHead(404);
        res.end();
        return;
      }
      // The lie: the tag's HEAD calls the index an image manifest.
      const lie = req.method === 'HEAD' && url.endsWith('/manifests/latest');
      res.writeHead(200, { 'content-type': lie ? ociManifest : JSON.parse(body.toString()).mediaType, 'docker-content-digest': sha(body), 'content-length': body.byteLength });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    const r = await cli(['which', `${host}/lying/app:latest`, '--platform', 'linux/amd64']);
    expect(r.stdout).not.toBe(`${sha(index)}\n`);
    expect(r.stdout, r.stderr).toBe(`${sha(child)}\n`);
  });

  it('strips escape sequences and control characters from registry error text (13.18)', async () => {
    const evil = '\u001b]0;pwned\u0007\u001b[2J\u001b[31mrepository gone\u001b[0m\r\nresolver: forged line\u202e';
    const host = await serve((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'NAME_UNKNOWN\u001b[5m', message: evil }] }));
    });
    const r = await cli(['which', `${host}/evil/app:latest`, '--platform', 'linux/amd64']);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('repository gone');
    // eslint-disable-next-line no-control-regex -- what must never reach a terminal
    expect(r.stderr.replace(/\n/g, '')).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e]/);
    expect(r.stderr).not.toMatch(/^resolver: forged line/m);
    const json = await cli(['which', `${host}/evil/app:latest`, '--platform', 'linux/amd64', '--json']);
    expect(`${json.stdout}${json.stderr}`).not.toMatch(/\\u001b|\\u0007/);
    expect(`${json.stdout}${json.stderr}`.includes('\u001b')).toBe(false);
  });
});
