/**
 * The run reaper alone (workers/run-reaper.ts), against the real store and a real BullMQ queue: each
 * open record it ends says truthfully what became of it, and each record some job or run may still
 * end is left alone. Time is a clock the test moves: a request's grace time and a lease's lapse come
 * when the test says, never after a sleep. Every pass is for the test's own tenant.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UnrecoverableError, type Job, type Queue, type Worker } from 'bullmq';
import { LeaseStore } from '../../connectors/mongo/leases.js';
import type { SyncRunStore } from '../../connectors/mongo/sync-runs.js';
import { addSyncJob, markEnqueued, newRunId, type SyncJobData } from '../../queues/sync-queue.js';
import { RunReaper } from '../../workers/run-reaper.js';
import { TestClock } from '../support/clock.js';
import { handWorker, queueFixture, type QueueFixture } from '../queues/support/queue-fixture.js';
import { addTenant, fastQueue, quietLogger } from './support/harness.js';

const GRACE_MS = 10_000;
const LEASE_TTL_MS = 5_000;
const WORKER_ID = 'dead-worker';

describe('the run reaper', () => {
  let fixture: QueueFixture;
  let queue: Queue<SyncJobData, unknown, string>;
  let runs: SyncRunStore;
  let leases: LeaseStore;
  let reaper: RunReaper;
  /** A BullMQ worker without a processor: the test moves its jobs to active and to failed by hand. */
  let hands: Worker<SyncJobData, unknown, string>;
  const clock = new TestClock();

  beforeAll(async () => {
    fixture = await queueFixture('run_reaper');
    ({ queue, runs } = fixture);
    leases = new LeaseStore(fixture.db, { clock, clockSkewMs: 0 });
    await runs.ensureIndexes();
    await leases.ensureIndexes();
    reaper = new RunReaper({ runs, leases, queue, enqueueGraceMs: GRACE_MS, logger: quietLogger, clock });
    hands = handWorker(fixture.redisConfig);
  });
  afterEach(async () => {
    await queue.obliterate({ force: true });
  });
  afterAll(async () => {
    await hands.close();
    await fixture.close();
  });

  /** A request's record as its producer writes it before the add (the add not made yet). */
  async function queuedRecord(tenantId: string, mode?: 'delta') {
    const id = newRunId();
    await runs.recordQueued({
      id,
      tenantId,
      hierarchy: 'provider.customer',
      trigger: 'api',
      requestedBy: 'op',
      jobId: id,
      ...(mode ? { mode } : {}),
    });
    return id;
  }

  /** A request recorded and added, as operations/request-sync.ts does it. */
  async function request(tenantId: string, mode?: 'delta') {
    const runId = await queuedRecord(tenantId, mode);
    const data: SyncJobData & { runId: string } = {
      tenantId,
      trigger: 'api',
      requestedBy: 'op',
      runId,
      ...(mode ? { mode } : {}),
    };
    const result = await addSyncJob(queue, data, fastQueue);
    if (result.outcome !== 'joined-waiting') await markEnqueued(queue, runId, result.outcome);
    return { runId, result };
  }

  /**
   * A run a worker started and then lost: no job active, its lease not renewed. With `claim`, the
   * worker claimed that request's record (its job is the request's).
   */
  async function runningRecord(tenantId: string, jobId = newRunId(), claim?: string) {
    const run = await runs.start({
      ...(claim ? { runId: claim } : {}),
      tenantId,
      hierarchy: 'provider.customer',
      trigger: 'api',
      requestedBy: 'op',
      jobId,
      attempt: 1,
      worker: WORKER_ID,
    });
    return run.id;
  }

  /**
   * The next job of the queue taken by the test's hands (active from now on). The hands fail a job for
   * good (UnrecoverableError): the queue's attempts would retry it otherwise.
   */
  async function takeJob(): Promise<{ job: Job<SyncJobData, unknown, string>; token: string }> {
    const token = newRunId();
    const job = await hands.getNextJob(token, { block: false });
    if (!job) throw new Error('no job to take');
    return { job, token };
  }

  const recordOf = async (runId: string) => {
    const run = await runs.get(runId);
    if (!run) throw new Error(`no record ${runId}`);
    return run;
  };

  describe('a running record', () => {
    it('whose job is gone and whose lease lapsed ends failed WORKER_LOST, once', async () => {
      const tenantId = await addTenant(fixture.db);
      const jobId = newRunId();
      const runId = await runningRecord(tenantId, jobId);
      expect(await leases.acquire(tenantId, `${WORKER_ID}/${jobId}`, LEASE_TTL_MS)).not.toBeNull();

      // Its lease is live: its worker may only be slow.
      expect(await reaper.reap({ tenantId })).toEqual({ merged: 0, failed: 0 });
      expect((await recordOf(runId)).status).toBe('running');

      clock.advance(LEASE_TTL_MS + 1);
      expect(await reaper.reap({ tenantId })).toEqual({ merged: 0, failed: 1 });
      const record = await recordOf(runId);
      expect(record).toMatchObject({ status: 'failed', error: { code: 'WORKER_LOST' } });
      expect(record.error?.message).toMatch(/lease lapsed/);
      expect(record.endedAt).toBeInstanceOf(Date);

      // A second pass (another worker's, say) finds nothing open.
      expect(await reaper.reap({ tenantId })).toEqual({ merged: 0, failed: 0 });
    });

    it('whose tenant lease another run holds ends failed: only its own lease keeps it', async () => {
      const tenantId = await addTenant(fixture.db);
      const runId = await runningRecord(tenantId);
      expect(await leases.acquire(tenantId, 'other-worker/other-job', LEASE_TTL_MS)).not.toBeNull();
      expect(await reaper.reap({ tenantId })).toEqual({ merged: 0, failed: 1 });
      expect(await recordOf(runId)).toMatchObject({ status: 'failed', error: { code: 'WORKER_LOST' } });
    });

    it('whose job is active is left alone, even with its lease lapsed', async () => {
      const tenantId = await addTenant(fixture.db);
      const { runId } = await request(tenantId);
      const { job } = await takeJob();
      expect(job.id).toBe(runId);
      await runningRecord(tenantId, runId, runId);
      expect(await reaper.reap({ tenantId })).toEqual({ merged: 0, failed: 0 });
      expect((await recordOf(runId)).status).toBe('running');
    });

    it("whose job BullMQ failed as stalled too often ends WORKER_LOST with BullMQ's reason", async () => {
      const tenantId = await addTenant(fixture.db);
      const { runId } = await request(tenantId);
      const { job, token } = await takeJob();
      await runningRecord(tenantId, runId, runId);
      await job.moveToFailed(new UnrecoverableError('job stalled more than allowable limit'), token, false);
      expect(await queue.getJobState(runId)).toBe('failed');

      expect(await reaper.reap({ tenantId })).toEqual({ merged: 0, failed: 1 });
      const record = await recordOf(runId);
      expect(record).toMatchObject({ status: 'failed', error: { code: 'WORKER_LOST' } });
      expect(record.error?.message).toMatch(/stopped too many times.*stalled more than allowable limit/s);
    });
  });

  describe('a queued record', () => {
    it('younger than the grace time and not marked added is left alone; past it, with no job, JOB_LOST', async () => {
      const tenantId = await addTenant(fixture.db);
      const runId = await queuedRecord(tenantId);
      expect(await reaper.reap({ tenantId })).toEqual({ merged: 0, failed: 0 });
      expect((await recordOf(runId)).status).toBe('queued');

      clock.advance(GRACE_MS + 1);
      expect(await reaper.reap({ tenantId })).toEqual({ merged: 0, failed: 1 });
      const record = await recordOf(runId);
      expect(record).toMatchObject({ status: 'failed', error: { code: 'JOB_LOST' } });
      expect(record.endedAt).toBeInstanceOf(Date);
    });

    it('whose add is marked done is judged at once: its job lost → JOB_LOST', async () => {
      const tenantId = await addTenant(fixture.db);
      const { runId } = await request(tenantId);
      // Redis lost the job (or someone removed it); the add's mark stays.
      await queue.remove(runId);
      expect(await reaper.reap({ tenantId })).toEqual({ merged: 0, failed: 1 });
      expect(await recordOf(runId)).toMatchObject({ status: 'failed', error: { code: 'JOB_LOST' } });
    });

    it('whose job is waiting is left alone, past the grace time too', async () => {
      const tenantId = await addTenant(fixture.db);
      const { runId, result } = await request(tenantId);
      expect(result.outcome).toBe('created');
      clock.advance(GRACE_MS + 1);
      expect(await reaper.reap({ tenantId })).toEqual({ merged: 0, failed: 0 });
      expect((await recordOf(runId)).status).toBe('queued');
    });

    it("whose job failed before any run started ends failed with the job's reason as its error", async () => {
      const tenantId = await addTenant(fixture.db);
      const { runId } = await request(tenantId);
      const { job, token } = await takeJob();
      await job.moveToFailed(
        new UnrecoverableError('TENANT_NOT_FOUND: the tenant was deleted'),
        token,
        false,
      );
      expect(await reaper.reap({ tenantId })).toEqual({ merged: 0, failed: 1 });
      expect(await recordOf(runId)).toMatchObject({
        status: 'failed',
        error: { code: 'TENANT_NOT_FOUND', message: 'the tenant was deleted' },
      });
    });

    it('replaced by a later request kept as the follow-up is merged into it', async () => {
      const tenantId = await addTenant(fixture.db);
      await request(tenantId);
      await takeJob(); // the tenant's job runs
      const first = await request(tenantId);
      expect(first.result.outcome).toBe('follow-up');
      const second = await request(tenantId);
      expect(second.result.outcome).toBe('follow-up');

      expect(await reaper.reap({ tenantId })).toEqual({ merged: 1, failed: 0 });
      expect(await recordOf(first.runId)).toMatchObject({ status: 'merged', mergedInto: second.runId });
      // The kept follow-up itself is left for its run.
      expect((await recordOf(second.runId)).status).toBe('queued');
    });

    it('whose job is gone but a run of the tenant started after it is merged into that run', async () => {
      const tenantId = await addTenant(fixture.db);
      const { runId } = await request(tenantId);
      await queue.remove(runId);
      const laterRun = await runningRecord(tenantId);
      // The later run is alive (its job is unknown, but its lease is held): only the request is ended.
      const laterJob = (await recordOf(laterRun)).jobId;
      expect(await leases.acquire(tenantId, `${WORKER_ID}/${laterJob}`, LEASE_TTL_MS)).not.toBeNull();

      expect(await reaper.reap({ tenantId })).toEqual({ merged: 1, failed: 0 });
      expect(await recordOf(runId)).toMatchObject({ status: 'merged', mergedInto: laterRun });
      expect((await recordOf(laterRun)).status).toBe('running');
    });

    it("of a full pull is not merged into a later delta run (it does not do a full pull's work)", async () => {
      const tenantId = await addTenant(fixture.db);
      const full = await request(tenantId);
      await queue.remove(full.runId);
      const delta = await runs.start({
        tenantId,
        hierarchy: 'provider.customer',
        trigger: 'schedule',
        requestedBy: 'scheduler',
        jobId: newRunId(),
        attempt: 1,
        worker: WORKER_ID,
        mode: 'delta',
      });
      expect(await leases.acquire(tenantId, `${WORKER_ID}/${delta.jobId}`, LEASE_TTL_MS)).not.toBeNull();
      // A delta run does not do a full pull's work: the full pull's request was lost.
      expect(await reaper.reap({ tenantId })).toEqual({ merged: 0, failed: 1 });
      expect(await recordOf(full.runId)).toMatchObject({ status: 'failed', error: { code: 'JOB_LOST' } });
    });
  });

  it("passes over one tenant's records only when asked for one tenant", async () => {
    const tenantA = await addTenant(fixture.db);
    const tenantB = await addTenant(fixture.db);
    const a = await runningRecord(tenantA);
    const b = await runningRecord(tenantB);
    expect(await reaper.reap({ tenantId: tenantA })).toEqual({ merged: 0, failed: 1 });
    expect((await recordOf(a)).status).toBe('failed');
    expect((await recordOf(b)).status).toBe('running');
  });
});
