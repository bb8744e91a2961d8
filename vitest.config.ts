import { defineConfig } from 'vitest/config';

/**
 * The tests that need no service: pure rules, parsers, decoders, generated scripts, documents and
 * the fuzzing of those. They run with no global set-up (`npm run test:unit`, in seconds, with no
 * Redis or MongoDB); a file here that reached for a service would fail, not skip.
 */
export const UNIT_TESTS = [
  'test/bench/dataset-diff.test.ts',
  'test/cli/durations-and-exit-codes.test.ts',
  'test/connectors/**/*.test.ts',
  'test/docs/**/*.test.ts',
  'test/domain/**/*.test.ts',
  'test/fuzz/decoders.fuzz.test.ts',
  'test/fuzz/filters.fuzz.test.ts',
  'test/fuzz/tenant.fuzz.test.ts',
  'test/graph/odata.test.ts',
  'test/mongo/encryption.test.ts',
  'test/powershell/builders.test.ts',
  'test/powershell/decoders.test.ts',
  'test/powershell/filter-scripts.test.ts',
  'test/powershell/quoting.test.ts',
  'test/powershell/redaction.test.ts',
  'test/powershell/session-account.test.ts',
  'test/winrm/settings.test.ts',
  'test/workers/heap-growth.test.ts',
  'test/workers/run-status.test.ts',
];

const shared = {
  testTimeout: 30_000,
  hookTimeout: 60_000,
  pool: 'forks' as const,
};

export default defineConfig({
  test: {
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      { test: { ...shared, name: 'unit', include: UNIT_TESTS } },
      {
        test: {
          ...shared,
          name: 'integration',
          include: ['test/**/*.test.ts'],
          // The fault suite, the load test and the Redis Cluster suite have their own run: npm run test:faults (vitest.faults.config.ts).
          exclude: [...UNIT_TESTS, 'test/faults/**', 'test/cluster/**', '**/node_modules/**'],
          // Integration tests share one Redis and one MongoDB-wire server; each test file uses its own
          // database and key prefix, so files may run in parallel.
          globalSetup: ['test/global-setup.ts'],
        },
      },
    ],
  },
});
