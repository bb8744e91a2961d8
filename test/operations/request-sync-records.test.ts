/**
 * Run records that tell the truth: written before the enqueue under the id that becomes the job id,
 * claimed by that id, merged when de-duplicated, and ended by the reaper when no job will end them.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SyncRunStore } from '../../connectors/mongo/sync-runs.js';
import type { SyncWorker, WorkerSettings } from '../../workers/worker.js';
import { queueFixture, type QueueFixture } from '../queues/support/queue-fixture.js';
import { testProcessor } from '../workers/support/test-processor.js';
import {
  addTenant,
  eventually,
  fastQueue,
  fastSettings,
  fastWorker,
  jobCounts,
  quietLogger,
  startTestWorker,
  sweepFreely,
} from '../workers/support/harness.js';
import { enqueueRecorded } from '../../operations/index.js';

describe('sync run records', () => {
  let fx: QueueFixture;
  const workers: SyncWorker[] = [];

  async function worker(settings: Partial<WorkerSettings> = {}): Promise<SyncWorker> {
    const w = await startTestWorker({
      redis: fx.redisConfig,
      db: fx.db,
      processor: testProcessor(fx.db, { pages: 2, pageSize: 5, delayMs: 20, version: 'v' }),
      settings: { ...fastWorker, ...settings },
      deleteThresholds: sweepFreely,
      queueSettings: fastQueue,
      logger: quietLogger,
    });
    workers.push(w);
    return w;
  }

  beforeAll(async () => {
    fx = await queueFixture('runrecords');
    await fx.runs.ensureIndexes();
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.close(500)));
    await fx.queue.obliterate({ force: true });
    await fx.runs.collection.deleteMany({});
  });
  afterAll(async () => {
    await fx.close();
  });

  it('makes exactly one queued run of fifty identical enqueues in the same instant', async () => {
    const tenantId = await addTenant(fx.db);
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        enqueueRecorded(
          { queue: fx.queue, stores: { runs: fx.runs }, settings: fastSettings },
          { request: { tenantId, trigger: 'api', requestedBy: 'op' }, hierarchy: '' },
        ),
      ),
    );
    const created = results.filter((r) => r.outcome === 'created');
    expect(created).toHaveLength(1);
    expect(created[0]!.jobId).toBe(created[0]!.runId);
    expect(results.every((r) => r.outcome === 'created' || r.outcome === 'joined-waiting')).toBe(true);
    expect(new Set(results.map((r) => r.jobId))).toEqual(new Set([created[0]!.jobId]));
    const recorded = await fx.runs.list({ tenantId, limit: 100 });
    expect(recorded).toHaveLength(50);
    expect(recorded.filter((r) => r.status === 'queued').map((r) => r.id)).toEqual([created[0]!.runId]);
    const merged = recorded.filter((r) => r.status === 'merged');
    expect(merged).toHaveLength(49);
    expect(merged.every((r) => r.mergedInto === created[0]!.runId)).toBe(true);
    expect(await jobCounts(fx.queue)).toMatchObject({ waiting: 1 });

    await worker();
    await eventually(async () => (await fx.runs.get(created[0]!.runId!))?.status === 'succeeded');
    expect(await fx.runs.list({ tenantId, status: 'queued' })).toEqual([]);
  });

  it('lets the worker claim the request it runs even when the queued record is slow to write', async () => {
    await worker();
    const tenantId = await addTenant(fx.db);
    // A slow insert of the queued record (a loaded MongoDB): the job must not start without it.
    const slowRuns = new SyncRunStore(fx.db);
    const insertOne = slowRuns.collection.insertOne.bind(slowRuns.collection);
    slowRuns.collection.insertOne = (async (...args: Parameters<typeof insertOne>) => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      return insertOne(...args);
    }) as typeof insertOne;
    const enqueued = await enqueueRecorded(
      { queue: fx.queue, stores: { runs: slowRuns }, settings: fastSettings },
      { request: { tenantId, trigger: 'cli', requestedBy: 'op' }, hierarchy: '' },
    );
    const run = await eventually(async () => {
      const r = await fx.runs.get(enqueued.runId!);
      return r?.status === 'succeeded' && r;
    });
    expect(run).toMatchObject({ jobId: enqueued.jobId, attempt: 1, trigger: 'cli' });
    await eventually(async () => (await jobCounts(fx.queue)).completed === 1);
    expect(await fx.runs.list({ tenantId })).toHaveLength(1);
  });

  it('ends the run of a job whose tenant was deleted before it ran', async () => {
    const tenantId = await addTenant(fx.db);
    const enqueued = await enqueueRecorded(
      { queue: fx.queue, stores: { runs: fx.runs }, settings: fastSettings },
      { request: { tenantId, trigger: 'api', requestedBy: 'op' }, hierarchy: '' },
    );
    await fx.db.collection('tenants').deleteMany({});
    await worker();
    const run = await eventually(async () => {
      const r = await fx.runs.get(enqueued.runId!);
      return r !== null && r.status !== 'queued' ? r : undefined;
    });
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ code: 'NOT_FOUND' });
    expect(run.error?.message).toMatch(/does not exist/);
    await eventually(async () => (await jobCounts(fx.queue)).failed === 1);
  });

  it('merges a follow-up request replaced by a later one while the run still goes on, never loses it', async () => {
    const w = await startTestWorker({
      redis: fx.redisConfig,
      db: fx.db,
      processor: testProcessor(fx.db, { pages: 8, pageSize: 5, delayMs: 250, version: 'v' }),
      settings: { ...fastWorker, reaperIntervalMs: 100, enqueueGraceMs: 100 },
      deleteThresholds: sweepFreely,
      queueSettings: fastQueue,
      logger: quietLogger,
    });
    workers.push(w);
    const tenantId = await addTenant(fx.db);
    const request = (by: string) =>
      enqueueRecorded(
        { queue: fx.queue, stores: { runs: fx.runs }, settings: fastSettings },
        { request: { tenantId, trigger: 'api', requestedBy: by }, hierarchy: '' },
      );
    const first = await request('first');
    await eventually(async () => (await fx.runs.get(first.runId!))?.status === 'running');
    const replaced = await request('replaced');
    const kept = await request('kept');
    expect([replaced.outcome, kept.outcome]).toEqual(['follow-up', 'follow-up']);
    // While the first run goes on (the reaper passes every 100 ms), the replaced request is merged into
    // the kept one, which BullMQ runs when the first run ends.
    const merged = await eventually(async () => {
      const r = await fx.runs.get(replaced.runId!);
      return r !== null && r.status !== 'queued' ? r : undefined;
    });
    expect(merged).toMatchObject({ status: 'merged', mergedInto: kept.runId });
    expect((await fx.runs.get(first.runId!))?.status).toBe('running');
    await eventually(async () => (await fx.runs.get(kept.runId!))?.status === 'succeeded', 20_000);
    expect((await fx.runs.get(first.runId!))?.status).toBe('succeeded');
  });

  it('never lets a job of a Redis that lost its data take over an older run record', async () => {
    // Tenant A's request is queued; Redis then loses everything (restart without persistence).
    const tenantA = await addTenant(fx.db);
    const a = await enqueueRecorded(
      { queue: fx.queue, stores: { runs: fx.runs }, settings: fastSettings },
      { request: { tenantId: tenantA, trigger: 'cli', requestedBy: 'op-a' }, hierarchy: '' },
    );
    // (Only this file's keys: the Redis is shared.)
    let cursor = '0';
    do {
      const [next, keys] = await fx.redis.redis.scan(cursor, 'MATCH', `${fx.redis.prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await fx.redis.redis.del(...keys);
    } while (cursor !== '0');
    const tenantB = await addTenant(fx.db);
    const b = await enqueueRecorded(
      { queue: fx.queue, stores: { runs: fx.runs }, settings: fastSettings },
      { request: { tenantId: tenantB, trigger: 'cli', requestedBy: 'op-b' }, hierarchy: '' },
    );
    expect(b.jobId).not.toBe(a.jobId);
    await worker({ reaperIntervalMs: 200, enqueueGraceMs: 200 });
    await eventually(async () => (await fx.runs.get(b.runId!))?.status === 'succeeded');
    expect(await fx.runs.get(b.runId!)).toMatchObject({ tenantId: tenantB, requestedBy: 'op-b' });
    // A's record stays A's, and the reaper ends it: its job is gone and no run of A happened since.
    const lost = await eventually(async () => {
      const r = await fx.runs.get(a.runId!);
      return r !== null && r.status !== 'queued' ? r : undefined;
    });
    expect(lost).toMatchObject({ tenantId: tenantA, requestedBy: 'op-a', status: 'failed' });
    expect(lost.error?.code).toBe('JOB_LOST');
  });
});
