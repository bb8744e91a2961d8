/**
 * Order and fairness of the sync queue (issue 22, item 4): a sync a person or a program requested
 * starts before the scheduled syncs still waiting, also when it joined a tenant's waiting scheduled
 * job; the schedule keeps its own first-come order; a tenant still never runs twice at once. Real
 * Redis, the real worker (workers/worker.ts) with the test processor, concurrency 1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  oldestWaitingSince,
  SYNC_PRIORITY,
  type EnqueueResult,
  type SyncJobData,
} from '../../queues/sync-queue.js';
import type { SyncWorker } from '../../workers/worker.js';
import { queueFixture, type QueueFixture } from './support/queue-fixture.js';
import { testProcessor } from '../workers/support/test-processor.js';
import {
  addTenant,
  eventually,
  fastQueue,
  fastSettings,
  fastWorker,
  logOf,
  quietLogger,
  runIntervals,
  startTestWorker,
  sweepFreely,
} from '../workers/support/harness.js';
import { enqueueRecorded } from '../../operations/index.js';

describe('the order of the sync queue', () => {
  let fx: QueueFixture;
  let worker: SyncWorker | undefined;
  beforeAll(async () => {
    fx = await queueFixture('syncorder');
  });
  afterAll(async () => {
    await worker?.close(1000);
    await fx.close();
  });

  it(
    'starts an operator sync before 50 waiting scheduled ones, and keeps the schedule in order',
    { timeout: 120_000 },
    async () => {
      const { db, queue, runs, redisConfig } = fx;
      const scheduled: { tenantId: string; result: EnqueueResult }[] = [];
      for (let i = 0; i < 50; i++) {
        const tenantId = await addTenant(db, `provider.night${i}`);
        const result = await enqueueRecorded(
          { queue: queue, stores: { runs }, settings: fastSettings },
          { request: { tenantId, trigger: 'schedule', requestedBy: 'scheduler' }, hierarchy: '' },
        );
        expect(result.outcome).toBe('created');
        scheduled.push({ tenantId, result });
      }
      // A tenant nothing waits for: a job of its own, in the requested band.
      const urgentTenant = await addTenant(db, 'provider.urgent');
      const operator = await enqueueRecorded(
        { queue: queue, stores: { runs }, settings: fastSettings },
        { request: { tenantId: urgentTenant, trigger: 'operator', requestedBy: 'alice' }, hierarchy: '' },
      );
      expect(operator.outcome).toBe('created');
      // A tenant whose scheduled sync waits (41st in line): the API request joins that job and raises it.
      const joinedTenant = scheduled[40]!;
      const api = await enqueueRecorded(
        { queue: queue, stores: { runs }, settings: fastSettings },
        {
          request: { tenantId: joinedTenant.tenantId, trigger: 'api', requestedBy: 'portal' },
          hierarchy: '',
        },
      );
      expect(api).toMatchObject({ outcome: 'joined-waiting', jobId: joinedTenant.result.jobId });
      expect(await queue.getCountsPerPriority([SYNC_PRIORITY.requested, SYNC_PRIORITY.schedule])).toEqual({
        [SYNC_PRIORITY.requested]: 2,
        [SYNC_PRIORITY.schedule]: 49,
      });

      worker = await startTestWorker({
        redis: redisConfig,
        db,
        processor: testProcessor(db, { pages: 1, pageSize: 2, delayMs: 0, version: 'order' }),
        settings: { ...fastWorker, concurrency: 1 },
        queueSettings: fastQueue,
        deleteThresholds: sweepFreely,
        logger: quietLogger,
      });
      // The two requested syncs, then the schedule from its start, in the order it was enqueued.
      const firstFive = await eventually(async () => {
        const starts = (await logOf(db)).filter((e) => e.event === 'start');
        return starts.length >= 5 && starts.slice(0, 5).map((e) => e.jobId);
      }, 60_000);
      await worker.close(5000);
      worker = undefined;
      expect(firstFive).toEqual([
        operator.jobId,
        joinedTenant.result.jobId,
        scheduled[0]!.result.jobId,
        scheduled[1]!.result.jobId,
        scheduled[2]!.result.jobId,
      ]);
      // One at a time: no run started before the previous one ended.
      const intervals = (await runIntervals(db)).sort((a, b) => a.start - b.start);
      for (let i = 1; i < intervals.length; i++) {
        expect(intervals[i]!.start).toBeGreaterThanOrEqual(intervals[i - 1]!.end);
      }
      expect((await runs.get(operator.runId!))?.status).toBe('succeeded');
      expect((await runs.get(api.runId!))?.status).toBe('merged');
      await queue.obliterate({ force: true });
    },
  );

  it('keeps a requested follow-up in the requested band, one run per tenant at a time', async () => {
    const { db, queue, runs, redisConfig } = fx;
    await db.collection('test_log').deleteMany({});
    const tenantId = await addTenant(db, 'provider.follow');
    // The other tenants exist before the run starts: while it runs, only the enqueues happen.
    const otherTenants = [];
    for (let i = 0; i < 3; i++) otherTenants.push(await addTenant(db, `provider.later${i}`));
    const first = await enqueueRecorded(
      { queue: queue, stores: { runs }, settings: fastSettings },
      { request: { tenantId, trigger: 'schedule', requestedBy: 'scheduler' }, hierarchy: '' },
    );
    worker = await startTestWorker({
      redis: redisConfig,
      db,
      // Four seconds a run: the four enqueues below happen while the first run still runs, however
      // busy the machine.
      processor: testProcessor(db, { pages: 4, pageSize: 2, delayMs: 1000, version: 'follow' }),
      settings: { ...fastWorker, concurrency: 1 },
      queueSettings: fastQueue,
      deleteThresholds: sweepFreely,
      logger: quietLogger,
    });
    await eventually(async () => (await runs.get(first.runId!))?.status === 'running');
    // Scheduled syncs of other tenants queue up behind the running one, then the follow-up request.
    const others = [];
    for (const other of otherTenants) {
      others.push(
        await enqueueRecorded(
          { queue: queue, stores: { runs }, settings: fastSettings },
          { request: { tenantId: other, trigger: 'schedule', requestedBy: 'scheduler' }, hierarchy: '' },
        ),
      );
    }
    const followUp = await enqueueRecorded(
      { queue: queue, stores: { runs }, settings: fastSettings },
      { request: { tenantId, trigger: 'operator', requestedBy: 'bob' }, hierarchy: '' },
    );
    expect(followUp.outcome).toBe('follow-up');
    // The tenant's nightly request arrives too: BullMQ keeps the last request as the follow-up, but
    // it keeps the operator's band (the operator's request is merged into it).
    const nightly = await enqueueRecorded(
      { queue: queue, stores: { runs }, settings: fastSettings },
      { request: { tenantId, trigger: 'schedule', requestedBy: 'scheduler' }, hierarchy: '' },
    );
    expect(nightly.outcome).toBe('follow-up');
    const order = await eventually(async () => {
      const starts = (await logOf(db)).filter((e) => e.event === 'start');
      return starts.length >= 3 && starts.slice(0, 3).map((e) => e.jobId);
    }, 30_000);
    await worker.close(5000);
    worker = undefined;
    // The follow-up jumps the scheduled syncs that waited: it is added, prioritized, when the run ends.
    expect(order).toEqual([first.jobId, nightly.runId, others[0]!.jobId]);
    const log = await logOf(db);
    const at = (jobId: string | undefined, event: 'start' | 'end') =>
      log.filter((e) => e.jobId === jobId && e.event === event).map((e) => e.at);
    expect(at(first.jobId, 'end')).toHaveLength(1);
    expect(at(nightly.runId, 'start')).toHaveLength(1);
    expect(at(nightly.runId, 'start')[0]).toBeGreaterThanOrEqual(at(first.jobId, 'end')[0]!);
    expect(at(followUp.runId, 'start')).toHaveLength(0);
    await queue.obliterate({ force: true });
  });

  it('ages the oldest waiting sync by every priority band, not by the first prioritized job', async () => {
    const { queue } = fx;
    const data = (tenantId: string, trigger: SyncJobData['trigger']): SyncJobData => ({
      tenantId,
      trigger,
      requestedBy: 'test',
    });
    const twoHoursAgo = Date.now() - 2 * 3600_000;
    await queue.add('full-pull', data('oldschedule', 'schedule'), {
      priority: SYNC_PRIORITY.schedule,
      timestamp: twoHoursAgo,
    });
    await queue.add('full-pull', data('newschedule', 'schedule'), { priority: SYNC_PRIORITY.schedule });
    await queue.add('full-pull', data('fresh', 'operator'), { priority: SYNC_PRIORITY.requested });
    expect(await oldestWaitingSince(queue)).toBe(twoHoursAgo);
    // And the requested band's head, when it is the older one.
    await queue.obliterate({ force: true });
    await queue.add('full-pull', data('oldop', 'operator'), {
      priority: SYNC_PRIORITY.requested,
      timestamp: twoHoursAgo,
    });
    await queue.add('full-pull', data('newschedule', 'schedule'), { priority: SYNC_PRIORITY.schedule });
    expect(await oldestWaitingSince(queue)).toBe(twoHoursAgo);
    await queue.obliterate({ force: true });
    expect(await oldestWaitingSince(queue)).toBeUndefined();
  });
});
