import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SyncError } from '../../domain/errors.js';
import { SYNC_JOB } from '../../queues/sync-queue.js';
import { enqueueUnrecorded } from '../queues/support/enqueue-unrecorded.js';
import { workerSettings, type SyncWorker, type WorkerSettings } from '../../workers/worker.js';
import { queueFixture, type QueueFixture } from '../queues/support/queue-fixture.js';
import { testProcessor, type TestProcessorOptions } from './support/test-processor.js';
import {
  addTenant,
  eventually,
  fastQueue,
  fastWorker,
  jobCounts,
  quietLogger,
  runIntervals,
  startTestWorker,
  sweepFreely,
} from './support/harness.js';
import { parseSettings } from '../../domain/settings.js';

describe('the sync worker', () => {
  let fx: QueueFixture;
  const workers: SyncWorker[] = [];

  async function worker(
    options: TestProcessorOptions,
    id: string,
    settings: Partial<WorkerSettings> = {},
  ): Promise<SyncWorker> {
    const w = await startTestWorker({
      redis: fx.redisConfig,
      db: fx.db,
      processor: testProcessor(fx.db, options),
      settings: { ...fastWorker, ...settings },
      deleteThresholds: sweepFreely,
      queueSettings: fastQueue,
      workerId: id,
      logger: quietLogger,
    });
    workers.push(w);
    return w;
  }

  beforeAll(async () => {
    fx = await queueFixture('worker');
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.close(500)));
    await fx.queue.obliterate({ force: true });
    await fx.db.collection('test_log').deleteMany({});
  });
  afterAll(async () => {
    await fx.close();
  });

  it('has defaults fit for long runs, from the environment', () => {
    expect(workerSettings(parseSettings({}))).toMatchObject({
      concurrency: 2,
      lockDurationMs: 300_000,
      maxStalledCount: 2,
    });
    expect(workerSettings(parseSettings({ SYNC_WORKER_CONCURRENCY: '5' })).concurrency).toBe(5);
    expect(() => parseSettings({ SYNC_WORKER_CONCURRENCY: 'many' })).toThrow(/SYNC_WORKER_CONCURRENCY/);
  });

  it('never runs one tenant in two workers at once, even for jobs that bypass de-duplication', async () => {
    const tenantId = await addTenant(fx.db);
    // A lease long enough that a loaded machine (CI, two cores) cannot let it lapse mid-run: this test
    // is about serialising runs; lapsed leases and zombies have their own tests.
    const steady = { leaseTtlMs: 5000, lockDurationMs: 5000 };
    const a = await worker({ pages: 3, pageSize: 10, delayMs: 100, version: 'v' }, 'worker-a', steady);
    const b = await worker({ pages: 3, pageSize: 10, delayMs: 100, version: 'v' }, 'worker-b', steady);
    expect(a.isRunning() && b.isRunning()).toBe(true);
    // Four jobs for one tenant without de-duplication: the lease alone must serialise them.
    for (let i = 0; i < 4; i++) {
      await fx.queue.add(SYNC_JOB, { tenantId, trigger: 'api', requestedBy: `r${i}` }, { attempts: 1 });
    }
    await eventually(async () => (await jobCounts(fx.queue)).completed === 4, 25_000);
    const intervals = (await runIntervals(fx.db)).sort((x, y) => x.start - y.start);
    expect(intervals).toHaveLength(4);
    for (let i = 1; i < intervals.length; i++) {
      expect(intervals[i]!.start).toBeGreaterThanOrEqual(intervals[i - 1]!.end);
    }
    const done = await fx.runs.list({ tenantId });
    expect(done.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    // A start that found the lease held and went back to wait used no attempt (BullMQ's own
    // attemptsStarted counts it).
    expect(done.map((r) => r.attempt)).toEqual([1, 1, 1, 1]);
    expect(new Set(done.map((r) => r.worker)).size).toBeGreaterThanOrEqual(1);
  });

  it('fails a configuration error at once with its message, and retries a transient one', async () => {
    const tenantId = await addTenant(fx.db);
    await worker(
      {
        pages: 1,
        pageSize: 1,
        delayMs: 0,
        version: 'v',
        failWith: () =>
          new SyncError(
            'AUTHENTICATION',
            'Graph refused the client secret: set a valid Microsoft 365.client_secret',
          ),
      },
      'worker-auth',
    );
    const job = await enqueueUnrecorded(fx.queue, { tenantId, trigger: 'cli', requestedBy: 'op' }, fastQueue);
    await eventually(async () => (await jobCounts(fx.queue)).failed === 1);
    const failed = (await fx.queue.getJob(job.jobId))!;
    expect(failed.attemptsMade).toBe(1);
    expect(failed.failedReason).toMatch(/^AUTHENTICATION: Graph refused the client secret/);
    const [run] = await fx.runs.list({ tenantId });
    expect(run).toMatchObject({ status: 'failed', willRetry: false, error: { code: 'AUTHENTICATION' } });
    await Promise.all(workers.splice(0).map((w) => w.close(500)));

    const other = await addTenant(fx.db);
    await worker(
      {
        pages: 1,
        pageSize: 1,
        delayMs: 0,
        version: 'v',
        failWith: () => new SyncError('TRANSIENT', 'Graph answered 503', { retryable: true }),
      },
      'worker-transient',
    );
    const retried = await enqueueUnrecorded(
      fx.queue,
      { tenantId: other, trigger: 'cli', requestedBy: 'op' },
      fastQueue,
    );
    await eventually(
      async () =>
        (await fx.queue.getJob(retried.jobId))?.failedReason !== undefined &&
        (await jobCounts(fx.queue)).failed === 2,
    );
    expect((await fx.queue.getJob(retried.jobId))!.attemptsMade).toBe(2);
    const attempts = await fx.runs.list({ tenantId: other });
    expect(attempts.map((r) => [r.attempt, r.status, r.willRetry])).toEqual([
      [2, 'failed', false],
      [1, 'failed', true],
    ]);
  });

  it('on shutdown past the grace time, cancels the run and hands the job back for another worker', async () => {
    const tenantId = await addTenant(fx.db);
    const slow = await worker({ pages: 50, pageSize: 5, delayMs: 100, version: 'v' }, 'worker-slow');
    const job = await enqueueUnrecorded(fx.queue, { tenantId, trigger: 'cli', requestedBy: 'op' }, fastQueue);
    await eventually(async () => (await fx.runs.list({ tenantId }))[0]?.status === 'running');
    const t0 = Date.now();
    await slow.close(300);
    expect(Date.now() - t0).toBeLessThan(6000);
    expect(slow.isRunning()).toBe(false);
    const state = await (await fx.queue.getJob(job.jobId))!.getState();
    expect(['delayed', 'waiting', 'prioritized']).toContain(state);
    expect((await fx.runs.list({ tenantId }))[0]?.status).toBe('cancelled');

    await worker({ pages: 2, pageSize: 5, delayMs: 10, version: 'v' }, 'worker-next');
    await eventually(async () => (await jobCounts(fx.queue)).completed === 1);
    const records = await fx.runs.list({ tenantId });
    expect(records.map((r) => [r.status, r.attempt])).toEqual([
      ['succeeded', 2],
      ['cancelled', 1],
    ]);
    expect((await fx.queue.getJob(job.jobId))!.attemptsMade).toBeLessThanOrEqual(1);
  });

  it('abandons a cancelled run whose processor does not stop, so the job moves on without it', async () => {
    const tenantId = await addTenant(fx.db);
    const stuck = await worker(
      { pages: 50, pageSize: 5, delayMs: 100, version: 'v', stuckOnAbort: true },
      'worker-stuck',
    );
    const job = await enqueueUnrecorded(fx.queue, { tenantId, trigger: 'cli', requestedBy: 'op' }, fastQueue);
    await eventually(async () => (await fx.runs.list({ tenantId }))[0]?.status === 'running');
    // Without the abandonment, close() waits for the processor for ever.
    await stuck.close(300);
    expect(['delayed', 'waiting', 'prioritized']).toContain(
      await (await fx.queue.getJob(job.jobId))!.getState(),
    );
    const [run] = await fx.runs.list({ tenantId });
    expect(run).toMatchObject({ status: 'cancelled', error: { code: 'CANCELLED' } });
    expect(run!.error!.message).toMatch(/did not stop within \d+ ms; it was abandoned/);

    await worker({ pages: 2, pageSize: 5, delayMs: 10, version: 'v' }, 'worker-next');
    await eventually(async () => (await jobCounts(fx.queue)).completed === 1);
    expect((await fx.runs.list({ tenantId })).map((r) => r.status)).toEqual(['succeeded', 'cancelled']);
  });
});
