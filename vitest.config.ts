import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Real sockets and child processes (SIPp, openssl): separate processes, not threads.
    pool: 'forks',
    // CI and this machine have 2 cores: at most 2 test files at once.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
