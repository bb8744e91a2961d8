/**
 * `SyncRunStore.abandonStale` against the MongoDB-wire server: the job's runs left `running` by a dead
 * worker become failed (WORKER_LOST), another job's and another tenant's do not, and the count of the
 * job's started attempts (the queued and merged requests not counted) comes back with it, which
 * numbers the next attempt without a read of its own.
 */
import { ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncRunStore } from '../../../connectors/mongo/sync-runs.js';
import { testMongo, type TestMongo } from '../../support/services.js';

let mongo: TestMongo;
let runs: SyncRunStore;

beforeAll(async () => {
  mongo = await testMongo('h-sync-run-attempts');
  runs = new SyncRunStore(mongo.db);
});
afterAll(async () => mongo?.close());

const run = (tenantId: string, jobId: string, attempt: number) =>
  runs.start({
    tenantId,
    hierarchy: 'p.c',
    trigger: 'api',
    requestedBy: 'test',
    jobId,
    attempt,
    worker: 'w',
  });

/** A request of the job, queued by its producer. */
const request = (id: string, tenantId: string, jobId: string) =>
  runs.recordQueued({ id, tenantId, hierarchy: 'p.c', trigger: 'api', requestedBy: 't', jobId });

describe('abandoning stale attempts', () => {
  it("fails the job's runs left running and counts its started attempts, requests not counted", async () => {
    const tenantId = new ObjectId().toHexString();
    const jobId = new ObjectId().toHexString();
    await request(jobId, tenantId, jobId);
    const merged = new ObjectId().toHexString();
    await request(merged, tenantId, jobId);
    await runs.endQueued(merged, { status: 'merged', mergedInto: jobId });
    expect(await runs.abandonStale(jobId, tenantId)).toEqual({ abandoned: 0, attemptsStarted: 0 });

    const first = await run(tenantId, jobId, 1);
    const otherJob = await run(tenantId, new ObjectId().toHexString(), 1);
    const otherTenant = await run(new ObjectId().toHexString(), jobId, 1);
    expect(await runs.abandonStale(jobId, tenantId)).toEqual({ abandoned: 1, attemptsStarted: 2 });
    expect(await runs.get(first.id)).toMatchObject({ status: 'failed', error: { code: 'WORKER_LOST' } });
    expect((await runs.get(otherJob.id))?.status).toBe('running');
    expect((await runs.get(otherTenant.id))?.status).toBe('running');

    const second = await run(tenantId, jobId, 2);
    await runs.finish(second.id, { status: 'succeeded', kinds: {} });
    expect(await runs.abandonStale(jobId, tenantId)).toEqual({ abandoned: 0, attemptsStarted: 3 });
    expect((await runs.get(second.id))?.status).toBe('succeeded');
    expect((await runs.get(otherTenant.id))?.status).toBe('running');
  });
});
