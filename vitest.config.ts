import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globals: false,
    restoreMocks: true,
    mockReset: true,
    unstubEnvs: true,
    projects: [
      {
        extends: true,
        // test/fakes/ are the unit tests' shared fakes; their own tests are unit tests.
        test: { name: 'unit', include: ['src/**/*.test.ts', 'test/fakes/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['test/fakes/**'],
          globalSetup: ['test/harness/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
