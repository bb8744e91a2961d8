/**
 * A worker's claim of a request's record (`queued` → `running`) is never undone by its producer.
 * The producer writes nothing to a created request's record after the add, because a worker may be
 * claiming it that very moment, and FerretDB v1 applies an update as a read-modify-write of the whole
 * document: an update racing the claim wrote `queued` back (a probe of 200 concurrent pairs lost the
 * claim 99 times), and a second attempt then claimed the same record. Real BullMQ workers claim as
 * the sync worker does, on both FerretDB backends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from 'bullmq';
import { workerConnection } from '../../queues/connection.js';
import { SYNC_QUEUE, type SyncJobData } from '../../queues/sync-queue.js';
import { storeBackends } from '../support/services.js';
import { queueFixture, type QueueFixture } from '../queues/support/queue-fixture.js';
import { eventually } from '../workers/support/harness.js';
import { enqueueRecorded } from '../../operations/index.js';
import { DEFAULT_SETTINGS } from '../../domain/settings.js';

const TENANTS = 100;
/** Requests in flight at once: FerretDB wedges with about fifty update statements in flight. */
const AT_ONCE = 10;

describe.each(storeBackends())('enqueue and claim at the same moment on $name', ({ uri }) => {
  let fx: QueueFixture;
  let claimer: Worker<SyncJobData>;
  const claims = new Map<string, number>();
  beforeAll(async () => {
    fx = await queueFixture('claimrace', uri);
    const { runs } = fx;
    await runs.ensureIndexes();
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
        connection: workerConnection(fx.redisConfig),
        prefix: fx.redisConfig.prefix,
        concurrency: AT_ONCE,
      },
    );
    await claimer.waitUntilReady();
  });
  afterAll(async () => {
    await claimer?.close();
    await fx?.close();
  });

  it('leaves every claimed record running, claimed once', async () => {
    const runIds: string[] = [];
    for (let i = 0; i < TENANTS; i += AT_ONCE) {
      const batch = Array.from({ length: AT_ONCE }, (_, j) =>
        enqueueRecorded(
          { queue: fx.queue, stores: { runs: fx.runs }, settings: DEFAULT_SETTINGS },
          { request: { tenantId: `race-${i + j}`, trigger: 'api', requestedBy: 'op' }, hierarchy: 'race' },
        ),
      );
      for (const result of await Promise.all(batch)) {
        expect(result.outcome).toBe('created');
        runIds.push(result.runId!);
      }
    }
    await eventually(async () => (await fx.queue.getJobCounts('completed')).completed === TENANTS, 60_000);
    const records = await fx.runs.collection.find({}).toArray();
    expect(records).toHaveLength(TENANTS);
    const notRunning = records.filter((r) => r.status !== 'running').map((r) => r.status);
    expect(notRunning).toEqual([]);
    expect([...claims.values()].every((n) => n === 1)).toBe(true);
    expect(new Set(claims.keys())).toEqual(new Set(runIds));
  });
});
