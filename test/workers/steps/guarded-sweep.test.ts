/**
 * The guarded sweep of one completed kind (workers/steps/guarded-sweep.ts), against the real store:
 * a sweep within the tenant's delete threshold deletes what the run did not see; a mass delete is held
 * for approval with what an operator needs (counts, threshold and its origin, a sample, the full id
 * list), nothing of the kind deleted; the decision is recorded before anything is deleted or held; a
 * run that lost its lease records no held sweep.
 */
import { runStores } from '../../support/run-stores.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectId } from 'mongodb';
import type { Stores, WriteFence } from '../../../connectors/mongo/index.js';
import type { DeleteProtectionSettings } from '../../../domain/delete-protection.js';
import { guardedSweep } from '../../../workers/steps/guarded-sweep.js';
import { TestClock } from '../../support/clock.js';
import { testMongo, type TestMongo } from '../../support/services.js';

const LEASE_TTL_MS = 60_000;
const users = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => ({
    id: `u${String(from + i).padStart(3, '0')}`,
    displayName: `User ${from + i}`,
  }));

describe('the guarded sweep', () => {
  let mongo: TestMongo;
  let stores: Stores;
  const clock = new TestClock();

  beforeAll(async () => {
    mongo = await testMongo('guarded_sweep');
    stores = await runStores(mongo.db, { clock });
  });
  afterAll(async () => {
    await mongo.close();
  });

  /** A tenant with `stored` users from an earlier run, and a new run holding the tenant's lease. */
  async function tenantWith(stored: number, hierarchy = 'provider.customer') {
    const tenant = { id: new ObjectId().toHexString(), hierarchy };
    const first = await stores.leases.acquire(tenant.id, 'worker/first', LEASE_TTL_MS);
    const seed = stores.objects.writer(
      'users',
      tenant,
      'first-run',
      stores.leases.fence(first!, LEASE_TTL_MS),
    );
    await seed.write(users(1, stored));
    await stores.leases.release(first!);
    const lease = await stores.leases.acquire(tenant.id, 'worker/second', LEASE_TTL_MS);
    if (!lease) throw new Error('no lease for the run under test');
    const runId = new ObjectId().toHexString();
    const fence = stores.leases.fence(lease, LEASE_TTL_MS);
    return { tenant, runId, fence, lease, writer: stores.objects.writer('users', tenant, runId, fence) };
  }

  /** The sweep with these thresholds, counting how often they were read. */
  function sweep(
    run: Awaited<ReturnType<typeof tenantWith>>,
    thresholds: DeleteProtectionSettings = {},
    fence: WriteFence = run.fence,
  ) {
    const read = { times: 0 };
    const outcome = guardedSweep({
      kind: 'users',
      tenant: run.tenant,
      runId: run.runId,
      fence,
      writer: run.writer,
      records: stores.sweepRecords,
      settings: async () => {
        read.times++;
        return thresholds;
      },
    });
    return { outcome, read };
  }

  const storedIds = async (tenantId: string) =>
    (await stores.objects.collection('users').find({ tenantId }).sort({ externalId: 1 }).toArray()).map(
      (d) => d.externalId,
    );

  it('with nothing unseen deletes nothing, without reading the thresholds, and records the decision', async () => {
    const run = await tenantWith(5);
    await run.writer.write(users(1, 5));
    const { outcome, read } = sweep(run);
    expect(await outcome).toEqual({ deleted: 0 });
    expect(read.times).toBe(0);
    expect(await stores.sweepRecords.latest(run.tenant.id, 'users')).toMatchObject({
      runId: run.runId,
      token: run.fence.token,
      held: false,
    });
    expect(await storedIds(run.tenant.id)).toHaveLength(5);
  });

  it('within the threshold deletes what the run did not see, and only that', async () => {
    // The default: 10 objects or 5 %, whichever is larger. 8 of 20 unseen.
    const run = await tenantWith(20);
    await run.writer.write(users(1, 12));
    const { outcome } = sweep(run);
    expect(await outcome).toEqual({ deleted: 8 });
    expect(await storedIds(run.tenant.id)).toEqual(users(1, 12).map((u) => u.id));
    expect(await stores.sweepRecords.latest(run.tenant.id, 'users')).toMatchObject({
      runId: run.runId,
      held: false,
    });
    expect(await stores.sweepRecords.heldIds(run.runId, 'users')).toEqual([]);
  });

  it('holds a mass delete for approval: nothing deleted, the counts, threshold, sample and ids recorded', async () => {
    const run = await tenantWith(100);
    await run.writer.write(users(1, 50)); // half the tenant's users gone at once
    const { outcome } = sweep(run);
    const result = await outcome;
    expect('held' in result).toBe(true);
    if (!('held' in result)) return;
    const unseen = users(51, 100).map((u) => u.id);
    expect(result.held).toMatchObject({
      wouldDelete: 50,
      stored: 100,
      limit: 10,
      origin: 'default',
      fence: run.fence.token,
      ids: unseen,
    });
    expect(result.held.threshold).toMatch(/10 objects or 5 %/);
    expect(result.held.sample).toEqual(unseen.slice(0, 20));
    // Nothing of the kind deleted; the held ids kept for the approval; the decision marked held.
    expect(await storedIds(run.tenant.id)).toHaveLength(100);
    expect(await stores.sweepRecords.heldIds(run.runId, 'users')).toEqual(unseen);
    expect(await stores.sweepRecords.latest(run.tenant.id, 'users')).toMatchObject({
      runId: run.runId,
      held: true,
    });
  });

  it("deletes one more than the limit never, exactly the limit always (the tenant's own threshold)", async () => {
    const exact = await tenantWith(30);
    await exact.writer.write(users(1, 27));
    const thresholds = (tenantId: string): DeleteProtectionSettings => ({
      tenants: { [tenantId]: { graph: { count: 3 } } },
    });
    expect(await sweep(exact, thresholds(exact.tenant.id)).outcome).toEqual({ deleted: 3 });

    const over = await tenantWith(30);
    await over.writer.write(users(1, 26));
    const result = await sweep(over, thresholds(over.tenant.id)).outcome;
    expect(result).toMatchObject({ held: { wouldDelete: 4, limit: 3, origin: 'tenant' } });
    expect(await storedIds(over.tenant.id)).toHaveLength(30);
  });

  it('takes the most specific hierarchy place’s threshold, and says where it came from', async () => {
    const run = await tenantWith(40, 'provider.reseller.customer');
    await run.writer.write(users(1, 20));
    const thresholds: DeleteProtectionSettings = {
      global: { graph: { percent: 100 } },
      hierarchy: { provider: { graph: { percent: 100 } }, 'provider.reseller': { graph: { count: 1 } } },
    };
    const result = await sweep(run, thresholds).outcome;
    expect(result).toMatchObject({ held: { origin: 'hierarchy:provider.reseller', limit: 1 } });
    expect(await storedIds(run.tenant.id)).toHaveLength(40);
  });

  it('records no held sweep for a run that lost its lease', async () => {
    const run = await tenantWith(100);
    await run.writer.write(users(1, 50));
    // The run stalls past its lease; a newer run takes the tenant.
    clock.advance(LEASE_TTL_MS + 1);
    expect(await stores.leases.acquire(run.tenant.id, 'worker/newer', LEASE_TTL_MS)).not.toBeNull();
    await expect(sweep(run).outcome).rejects.toMatchObject({ code: 'LEASE_LOST' });
    expect(await stores.sweepRecords.heldIds(run.runId, 'users')).toEqual([]);
    expect((await stores.sweepRecords.latest(run.tenant.id, 'users'))?.runId).not.toBe(run.runId);
    expect(await storedIds(run.tenant.id)).toHaveLength(100);
  });
});
