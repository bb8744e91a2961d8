/**
 * `tenant_run_summaries` against the MongoDB-wire server: a run's end writes its tenant's summary
 * (newest run, last success), a late end of an older run never overwrites a newer one, a failure keeps
 * the last success, the reaper's end is summarised too, and a tenant whose runs ended before summaries
 * were kept gets its summary backfilled from `sync_runs`.
 */
import { ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncRunStore } from '../../../connectors/mongo/sync-runs.js';
import { testMongo, type TestMongo } from '../../support/services.js';

let mongo: TestMongo;
let runs: SyncRunStore;

beforeAll(async () => {
  mongo = await testMongo('h-console-summaries');
  runs = new SyncRunStore(mongo.db);
});
afterAll(async () => mongo?.close());

async function queued(tenantId: string): Promise<string> {
  const id = new ObjectId().toHexString();
  await runs.recordQueued({
    id,
    tenantId,
    hierarchy: 'p.c',
    trigger: 'schedule',
    requestedBy: 'scheduler',
    jobId: id,
  });
  return id;
}

describe('tenant run summaries', () => {
  it('keep the newest ended run and the last success; an older run ending late changes nothing', async () => {
    const tenantId = new ObjectId().toHexString();
    const older = await queued(tenantId);
    const newer = await queued(tenantId);
    await runs.finish(newer, { status: 'succeeded', kinds: {} });
    const afterNewer = (await runs.summaries([tenantId])).get(tenantId)!;
    expect(afterNewer.lastRun).toMatchObject({ id: newer, status: 'succeeded', mode: 'full' });
    expect(afterNewer.lastSuccessAt).toBeInstanceOf(Date);

    await runs.finish(older, { status: 'failed', kinds: {}, error: { code: 'TRANSIENT', message: 'x' } });
    expect((await runs.summaries([tenantId])).get(tenantId)).toEqual(afterNewer);

    const failing = await queued(tenantId);
    await runs.finish(failing, {
      status: 'failed',
      kinds: {},
      error: { code: 'AUTHENTICATION', message: 'no' },
    });
    const afterFailure = (await runs.summaries([tenantId])).get(tenantId)!;
    expect(afterFailure.lastRun).toMatchObject({
      id: failing,
      status: 'failed',
      errorCode: 'AUTHENTICATION',
    });
    expect(afterFailure.lastSuccessAt).toEqual(afterNewer.lastSuccessAt);
  });

  it('summarise a run the reaper ends', async () => {
    const tenantId = new ObjectId().toHexString();
    const id = await queued(tenantId);
    await runs.collection.updateOne({ _id: new ObjectId(id) }, { $set: { status: 'running' } });
    expect(await runs.endRunning(id, { code: 'WORKER_LOST', message: 'gone' })).toBe(true);
    expect((await runs.summaries([tenantId])).get(tenantId)?.lastRun).toMatchObject({
      id,
      status: 'failed',
      errorCode: 'WORKER_LOST',
    });
  });

  it('are backfilled for a tenant whose runs ended before summaries were kept', async () => {
    const tenantId = new ObjectId().toHexString();
    const success = await queued(tenantId);
    const failure = await queued(tenantId);
    await runs.finish(success, { status: 'succeeded', kinds: {} });
    await runs.finish(failure, { status: 'partial', kinds: {} });
    await mongo.db.collection('tenant_run_summaries').deleteOne({ _id: tenantId } as never);
    expect((await runs.summaries([tenantId])).has(tenantId)).toBe(false);
    const backfilled = await runs.backfillSummary(tenantId);
    expect(backfilled?.lastRun).toMatchObject({ id: failure, status: 'partial' });
    expect(backfilled?.lastSuccessAt).toEqual((await runs.get(success))!.endedAt);
    expect(await runs.backfillSummary(new ObjectId().toHexString())).toBeUndefined();
  });
});
