/**
 * A worker's claim of a request's record (`queued` → `running`) is never undone by its producer.
 * The producer writes nothing to a created request's record after the add, because a worker may be
 * claiming it that very moment, and FerretDB v1 applies an update as a read-modify-write of the whole
 * document: an update racing the claim wrote `queued` back (a probe of 200 concurrent pairs lost the
 * claim 99 times), and a second attempt then claimed the same record. Real BullMQ workers claim as
 * the sync worker does, on both FerretDB backends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker, type Queue } from 'bullmq';
import { SyncRunStore } from '../../connectors/mongo/sync-runs.js';
import { workerConnection } from '../../queues/connection.js';
import { createSyncQueue, SYNC_QUEUE, type SyncJobData } from '../../queues/sync-queue.js';
import { storeBackends, testMongo, testRedis, type TestMongo, type TestRedis } from '../support/services.js';
import { eventually } from '../workers/support/harness.js';
import { enqueueRecorded } from '../../operations/index.js';
import { DEFAULT_SETTINGS } from '../../domain/settings.js';

const TENANTS = 100;
/** Requests in flight at once: FerretDB wedges with about fifty update statements in flight. */
const AT_ONCE = 10;

describe.each(storeBackends())('enqueue and claim at the same moment on $name', ({ uri }) => {
  let redis: TestRedis;
  let mongo: TestMongo;
  let queue: Queue<SyncJobData, unknown, string>;
  let claimer: Worker<SyncJobData>;
  let runs: SyncRunStore;
  const claims = new Map<string, number>();
  beforeAll(async () => {
    redis = await testRedis('claimrace');
    mongo = await testMongo('claimrace', uri);
    runs = new SyncRunStore(mongo.db);
    await runs.ensureIndexes();
    queue = createSyncQueue({ url: redis.url, prefix: redis.prefix });
    claimer = new Worker<SyncJobData>(
      SYNC_QUEUE,
      async (job) => {
        const run = await runs.start({
          runId: job.data.runId,
          tenantId: job.data.tenantId,
          hierarchy: 'race',
          trigger: job.data.trigger,
          requestedBy: job.data.requestedBy,
          jobId: String(job.id),
          attempt: job.attemptsMade + 1,
          worker: 'claimer',
        });
        claims.set(run.id, (claims.get(run.id) ?? 0) + 1);
      },
      {
        connection: workerConnection({ url: redis.url, prefix: redis.prefix }),
        prefix: redis.prefix,
        concurrency: AT_ONCE,
      },
    );
    await claimer.waitUntilReady();
  });
  afterAll(async () => {
    await claimer?.close();
    await queue?.obliterate({ force: true });
    await queue?.close();
    await redis?.close();
    await mongo?.close();
  });

  it('leaves every claimed record running, claimed once', async () => {
    const runIds: string[] = [];
    for (let i = 0; i < TENANTS; i += AT_ONCE) {
      const batch = Array.from({ length: AT_ONCE }, (_, j) =>
        enqueueRecorded(
          { queue: queue, stores: { runs }, settings: DEFAULT_SETTINGS },
          { request: { tenantId: `race-${i + j}`, trigger: 'api', requestedBy: 'op' }, hierarchy: 'race' },
        ),
      );
      for (const result of await Promise.all(batch)) {
        expect(result.outcome).toBe('created');
        runIds.push(result.runId!);
      }
    }
    await eventually(async () => (await queue.getJobCounts('completed')).completed === TENANTS, 60_000);
    const records = await runs.collection.find({}).toArray();
    expect(records).toHaveLength(TENANTS);
    const notRunning = records.filter((r) => r.status !== 'running').map((r) => r.status);
    expect(notRunning).toEqual([]);
    expect([...claims.values()].every((n) => n === 1)).toBe(true);
    expect(new Set(claims.keys())).toEqual(new Set(runIds));
  });
});
