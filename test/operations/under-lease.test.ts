/**
 * An operator action under the tenant's lease (operations/under-lease.ts), against the real lease
 * store: the action runs holding the lease and gives it back when done, failed or not; while a sync
 * holds the tenant it is refused and does not run; a sync that starts afterwards carries a greater
 * fence token than the action had.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectId } from 'mongodb';
import { LeaseStore, type Lease } from '../../connectors/mongo/leases.js';
import { ACTION_LEASE_TTL_MS, underLease } from '../../operations/under-lease.js';
import { testMongo, type TestMongo } from '../support/services.js';

describe('an action under the tenant lease', () => {
  let mongo: TestMongo;
  let leases: LeaseStore;

  beforeAll(async () => {
    mongo = await testMongo('under_lease');
    leases = new LeaseStore(mongo.db, { clockSkewMs: 0 });
    await leases.ensureIndexes();
  });
  afterAll(async () => {
    await mongo.close();
  });

  const newTenant = () => new ObjectId().toHexString();

  it('runs holding the lease, gives it back, and a later sync gets a greater token', async () => {
    const tenantId = newTenant();
    let held: Lease | null = null;
    let owner: Lease | null = null;
    const result = await underLease(leases, tenantId, 'purge', async (lease) => {
      held = lease;
      owner = await leases.holder(tenantId);
      return 'done';
    });
    expect(result).toBe('done');
    expect(owner).toMatchObject({ tenantId, token: held!.token, owner: expect.stringMatching(/^purge:/) });
    expect(held!.expiresAt.getTime()).toBeGreaterThan(Date.now() + ACTION_LEASE_TTL_MS / 2);
    expect(await leases.holder(tenantId)).toBeNull();
    const sync = await leases.acquire(tenantId, 'worker/job', 60_000);
    expect(sync?.token).toBeGreaterThan(held!.token);
  });

  it('gives the lease back when the action fails, and passes its error on', async () => {
    const tenantId = newTenant();
    await expect(
      underLease(leases, tenantId, 'approve-deletes', async () => {
        throw new Error('the store went away');
      }),
    ).rejects.toThrow('the store went away');
    expect(await leases.holder(tenantId)).toBeNull();
  });

  it('is refused while a sync holds the tenant, without running, naming the action', async () => {
    const tenantId = newTenant();
    const sync = await leases.acquire(tenantId, 'worker/job', 60_000);
    let ran = false;
    await expect(
      underLease(leases, tenantId, 'purge', async () => {
        ran = true;
      }),
    ).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringMatching(/sync of tenant .* is running; purge changes its data/),
    });
    expect(ran).toBe(false);
    expect((await leases.holder(tenantId))?.token).toBe(sync!.token);
  });
});
