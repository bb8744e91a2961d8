import { defineConfig } from 'vitest/config';

/**
 * The tests that need no service are named for it: `*.unit.test.ts` (pure rules, parsers, decoders,
 * generated scripts, documents, the fuzzing of those, units with an injected clock). They run with no
 * global set-up and vitest's default timeout (`npm run test:unit`, in seconds, with no Redis or
 * MongoDB); a unit test that reached for a service would fail, not skip. Every other test file is an
 * integration test. The kind is in the file name, so the split cannot drift from a list.
 */
const UNIT_TESTS = 'test/**/*.unit.test.ts';

export default defineConfig({
  test: {
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      { test: { name: 'unit', include: [UNIT_TESTS], pool: 'forks' } },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          // The fault suite, the load test and the Redis Cluster suite have their own run: npm run
          // test:faults (vitest.faults.config.ts).
          exclude: [UNIT_TESTS, 'test/faults/**', 'test/cluster/**', '**/node_modules/**'],
          // Real services, simulators and processes: a test takes seconds, a hook starts servers.
          testTimeout: 30_000,
          hookTimeout: 60_000,
          pool: 'forks',
          // Integration tests share one Redis and one MongoDB-wire server; each test file uses its own
          // database and key prefix, so files may run in parallel.
          globalSetup: ['test/global-setup.ts'],
        },
      },
    ],
  },
});
