// A registry of fixed manifests for a test that runs it where the harness cannot reach (inside a network
// namespace the test created). argv[2]: a JSON file {"PATH": {"type": MEDIA_TYPE, "body": BASE64}} keyed by
// request path (/v2/app/manifests/v1). Listens on 127.0.0.1:argv[3] (0: a free port) and prints
// `listening PORT`, then `request EPOCH_MS METHOD PATH` for every request, on stdout.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const docs = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const server = createServer((req, res) => {
  process.stdout.write(`request ${Date.now()} ${req.method} ${req.url}\n`);
  if (req.url === '/v2/' || req.url === '/v2') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  const doc = docs[req.url ?? ''];
  if (doc === undefined) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
  const body = Buffer.from(doc.body, 'base64');
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  res.writeHead(200, { 'content-type': doc.type, 'content-length': body.byteLength, 'docker-content-digest': digest });
  res.end(req.method === 'HEAD' ? undefined : body);
});
server.listen(Number(process.argv[3] ?? 0), '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
