import { defineConfig } from 'vitest/config';

// Forks, not threads: tests touch process-wide state (cwd, signals, native addons).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
  },
});
