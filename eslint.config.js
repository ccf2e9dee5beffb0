// Type-aware lint (style.md §19): typescript-eslint strictTypeChecked + stylisticTypeChecked, and the
// architecture as rules: the pure core imports no IO (§2), console only in cli/output.ts.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const io = ['node:fs', 'node:fs/promises', 'node:net', 'node:http', 'node:https', 'node:child_process', 'node:os', 'node:process', 'undici', 'dockerode', 'node-cron', 'systeminformation'];

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
  {
    files: ['src/platform/**', 'src/reference/**', 'src/manifest/**', 'src/config/schema.ts', 'src/registry/www-authenticate.ts', 'src/engine/pull-progress.ts', 'src/publish/source-child.ts'],
    ignores: ['src/platform/detect.ts', '**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: io.map((name) => ({ name, message: 'the pure core does no IO (style.md §2)' })), patterns: [{ group: ['**/log/*'], message: 'the pure core does not log' }] }],
    },
  },
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
