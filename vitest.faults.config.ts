import { defineConfig } from 'vitest/config';

/**
 * The fault suite (`npm run test:faults`): real processes killed, frozen and cut off on loopback, and
 * the load test, and the engine on a Redis Cluster whose master is killed (test/cluster/). Files run one at a time: each starts worker processes and servers of its own, and
 * the machine (CI: two cores) must not be what fails them.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts', 'test/cluster/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
