import { configDefaults, defineConfig } from 'vitest/config';

/** Tests that load the whole machine (floods, timing measurements): run alone, after the rest. */
const EXCLUSIVE = 'packages/*/test/**/exclusive/**/*.test.ts';

export default defineConfig({
  test: {
    environment: 'node',
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Real sockets and child processes (SIPp, openssl): separate processes, not threads.
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'main',
          include: ['packages/*/test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, EXCLUSIVE],
          // CI and this machine have 2 cores: at most 2 test files at once.
          fileParallelism: true,
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'exclusive',
          include: [EXCLUSIVE],
          // One file at a time, once every other file has finished.
          fileParallelism: false,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
