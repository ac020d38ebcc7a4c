import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Property-based gradient checks are CPU-bound; two workers match the CI box.
    maxWorkers: 2,
    testTimeout: 60_000,
  },
});
