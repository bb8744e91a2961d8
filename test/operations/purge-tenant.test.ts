/**
 * Purging a tenant (operations/purge-tenant.ts) against the real store: under the tenant's lease, its
 * imported objects of every kind (or of the kinds asked) are deleted, and with them what a later run
 * would otherwise trust (the kinds' sweep decisions and held lists, change-feed baselines, delta
 * states), so the next sync of a purged kind starts as a first pull. Recorded as a `purge` run with the
 * deleted counts. Refused while a sync holds the tenant, and for a bad actor name.
 */
import { runStores } from '../support/run-stores.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectId } from 'mongodb';
import type { Stores } from '../../connectors/mongo/index.js';
import { purgeTenant } from '../../operations/index.js';
import { testMongo, type TestMongo } from '../support/services.js';

const LEASE_TTL_MS = 60_000;
const objectsOf = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i + 1}`, displayName: `${prefix} ${i + 1}` }));

describe('purging a tenant', () => {
  let mongo: TestMongo;
  let stores: Stores;

  beforeAll(async () => {
    mongo = await testMongo('op_purge');
    stores = await runStores(mongo.db);
  });
  afterAll(async () => {
    await mongo.close();
  });

  /**
   * A tenant after a first pull of users (3) and groups (2), recorded in the change feed (so each kind
   * has its baseline) and swept (so each has its sweep decision), with a delta state per kind.
   */
  async function syncedTenant() {
    const tenant = { id: new ObjectId().toHexString(), hierarchy: 'provider.customer' };
    const lease = await stores.leases.acquire(tenant.id, 'worker/job', LEASE_TTL_MS);
    const fence = stores.leases.fence(lease!, LEASE_TTL_MS);
    const changes = stores.changes.recorder(tenant.id, 'first-run', fence);
    for (const [kind, objects] of [
      ['users', objectsOf('u', 3)],
      ['groups', objectsOf('g', 2)],
    ] as const) {
      const writer = stores.objects.writer(kind, tenant, 'first-run', fence, changes);
      await writer.write(objects);
      await stores.sweepRecords.mark(tenant.id, kind, {
        token: fence.token,
        runId: 'first-run',
        held: false,
      });
      await writer.sweep();
      await writer.completed();
      await stores.deltaStates.collection.insertOne({
        _id: `${tenant.id}:${kind}`,
        tenantId: tenant.id,
      } as never);
    }
    await stores.leases.release(lease!);
    return tenant;
  }

  const needsBaseline = (tenantId: string, kind: string) =>
    stores.changes
      .recorder(tenantId, 'probe', { tenantId, token: 0, assertCurrent: async () => ({ maxTimeMS: 1000 }) })
      .needsBaseline(kind);

  it("deletes every kind's objects and what a later run would trust, recorded as a purge run", async () => {
    const tenant = await syncedTenant();
    expect(await needsBaseline(tenant.id, 'users')).toBe(false);

    const run = await purgeTenant({ stores }, { tenant, requestedBy: 'alice' });
    expect(run).toMatchObject({
      tenantId: tenant.id,
      trigger: 'purge',
      requestedBy: 'alice',
      status: 'succeeded',
    });
    expect(run.kinds.users).toMatchObject({ status: 'succeeded', deleted: 3 });
    expect(run.kinds.groups).toMatchObject({ status: 'succeeded', deleted: 2 });
    expect(run.endedAt).toBeInstanceOf(Date);
    expect(await stores.objects.countStored('users', tenant.id)).toBe(0);
    expect(await stores.objects.countStored('groups', tenant.id)).toBe(0);
    expect(await stores.sweepRecords.latest(tenant.id, 'users')).toBeNull();
    expect(await needsBaseline(tenant.id, 'users')).toBe(true);
    expect(await needsBaseline(tenant.id, 'groups')).toBe(true);
    expect(await stores.deltaStates.collection.countDocuments({ tenantId: tenant.id })).toBe(0);
    expect(await stores.leases.holder(tenant.id)).toBeNull();
    expect((await stores.runs.get(run.id))?.status).toBe('succeeded');
  });

  it('purges only the kinds asked for, leaving the others as they were', async () => {
    const tenant = await syncedTenant();
    const run = await purgeTenant({ stores }, { tenant, kinds: ['groups'], requestedBy: 'alice' });
    expect(Object.keys(run.kinds)).toEqual(['groups']);
    expect(run.kindsRequested).toEqual(['groups']);
    expect(await stores.objects.countStored('groups', tenant.id)).toBe(0);
    expect(await stores.objects.countStored('users', tenant.id)).toBe(3);
    expect(await stores.sweepRecords.latest(tenant.id, 'users')).not.toBeNull();
    expect(await needsBaseline(tenant.id, 'users')).toBe(false);
    expect(await needsBaseline(tenant.id, 'groups')).toBe(true);
    expect(await stores.deltaStates.collection.countDocuments({ tenantId: tenant.id })).toBe(1);
  });

  it('refuses while a sync holds the tenant, and for a bad actor name, deleting nothing', async () => {
    const tenant = await syncedTenant();
    const sync = await stores.leases.acquire(tenant.id, 'worker/other', LEASE_TTL_MS);
    await expect(purgeTenant({ stores }, { tenant, requestedBy: 'alice' })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining(tenant.id),
    });
    await stores.leases.release(sync!);
    await expect(purgeTenant({ stores }, { tenant, requestedBy: 'two\nlines' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
    expect(await stores.objects.countStored('users', tenant.id)).toBe(3);
    expect(await stores.runs.list({ tenantId: tenant.id, limit: 5 })).toEqual([]);
  });

  it('refuses an unknown kind naming it, before it records a run or deletes anything', async () => {
    const tenant = await syncedTenant();
    await expect(
      purgeTenant({ stores }, { tenant, kinds: ['users', 'nonsense'], requestedBy: 'alice' }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('nonsense') });
    expect(await stores.runs.list({ tenantId: tenant.id, limit: 5 })).toEqual([]);
    expect(await stores.objects.countStored('users', tenant.id)).toBe(3);
    expect(await needsBaseline(tenant.id, 'users')).toBe(false);
    expect(await stores.leases.holder(tenant.id)).toBeNull();
  });
});
