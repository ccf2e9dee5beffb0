// Type-aware lint (style.md §19): typescript-eslint strictTypeChecked + stylisticTypeChecked, and the
// architecture as rules: the pure core imports no IO (§2), console only in cli/output.ts, and imports between
// the folders of src/ point down the layer table below (docs/architecture.md).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const io = ['node:fs', 'node:fs/promises', 'node:net', 'node:http', 'node:https', 'node:child_process', 'node:os', 'node:process', 'undici', 'dockerode', 'node-cron', 'systeminformation'];

// The folders of src/, bottom first. A folder may import the folders of lower layers, never its own layer's
// other folders nor anything above (src/errors.ts is below everything). A new folder gets a row here and in
// docs/architecture.md; src/layers.test.ts fails until it has one.
export const layers = [
  ['secret', 'duration', 'json', 'memo', 'limit'],
  ['reference', 'platform'],
  ['manifest'],
  ['http', 'log', 'state'],
  ['notify', 'mirror', 'discover', 'api', 'budget', 'preflight', 'rollout'],
  ['registry', 'engine'],
  ['activate', 'prefetch'],
  ['config'],
  ['resolver', 'publish'],
  ['daemon'],
  ['cli'],
];
const pureFiles = ['src/duration/**', 'src/json/**', 'src/memo/**', 'src/limit/**', 'src/platform/**', 'src/reference/**', 'src/manifest/**', 'src/config/schema.ts', 'src/registry/www-authenticate.ts', 'src/engine/pull-progress.ts', 'src/engine/stream-demux.ts', 'src/publish/source-child.ts', 'src/cli/format-bytes.ts', 'src/notify/config.ts', 'src/api/config.ts', 'src/notify/template.ts', 'src/notify/derive.ts', 'src/notify/notification.ts', 'src/mirror/hosts.ts', 'src/mirror/config.ts', 'src/discover/config.ts', 'src/discover/select.ts', 'src/budget/budget.ts', 'src/budget/config.ts', 'src/engine/container-spec.ts', 'src/activate/config.ts', 'src/activate/window.ts', 'src/preflight/config.ts', 'src/preflight/estimate.ts', 'src/prefetch/config.ts', 'src/prefetch/pace.ts'];
const pureIgnores = ['src/platform/detect.ts', '**/*.test.ts'];
const pureRule = { paths: io.map((name) => ({ name, message: 'the pure core does no IO (style.md §2)' })), patterns: [{ group: ['**/log/*'], message: 'the pure core does not log' }] };

/** The lint blocks of one folder: static imports (no-restricted-imports), import() calls and import() types. */
function layerBlocks(folder, level) {
  const forbidden = layers.flatMap((row, i) => (i < level ? [] : row.filter((f) => f !== folder)));
  const below = layers.slice(0, level).flat();
  const message = `${folder}/ may import only ${[...below, 'errors.ts'].join(', ')}: dependencies point down (docs/architecture.md)`;
  const alternation = forbidden.join('|');
  const upward = forbidden.length === 0 ? [] : [{ regex: `^(\\.\\./)+(${alternation})/`, message }];
  // Product code never imports the tests (test/fakes, test/sandbox); the tests beside it may.
  const intoTests = { regex: '^(\\.\\./)+test/', message: 'product code does not import test/' };
  // esquery regexes cannot hold a slash: \x2F.
  const dynamic = `^([.][.]\\x2F)+(${alternation})\\x2F`;
  const syntax = forbidden.length === 0 ? 'off' : ['error', { selector: `ImportExpression > Literal[value=/${dynamic}/]`, message }, { selector: `TSImportType Literal[value=/${dynamic}/]`, message }];
  const pureHere = pureFiles.filter((f) => f.startsWith(`src/${folder}/`));
  return [
    { files: [`src/${folder}/**`], rules: { 'no-restricted-imports': ['error', { patterns: [...upward, intoTests] }], 'no-restricted-syntax': syntax } },
    { files: [`src/${folder}/**/*.test.ts`], rules: { 'no-restricted-imports': forbidden.length === 0 ? 'off' : ['error', { patterns: upward }] } },
    ...(pureHere.length === 0 ? [] : [{ files: pureHere, ignores: pureIgnores, rules: { 'no-restricted-imports': ['error', { paths: pureRule.paths, patterns: [...pureRule.patterns, ...upward, intoTests] }] } }]),
  ];
}

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.tmp/', 'bench/', 'scripts/', 'bin/', 'test/harness/*.mjs', 'test/harness/*.cjs', 'src/http/undici-lite.cjs', 'src/engine/bundle-stubs/', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  ...tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      'no-console': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // `const { authorization: _a, ...rest } = headers` leaves a key out on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { varsIgnorePattern: '^_', argsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  // Flat config replaces a rule's options per block, so each folder's block carries its layer patterns and, for
  // the pure files, the IO ban as well.
  ...layers.flatMap((row, level) => row.flatMap((folder) => layerBlocks(folder, level))),
  {
    files: ['**/*.test.ts', 'test/**'],
    rules: {
      // Tests read untyped JSON from real services and assert on it.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);
