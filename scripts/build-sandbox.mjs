#!/usr/bin/env node
// Builds the test sandbox (test/sandbox/*.ts: private registry/dockerd launchers, token server, image builder,
// pusher, demo) into .tmp/sandbox/*.js for the demo and the benchmarks. The sandbox is not part of the package
// (tsconfig.build.json compiles src/ only); its imports of the product (`../../src/X.js`) are rewritten to the
// built product (`dist/X.js`), so a benchmark that mixes sandbox and product modules loads one copy of each.
// Needs `npm run build` first.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { build } from 'esbuild';

const root = resolve(new URL('..', import.meta.url).pathname);
const srcDir = join(root, 'src');
const distDir = join(root, 'dist');
const outdir = join(root, '.tmp', 'sandbox');
const sandboxDir = join(root, 'test', 'sandbox');
if (!existsSync(join(distDir, 'http', 'http.js'))) {
  console.error('build-sandbox: dist/ is missing; run `npm run build` first');
  process.exit(1);
}
const entryPoints = readdirSync(sandboxDir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).map((f) => join(sandboxDir, f));

await build({
  entryPoints,
  outdir,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  logLevel: 'warning',
  plugins: [
    {
      name: 'product-from-dist',
      setup(b) {
        b.onResolve({ filter: /^\.\.?\// }, (args) => {
          const target = resolve(dirname(args.importer), args.path);
          if (!target.startsWith(srcDir + '/')) return undefined;
          const built = join(distDir, relative(srcDir, target));
          return { path: relative(outdir, built).replace(/^(?!\.)/, './'), external: true };
        });
        // Sibling sandbox modules stay separate files too (one module instance per file, as under vitest).
        b.onResolve({ filter: /^\.\// }, (args) => (args.importer.startsWith(sandboxDir + '/') ? { path: args.path, external: true } : undefined));
      },
    },
  ],
});
