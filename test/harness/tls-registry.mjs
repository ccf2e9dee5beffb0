// A TLS registry of one fixed index for a test that runs it inside a network namespace it created.
// argv: KEY_PEM CERT_PEM HOST PORT (argv[2..5]). Prints `listening`, then `connection` for every TCP connection and
// `request METHOD PATH` for every HTTP request that got through TLS.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';

// One linux/amd64 entry: `which` answers with its digest without fetching it.
const child = `sha256:${'a'.repeat(64)}`;
const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: child, size: 500, platform: { os: 'linux', architecture: 'amd64' } }] }));
const digest = `sha256:${createHash('sha256').update(index).digest('hex')}`;
const server = createServer({ key: readFileSync(process.argv[2]), cert: readFileSync(process.argv[3]) }, (req, res) => {
  process.stdout.write(`request ${req.method} ${req.url}\n`);
  res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json', 'content-length': index.byteLength, 'docker-content-digest': digest });
  res.end(req.method === 'HEAD' ? undefined : index);
});
server.on('connection', () => process.stdout.write('connection\n'));
server.on('tlsClientError', () => undefined);
server.listen(Number(process.argv[5]), process.argv[4], () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => process.exit(0));
