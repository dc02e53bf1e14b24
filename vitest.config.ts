import { defineConfig } from 'vitest/config';

// Suites that measure latency under load (a heavy query must not delay another client past a
// second) run in a second group, alone, after everything else: on a 2-core machine other test
// files running beside them would measure the test runner, not the server.
const ALONE = ['test/serve-resources.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'main', include: ['test/**/*.test.ts'], exclude: ALONE, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'alone', include: ALONE, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
