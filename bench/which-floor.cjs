// The floor of `resolver which REF --platform linux/arm64` on a runtime, with nothing of resolver
// (bench/footprint.mjs times it beside `which`): what any `which` must do, done once. HEAD the tag with the
// manifest-list Accept types (its digest), GET the index by that digest, parse it, pick the child for
// linux/arm64 and print its digest. No configuration, no credentials, no host detection, no error handling.
//   fetch   Node's own fetch(): the undici that Node carries, compiled into the node binary with its code
//           cache, and JSON.parse, no zod, with --liftoff-only as bin/resolver.cjs runs: the lowest any
//           undici-based `which` can cost on this runtime.
//   http    node:http and JSON.parse: no undici at all, the lowest any Node registry client can cost.
//   undici  the pinned undici and zod from node_modules (whole packages, no code cache), as style.md's
//           stack is used, with --liftoff-only as bin/resolver.cjs runs it: an upper bound of the floor.
// Usage: node bench/which-floor.cjs fetch|http|undici HOST/REPO:TAG   (a plain-HTTP loopback registry)
'use strict';
const [mode, ref] = process.argv.slice(2);
const slash = ref.indexOf('/');
const colon = ref.lastIndexOf(':');
const [host, repo, tag] = [ref.slice(0, slash), ref.slice(slash + 1, colon), ref.slice(colon + 1)];
const accept = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json', 'application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json'].join(', ');
const base = `http://${host}/v2/${repo}/manifests/`;

const pick = (index) => {
  const child = index.manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === 'arm64');
  if (child === undefined) throw new Error(`${ref}: no linux/arm64 child`);
  process.stdout.write(`${child.digest}\n`);
};

async function withFetch() {
  require('node:v8').setFlagsFromString('--liftoff-only');
  const head = await fetch(base + tag, { method: 'HEAD', headers: { accept } });
  const index = await (await fetch(base + head.headers.get('docker-content-digest'), { headers: { accept } })).json();
  pick(index);
}

function viaHttp(method, path) {
  const http = require('node:http');
  return new Promise((resolve, reject) => {
    http.request(`http://${host}${path}`, { method, headers: { accept } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ headers: res.headers, text }));
    }).on('error', reject).end();
  });
}

async function withHttp() {
  const head = await viaHttp('HEAD', `/v2/${repo}/manifests/${tag}`);
  pick(JSON.parse((await viaHttp('GET', `/v2/${repo}/manifests/${head.headers['docker-content-digest']}`)).text));
}

async function withUndici() {
  require('node:v8').setFlagsFromString('--liftoff-only');
  const api = require('undici/lib/api/index.js');
  Object.assign(require('undici/lib/dispatcher/dispatcher.js').prototype, api);
  const Agent = require('undici/lib/dispatcher/agent.js');
  const { z } = require('zod');
  const Index = z.object({
    schemaVersion: z.literal(2),
    mediaType: z.string().optional(),
    manifests: z.array(z.object({ mediaType: z.string(), digest: z.string(), size: z.number(), platform: z.object({ os: z.string(), architecture: z.string(), variant: z.string().optional() }).optional() })),
  });
  const agent = new Agent();
  const origin = `http://${host}`;
  const head = await api.request.call(agent, { origin, path: `/v2/${repo}/manifests/${tag}`, method: 'HEAD', headers: { accept } });
  await head.body.dump();
  const get = await api.request.call(agent, { origin, path: `/v2/${repo}/manifests/${head.headers['docker-content-digest']}`, method: 'GET', headers: { accept } });
  pick(Index.parse(await get.body.json()));
  await agent.close();
}

(mode === 'fetch' ? withFetch() : mode === 'http' ? withHttp() : withUndici()).catch((error) => {
  process.stderr.write(`which-floor: ${error.message}\n`);
  process.exit(1);
});
