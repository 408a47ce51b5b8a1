import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: integration suites measure rates, so keep at most two files running at once.
    maxWorkers: 2,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
