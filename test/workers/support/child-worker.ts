/**
 * A worker in its own process, for the crash and zombie tests: `npx tsx child-worker.ts` with
 * CHILD_* variables; prints "ready" when it takes jobs.
 */
import { MongoClient } from 'mongodb';
import { createLogger } from '../../../observability/logger.js';
import { testProcessor } from './test-processor.js';
import { startTestWorker, sweepFreely } from './harness.js';

const env = process.env;
const client = new MongoClient(env.CHILD_MONGODB_URI ?? 'mongodb://127.0.0.1:27017');
await client.connect();
const db = client.db(env.CHILD_DB);
const worker = await startTestWorker({
  redis: { url: env.CHILD_REDIS_URL ?? 'redis://127.0.0.1:6379', prefix: env.CHILD_PREFIX ?? 'none' },
  db,
  processor: testProcessor(db, {
    pages: Number(env.CHILD_PAGES),
    pageSize: Number(env.CHILD_PAGE_SIZE),
    delayMs: Number(env.CHILD_DELAY_MS),
    version: env.CHILD_VERSION ?? 'child',
    ignoreAbort: env.CHILD_IGNORE_ABORT === '1',
  }),
  settings: {
    lockDurationMs: 1000,
    stalledIntervalMs: 1000,
    leaseTtlMs: Number(env.CHILD_LEASE_TTL_MS ?? 1500),
    leaseClockSkewMs: 0,
    leaseRetryMs: 300,
  },
  deleteThresholds: sweepFreely,
  workerId: 'child',
  logger: createLogger({ level: 'warn' }),
});
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  void worker.close(500).then(async () => {
    await client.close();
    process.exit(0);
  });
});
