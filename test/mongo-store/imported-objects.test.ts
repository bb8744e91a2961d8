import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImportedObjects } from '../../connectors/mongo/imported-objects.js';
import { LeaseStore, type WriteFence } from '../../connectors/mongo/leases.js';
import { SyncError } from '../../domain/errors.js';
import { testMongo, type TestMongo } from '../support/services.js';

const tenant = { id: 'tenant-a', hierarchy: 'provider.reseller.a' };
const users = (ids: number[], name = 'User') =>
  ids.map((i) => ({ id: `u${i}`, displayName: `${name} ${i}`, '@odata.type': '#microsoft.graph.user' }));

describe('imported objects', () => {
  let mongo: TestMongo;
  let objects: ImportedObjects;
  let leases: LeaseStore;
  let fence: WriteFence;
  beforeAll(async () => {
    mongo = await testMongo('imported');
    objects = new ImportedObjects(mongo.db);
    await objects.ensureIndexes();
    leases = new LeaseStore(mongo.db, { clockSkewMs: 0 });
    fence = leases.fence((await leases.acquire(tenant.id, 'test', 60_000))!, 60_000);
  });
  afterAll(async () => {
    await mongo.close();
  });

  it('counts created, updated and unchanged, and sweeps what the run did not see', async () => {
    expect(await objects.upsertPage('users', tenant, 'run1', users([1, 2, 3, 4]), fence)).toEqual({
      created: 4,
      updated: 0,
      unchanged: 0,
    });
    expect(await objects.sweep('users', tenant.id, 'run1', fence)).toBe(0);

    // Run 2: u1 unchanged, u2 renamed, u3 and u4 gone, u5 new; a repeated object counts once.
    const page = [...users([1]), ...users([2], 'Renamed'), ...users([5]), ...users([5])];
    expect(await objects.upsertPage('users', tenant, 'run2', page, fence)).toEqual({
      created: 1,
      updated: 1,
      unchanged: 1,
    });
    expect(await objects.countUnseen('users', tenant.id, 'run2')).toBe(2);
    expect(await objects.sampleUnseen('users', tenant.id, 'run2')).toEqual(['u3', 'u4']);
    expect(await objects.sweep('users', tenant.id, 'run2', fence)).toBe(2);

    const stored = await objects
      .collection('users')
      .find({ tenantId: tenant.id })
      .sort({ externalId: 1 })
      .toArray();
    expect(stored.map((d) => [d.externalId, d.syncRunId, d.hierarchy])).toEqual([
      ['u1', 'run2', tenant.hierarchy],
      ['u2', 'run2', tenant.hierarchy],
      ['u5', 'run2', tenant.hierarchy],
    ]);
    // The unchanged object was not rewritten: its updatedAt is still run 1's.
    const u1 = stored[0]!;
    expect(u1.updatedAt.getTime()).toBe(u1.firstSeenAt.getTime());
    expect(stored[1]!.updatedAt.getTime()).toBeGreaterThan(stored[1]!.firstSeenAt.getTime() - 1);
    expect(stored[0]!.data['@odata%2Etype']).toBe('#microsoft.graph.user');
    const decoded = [];
    for await (const o of objects.objects('users', tenant.id)) decoded.push(o);
    expect(decoded).toEqual([...users([1]), ...users([2], 'Renamed'), ...users([5])]);
  });

  it("never touches another tenant's objects", async () => {
    const other = { id: 'tenant-b', hierarchy: 'b' };
    const otherFence = leases.fence((await leases.acquire(other.id, 'test', 60_000))!, 60_000);
    await objects.upsertPage('users', other, 'runB', users([1, 2]), otherFence);
    expect(await objects.sweep('users', tenant.id, 'run3', fence)).toBe(3);
    expect(await objects.collection('users').countDocuments({ tenantId: other.id })).toBe(2);
  });

  it('refuses an object without its id property', async () => {
    await expect(objects.upsertPage('licences', tenant, 'r', [{ id: 'not-a-skuId' }], fence)).rejects.toThrow(
      /no "skuId" property/,
    );
  });

  it('lets a run with an older token neither write nor sweep, even past the lease check', async () => {
    const t = { id: 'tenant-z', hierarchy: 'z' };
    const old = (await leases.acquire(t.id, 'old', 100))!;
    await new Promise((resolve) => setTimeout(resolve, 150));
    const newer = (await leases.acquire(t.id, 'new', 60_000))!;
    const newFence = leases.fence(newer, 60_000);
    await objects.upsertPage('users', t, 'newRun', users([1, 2]), newFence);

    // Through the lease check: refused before writing.
    const oldFence = leases.fence(old, 100);
    await expect(objects.upsertPage('users', t, 'oldRun', users([1, 9]), oldFence)).rejects.toThrow(
      SyncError,
    );
    // A fence that lies about being current (a check that raced a takeover): the per-document token
    // still keeps the newer run's documents from being overwritten or swept.
    const lying: WriteFence = {
      tenantId: t.id,
      token: old.token,
      assertCurrent: async () => ({ maxTimeMS: 5000 }),
    };
    const error = await objects.upsertPage('users', t, 'oldRun', users([1], 'Zombie'), lying).catch((e) => e);
    expect((error as SyncError).code).toBe('LEASE_LOST');
    expect(await objects.sweep('users', t.id, 'oldRun', lying)).toBe(0);
    const stored = await objects.collection('users').find({ tenantId: t.id }).toArray();
    expect(stored.map((d) => [d.externalId, d.syncRunId, d.data.displayName])).toEqual([
      ['u1', 'newRun', 'User 1'],
      ['u2', 'newRun', 'User 2'],
    ]);
  });
});
