#!/usr/bin/env node
// Bundles the CLI into dist/resolver.bundle.cjs (one file: faster starts than ~200 ESM modules).
// `undici` is mapped to src/http/undici-lite.cjs (the same pinned package, fewer modules initialised).
// dockerode is bundled (loaded lazily by the commands that talk to the engine) with gRPC, proto-loader and
// ssh2 mapped to src/engine/bundle-stubs/unsupported.cjs; systeminformation and node-cron stay external.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/resolver.bundle.cjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // Only the daemon needs pino and yaml: kept out of the bundle so one-shot commands read and compile less.
  external: ['systeminformation', 'node-cron', 'cpu-features', 'pino', 'yaml'],
  minifySyntax: true,
  minifyWhitespace: true,
  legalComments: 'eof',
  logLevel: 'warning',
  // Lazy imports of the external packages become require() calls: vm.Script has no dynamic-import hook.
  supported: { 'dynamic-import': false },
  plugins: [
    {
      name: 'undici-lite',
      setup(b) {
        b.onResolve({ filter: /^undici$/ }, () => ({ path: new URL('../src/http/undici-lite.cjs', import.meta.url).pathname }));
        b.onResolve({ filter: /^(@grpc\/grpc-js|@grpc\/proto-loader|ssh2)$/ }, () => ({ path: new URL('../src/engine/bundle-stubs/unsupported.cjs', import.meta.url).pathname }));
      },
    },
  ],
});
