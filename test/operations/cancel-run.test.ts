/**
 * Cancelling a run (operations/cancel-run.ts) against the real store and queue: a request no worker
 * has taken leaves the queue (its waiting job removed, or the follow-up kept for an active job
 * dropped) and ends `cancelled`; a running run, or a request a worker is taking, gets the request on
 * its record for the lease keeper; an ended run is a CONFLICT, an unknown one NOT_FOUND.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Queue, Worker } from 'bullmq';
import type { SyncRunStore } from '../../connectors/mongo/sync-runs.js';
import { cancelRun, enqueueRecorded } from '../../operations/index.js';
import { dedupId, followUpKey, newRunId, type SyncJobData } from '../../queues/sync-queue.js';
import { handWorker, queueFixture, type QueueFixture } from '../queues/support/queue-fixture.js';
import { addTenant, fastSettings } from '../workers/support/harness.js';

describe('cancelling a run', () => {
  let fixture: QueueFixture;
  let queue: Queue<SyncJobData, unknown, string>;
  let runs: SyncRunStore;
  /** A worker without a processor: the test takes jobs by hand (they become active). */
  let worker: Worker<SyncJobData, unknown, string>;

  beforeAll(async () => {
    fixture = await queueFixture('op_cancel');
    ({ queue, runs } = fixture);
    await runs.ensureIndexes();
    worker = handWorker(fixture.redisConfig);
  });
  afterEach(async () => {
    await queue.obliterate({ force: true });
  });
  afterAll(async () => {
    await worker.close();
    await fixture.close();
  });

  const deps = () => ({ stores: { runs }, queue });
  const request = (tenantId: string) =>
    enqueueRecorded(
      { ...deps(), settings: fastSettings },
      { request: { tenantId, trigger: 'api', requestedBy: 'op' }, hierarchy: 'provider.customer' },
    );
  const take = async () => {
    const job = await worker.getNextJob(newRunId(), { block: false });
    if (!job) throw new Error('no job to take');
    return job;
  };

  it('a waiting request: its job leaves the queue and its record ends cancelled, saying by whom', async () => {
    const tenantId = await addTenant(fixture.db);
    const { runId, jobId } = await request(tenantId);
    const result = await cancelRun(deps(), { runId, by: 'alice' });
    expect(result.outcome).toBe('cancelled');
    expect(result.run).toMatchObject({
      id: runId,
      status: 'cancelled',
      error: { code: 'CANCELLED', message: 'Cancelled by alice before it started.' },
    });
    expect(await queue.getJob(jobId)).toBeUndefined();
    expect((await runs.get(runId))?.status).toBe('cancelled');
  });

  it('a follow-up kept for a running job: dropped, the running job left alone', async () => {
    const tenantId = await addTenant(fixture.db);
    const running = await request(tenantId);
    await take();
    const followUp = await request(tenantId);
    expect(followUp.outcome).toBe('follow-up');
    const kept = followUpKey(queue, dedupId(tenantId, undefined));
    const client = await queue.backend.client;
    expect(await client.hget(kept, 'jid')).toBe(followUp.runId);

    const result = await cancelRun(deps(), { runId: followUp.runId, by: 'alice' });
    expect(result).toMatchObject({ outcome: 'cancelled', run: { status: 'cancelled' } });
    expect(await client.hget(kept, 'jid')).toBeNull();
    expect(await queue.getJobState(running.jobId)).toBe('active');
    expect((await runs.get(running.runId))?.status).toBe('queued');
  });

  it('a request a worker is taking, and a running run: the cancel is asked on the record', async () => {
    const tenantId = await addTenant(fixture.db);
    const { runId } = await request(tenantId);
    await take(); // active, not yet claimed: the record is still queued
    const asked = await cancelRun(deps(), { runId, by: 'alice' });
    expect(asked.outcome).toBe('cancel-requested');
    expect(asked.run).toMatchObject({ status: 'queued', cancelRequested: { by: 'alice' } });

    // Claimed by its worker: running.
    const other = await addTenant(fixture.db);
    const second = await request(other);
    await take();
    await runs.start({
      runId: second.runId,
      tenantId: other,
      hierarchy: 'provider.customer',
      trigger: 'api',
      requestedBy: 'op',
      jobId: second.jobId,
      attempt: 1,
      worker: 'w',
    });
    const result = await cancelRun(deps(), { runId: second.runId, by: 'bob' });
    expect(result.outcome).toBe('cancel-requested');
    expect(result.run).toMatchObject({ status: 'running', cancelRequested: { by: 'bob' } });
    expect(await runs.cancelRequest(second.runId)).toMatchObject({ by: 'bob' });
  });

  it('an ended run is a CONFLICT naming its status; an unknown one NOT_FOUND', async () => {
    const tenantId = await addTenant(fixture.db);
    const { runId } = await request(tenantId);
    await cancelRun(deps(), { runId, by: 'alice' });
    await expect(cancelRun(deps(), { runId, by: 'alice' })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('(cancelled)'),
    });
    await expect(cancelRun(deps(), { runId: newRunId(), by: 'alice' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(cancelRun(deps(), { runId: 'not-a-run-id', by: 'alice' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });
});
