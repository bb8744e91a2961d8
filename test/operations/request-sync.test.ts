/**
 * Requesting syncs (operations/request-sync.ts) against the real store and queue: the kinds asked
 * are resolved (kind names, built-in and operators' lists) before anything is recorded; each request
 * gets its `queued` record under the id that is its job's; a request that joins a waiting job ends
 * `merged` into it; an add the queue refuses ends the record `failed`; `requestSyncOfAll` asks for
 * every tenant at a place and below it. (The records' races, the reaper's part and delta requests:
 * request-sync-records.test.ts, enqueue-claim-race.test.ts, delta-requests.test.ts.)
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Queue } from 'bullmq';
import { buildStores, type Stores } from '../../connectors/mongo/index.js';
import { requestSync, requestSyncOfAll, syncKinds, type SyncDeps } from '../../operations/index.js';
import { createSyncQueue, type SyncJobData } from '../../queues/sync-queue.js';
import { testMongo, testRedis, type TestMongo, type TestRedis } from '../support/services.js';
import { addTenant, fastSettings } from '../workers/support/harness.js';

describe('requesting syncs', () => {
  let redis: TestRedis;
  let mongo: TestMongo;
  let queue: Queue<SyncJobData, unknown, string>;
  let stores: Stores;
  let deps: SyncDeps;

  beforeAll(async () => {
    redis = await testRedis('op_request');
    mongo = await testMongo('op_request');
    queue = createSyncQueue({ url: redis.url, prefix: redis.prefix });
    stores = buildStores(mongo.db);
    await stores.runs.ensureIndexes();
    await stores.kindLists.set({ name: 'directory', kinds: ['users', 'groups'] }, 'op');
    deps = { stores, queue, settings: fastSettings };
  });
  afterEach(async () => {
    await queue.obliterate({ force: true });
  });
  afterAll(async () => {
    await queue.close();
    await redis.close();
    await mongo.close();
  });

  const tenantRef = async (hierarchy = 'provider.customer') => ({
    id: await addTenant(mongo.db, hierarchy),
    hierarchy,
  });

  it('records the request queued under its job id, then adds the job with what was asked', async () => {
    const tenant = await tenantRef();
    const result = await requestSync(deps, {
      tenant,
      trigger: 'api',
      requestedBy: 'alice',
      kinds: 'licensing',
    });
    expect(result).toMatchObject({ outcome: 'created', kinds: ['users', 'licences'] });
    expect(result.jobId).toBe(result.runId);
    expect(await stores.runs.get(result.runId)).toMatchObject({
      status: 'queued',
      tenantId: tenant.id,
      hierarchy: 'provider.customer',
      trigger: 'api',
      requestedBy: 'alice',
      jobId: result.jobId,
      kindsRequested: ['users', 'licences'],
    });
    const job = await queue.getJob(result.jobId);
    expect(job?.data).toEqual({
      tenantId: tenant.id,
      trigger: 'api',
      requestedBy: 'alice',
      kinds: ['users', 'licences'],
      runId: result.runId,
    });
  });

  it("resolves kind names and the operators' own lists; without kinds, the whole plan", async () => {
    expect(await syncKinds(deps, 'directory,mailboxes')).toEqual(['users', 'groups', 'mailboxes']);
    expect(await syncKinds(deps, ['Users'])).toEqual(['users']);
    expect(await syncKinds(deps, undefined)).toBeUndefined();
    const tenant = await tenantRef();
    const whole = await requestSync(deps, { tenant, trigger: 'cli', requestedBy: 'alice' });
    expect(whole.kinds).toBeUndefined();
    expect((await queue.getJob(whole.jobId))?.data.kinds).toBeUndefined();
  });

  it('refuses unknown kinds naming them, before recording or adding anything', async () => {
    const tenant = await tenantRef();
    await expect(
      requestSync(deps, { tenant, trigger: 'api', requestedBy: 'alice', kinds: 'users,people' }),
    ).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      problems: [expect.objectContaining({ field: 'kinds', message: expect.stringContaining('"people"') })],
    });
    expect(await stores.runs.list({ tenantId: tenant.id, limit: 5 })).toEqual([]);
    expect(await queue.getJobCounts('waiting', 'prioritized')).toEqual({ waiting: 0, prioritized: 0 });
  });

  it('refuses a bad request (actor name, trigger) before recording anything', async () => {
    const tenant = await tenantRef();
    await expect(
      requestSync(deps, { tenant, trigger: 'api', requestedBy: 'two\nlines' }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(
      requestSync(deps, { tenant, trigger: 'whenever' as never, requestedBy: 'alice' }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(await stores.runs.list({ tenantId: tenant.id, limit: 5 })).toEqual([]);
  });

  it('ends a request that joins the waiting job merged into it', async () => {
    const tenant = await tenantRef();
    const first = await requestSync(deps, { tenant, trigger: 'schedule', requestedBy: 'scheduler' });
    const second = await requestSync(deps, { tenant, trigger: 'api', requestedBy: 'alice' });
    expect(second).toMatchObject({ outcome: 'joined-waiting', jobId: first.jobId });
    expect(second.runId).not.toBe(first.runId);
    expect(await stores.runs.get(second.runId)).toMatchObject({
      status: 'merged',
      mergedInto: first.jobId,
      enqueueOutcome: 'joined-waiting',
    });
    expect((await stores.runs.get(first.runId))?.status).toBe('queued');
  });

  it('ends the record failed when the queue refuses the add, and passes the error on', async () => {
    const tenant = await tenantRef();
    const closed = createSyncQueue({ url: redis.url, prefix: redis.prefix }, { oneShot: true });
    await closed.close();
    await expect(
      requestSync({ ...deps, queue: closed }, { tenant, trigger: 'api', requestedBy: 'alice' }),
    ).rejects.toThrow();
    const [record] = await stores.runs.list({ tenantId: tenant.id, limit: 5 });
    expect(record).toMatchObject({ status: 'failed', error: { code: 'QUEUE_UNAVAILABLE' } });
  });

  it('requests a sync of every tenant at a place and below it, and of no other', async () => {
    const under = [await tenantRef('acme.east'), await tenantRef('acme.west.shop')];
    const outside = await tenantRef('other.place');
    const results = await requestSyncOfAll(deps, {
      hierarchy: 'acme',
      trigger: 'cli',
      requestedBy: 'alice',
      kinds: 'users',
    });
    expect(results.map((r) => r.tenantId).sort()).toEqual(under.map((t) => t.id).sort());
    expect(results.every((r) => r.outcome === 'created')).toBe(true);
    for (const r of results)
      expect(await stores.runs.get(r.runId)).toMatchObject({ status: 'queued', kindsRequested: ['users'] });
    expect(await stores.runs.list({ tenantId: outside.id, limit: 5 })).toEqual([]);
  });
});
