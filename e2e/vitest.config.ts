import { defineConfig } from 'vitest/config';

// e2e files run one at a time: they share the machine (mounts, cgroups, pids).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 60_000,
  },
});
