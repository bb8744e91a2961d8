import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from 'bullmq';
import { SyncError } from '../../domain/errors.js';
import { ValidationError } from '../../domain/errors.js';
import { prepareSync, createSyncQueue, waitForRun, type SyncJobData } from '../../queues/sync-queue.js';
import { enqueueUnrecorded } from './support/enqueue-unrecorded.js';
import { redisSettings, redactRedisUrl } from '../../queues/connection.js';
import type { SyncWorker } from '../../workers/worker.js';
import { queueFixture, type QueueFixture } from './support/queue-fixture.js';
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
import { parseSettings } from '../../domain/settings.js';
import { enqueueRecorded } from '../../operations/index.js';

describe('the tenant-sync queue', () => {
  let fx: QueueFixture;
  let worker: SyncWorker | undefined;
  beforeAll(async () => {
    fx = await queueFixture('syncqueue');
  });
  afterAll(async () => {
    await worker?.close(1000);
    await fx.close();
  });

  it('reads its Redis settings from the environment, checked', () => {
    expect(redisSettings(parseSettings({ REDIS_URL: 'redis://h:1', M365SYNC_QUEUE_PREFIX: '{m}' }))).toEqual({
      url: 'redis://h:1',
      prefix: '{m}',
    });
    expect(() => parseSettings({ REDIS_URL: 'http://x' })).toThrow(/REDIS_URL/);
    expect(redactRedisUrl('redis://user:s3cret@host:6379')).toBe('redis://user:***@host:6379');
  });

  it('accepts exactly { tenantId, trigger, requestedBy, kinds? } and never a secret', async () => {
    const { queue } = fx;
    const secret = 'Sup3r-S3cret-Value';
    const error = await prepareSync(queue, {
      tenantId: 'abc',
      trigger: 'cli',
      requestedBy: 'op',
      clientSecret: secret,
    } as SyncJobData).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(/clientSecret/);
    expect((error as Error).message).not.toContain(secret);
    await expect(prepareSync(queue, { tenantId: 'a:b', trigger: 'cli', requestedBy: 'op' })).rejects.toThrow(
      ValidationError,
    );
    await expect(
      prepareSync(queue, { tenantId: 'abc', trigger: 'cli', requestedBy: 'op', kinds: ['nonsense'] }),
    ).rejects.toThrow(ValidationError);
    expect(await jobCounts(queue)).toMatchObject({ waiting: 0, delayed: 0 });
  });

  it('gives twenty enqueues during a run exactly one follow-up run', async () => {
    const { db, queue, runs, redisConfig } = fx;
    const tenantId = await addTenant(db);
    const first = await enqueueRecorded(
      { queue: queue, stores: { runs }, settings: fastSettings },
      {
        request: { tenantId, trigger: 'schedule', requestedBy: 'scheduler' },
        hierarchy: 'provider.customer',
      },
    );
    expect(first.outcome).toBe('created');
    expect((await runs.get(first.runId!))?.status).toBe('queued');
    // Before any worker runs, a second request joins the waiting job.
    const joined = await enqueueUnrecorded(queue, { tenantId, trigger: 'api', requestedBy: 'x' }, fastQueue);
    // It made no job: the job that does the work is the first's; its own id was drawn all the same.
    expect(joined).toEqual({ jobId: first.jobId, outcome: 'joined-waiting', runId: expect.any(String) });
    expect(joined.runId).not.toBe(first.jobId);
    expect(first.jobId).toBe(first.runId);

    worker = await startTestWorker({
      redis: redisConfig,
      db,
      processor: testProcessor(db, { pages: 6, pageSize: 5, delayMs: 150, version: 'v1' }),
      settings: fastWorker,
      queueSettings: fastQueue,
      deleteThresholds: sweepFreely,
      logger: quietLogger,
    });
    await eventually(async () => (await runs.get(first.runId!))?.status === 'running');

    const outcomes = [];
    for (let i = 0; i < 20; i++) {
      outcomes.push(
        await enqueueRecorded(
          { queue: queue, stores: { runs }, settings: fastSettings },
          { request: { tenantId, trigger: 'operator', requestedBy: `op${i}` }, hierarchy: '' },
        ),
      );
    }
    expect(new Set(outcomes.map((o) => o.outcome))).toEqual(new Set(['follow-up']));
    expect(outcomes.every((o) => o.jobId === first.jobId && o.runId !== undefined)).toBe(true);

    const progress: unknown[] = [];
    const end = await waitForRun(queue, first.jobId, {
      tenantId,
      followUp: true,
      pollMs: 50,
      timeoutMs: 20_000,
      onProgress: (p) => progress.push(p),
    });
    expect(end.state).toBe('completed');
    expect(end.jobId).not.toBe(first.jobId);
    expect(end.state === 'completed' && (end.result as { status: string }).status).toBe('succeeded');
    expect(progress.some((p) => (p as { kind?: string })?.kind === 'users')).toBe(true);

    // The follow-up is the latest request's own record; the nineteen it replaced end merged into it.
    expect(end.jobId).toBe(outcomes[19]!.runId);
    const all = await eventually(async () => {
      const list = await runs.list({ tenantId });
      return list.every((r) => r.status !== 'queued') && list;
    });
    expect(all.filter((r) => r.status === 'succeeded').map((r) => r.id)).toEqual([end.jobId, first.runId]);
    const followUp = all.find((r) => r.id === end.jobId)!;
    expect(followUp.requestedBy).toBe('op19');
    expect(followUp.trigger).toBe('operator');
    const merged = all.filter((r) => r.status === 'merged');
    expect(merged.map((r) => r.id).sort()).toEqual(
      outcomes
        .slice(0, 19)
        .map((o) => o.runId)
        .sort(),
    );
    expect(new Set(merged.map((r) => r.mergedInto))).toEqual(new Set([followUp.id]));
    expect(await jobCounts(queue)).toMatchObject({
      completed: 2,
      waiting: 0,
      delayed: 0,
      active: 0,
      failed: 0,
    });
    expect(first.runId).toBe(all.find((r) => r.jobId === first.jobId)!.id);
    await worker.close(1000);
    worker = undefined;
  });

  it('reports the outcome of a job that ends between two of its reads (completed and failed)', async () => {
    // Every read of the job or its state answers late, so a job that finishes while the waiter looks
    // at it is seen in two states: the waiter must still return the outcome, never a null one.
    const lag = 700;
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const { db, queue, runs, redisConfig } = fx;
    const slowQueue = createSyncQueue(redisConfig);
    const getJob = slowQueue.getJob.bind(slowQueue);
    const getJobState = slowQueue.getJobState.bind(slowQueue);
    slowQueue.getJob = async (id: string) => {
      const job = (await getJob(id)) as Job<SyncJobData> | undefined;
      await sleep(lag);
      if (job) {
        const getState = job.getState.bind(job);
        job.getState = async () => {
          const state = await getState();
          await sleep(lag);
          return state;
        };
      }
      return job;
    };
    slowQueue.getJobState = async (id: string) => {
      const state = await getJobState(id);
      await sleep(lag);
      return state;
    };
    const okTenant = await addTenant(db);
    const badTenant = await addTenant(db, 'provider.other');
    const racer = await startTestWorker({
      redis: redisConfig,
      db,
      processor: async (ctx) => {
        if (ctx.tenant.id === badTenant) {
          throw new SyncError('AUTHENTICATION', 'the client secret is wrong', { retryable: false });
        }
        return testProcessor(db, { pages: 1, pageSize: 3, delayMs: 50, version: 'race' })(ctx);
      },
      settings: fastWorker,
      queueSettings: fastQueue,
      deleteThresholds: sweepFreely,
      logger: quietLogger,
    });
    try {
      const ok = await enqueueRecorded(
        { queue: queue, stores: { runs }, settings: fastSettings },
        { request: { tenantId: okTenant, trigger: 'cli', requestedBy: 'op' }, hierarchy: '' },
      );
      const okEnd = await waitForRun(slowQueue, ok.jobId, { pollMs: 20, timeoutMs: 20_000 });
      expect(okEnd.state).toBe('completed');
      expect(okEnd.state === 'completed' && (okEnd.result as { runId: string }).runId).toBe(ok.runId);

      const bad = await enqueueRecorded(
        { queue: queue, stores: { runs }, settings: fastSettings },
        { request: { tenantId: badTenant, trigger: 'cli', requestedBy: 'op' }, hierarchy: '' },
      );
      const badEnd = await waitForRun(slowQueue, bad.jobId, { pollMs: 20, timeoutMs: 20_000 });
      expect(badEnd.state).toBe('failed');
      expect(badEnd.state === 'failed' && badEnd.reason).toMatch(
        /AUTHENTICATION: the client secret is wrong/,
      );
    } finally {
      await racer.close(1000);
      await slowQueue.close();
    }
  });
});
