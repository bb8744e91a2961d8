/**
 * Approving a held sweep (operations/approve-deletes.ts) against the real store: the runs whose sweep
 * delete protection held are made as a worker makes them (run context, kind run, guarded sweep). The
 * approval deletes what the held run recorded and is still unseen, under the tenant's lease; the kind
 * becomes succeeded with the approval (who, when, how many) and the run's status is worked out again;
 * a later run's decision narrows what is deleted; anything else is refused, deleting nothing.
 */
import { runStores } from '../support/run-stores.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectId } from 'mongodb';
import type { Stores } from '../../connectors/mongo/index.js';
import { runStatusOf } from '../../domain/sync-run.js';
import { approveDeletes } from '../../operations/index.js';
import { createRunContext } from '../../workers/run-context.js';
import { KindRun } from '../../workers/steps/kind-run.js';
import { testMongo, type TestMongo } from '../support/services.js';
import { quietLogger } from '../workers/support/harness.js';

const LEASE_TTL_MS = 60_000;
const users = (ids: number[]) => ids.map((i) => ({ id: `u${i}`, displayName: `User ${i}` }));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('approving held deletes', () => {
  let mongo: TestMongo;
  let stores: Stores;

  beforeAll(async () => {
    mongo = await testMongo('op_approve');
    // The default thresholds: 10 objects or 5 %.
    stores = await runStores(mongo.db);
  });
  afterAll(async () => {
    await mongo.close();
  });

  /** A whole run of `users` that delivered `ids`, as a worker runs it; its record as it ended. */
  async function runDelivering(tenantId: string, ids: number[]) {
    const tenant = { id: tenantId, hierarchy: 'provider.customer' };
    const lease = await stores.leases.acquire(tenantId, 'worker/job', LEASE_TTL_MS);
    if (!lease) throw new Error('no lease for the run');
    const run = await stores.runs.start({
      tenantId,
      hierarchy: tenant.hierarchy,
      trigger: 'api',
      requestedBy: 'op',
      jobId: new ObjectId().toHexString(),
      attempt: 1,
      worker: 'worker',
    });
    const ctx = createRunContext({
      runId: run.id,
      jobId: run.jobId,
      attempt: 1,
      tenant,
      signal: new AbortController().signal,
      fence: stores.leases.fence(lease, LEASE_TTL_MS),
      cancelled: () => undefined,
      stores,
      progress: async () => {},
      logger: quietLogger,
    });
    const kind = new KindRun('users', ctx, () => {});
    await kind.write(users(ids));
    await kind.complete();
    const kinds = ctx.tally();
    const ended = await stores.runs.finish(run.id, { status: runStatusOf({ kinds }), kinds });
    await stores.leases.release(lease);
    return ended!;
  }

  const storedIds = async (tenantId: string) =>
    (await stores.objects.collection('users').find({ tenantId }).sort({ externalId: 1 }).toArray()).map(
      (d) => d.externalId,
    );

  /** A tenant with 100 users stored, and a run that saw only the first 50: its sweep held. */
  async function heldRun() {
    const tenantId = new ObjectId().toHexString();
    await runDelivering(tenantId, range(1, 100));
    const held = await runDelivering(tenantId, range(1, 50));
    expect(held.status).toBe('needs_review');
    expect(held.kinds.users?.held?.wouldDelete).toBe(50);
    return { tenantId, held };
  }

  it('deletes what the held sweep recorded, records who approved, and the run succeeds', async () => {
    const { tenantId, held } = await heldRun();
    const result = await approveDeletes({ stores }, { runId: held.id, approvedBy: 'alice' });
    expect(result.deleted).toEqual({ users: 50 });
    expect(await storedIds(tenantId)).toEqual(
      users(range(1, 50))
        .map((u) => u.id)
        .sort(),
    );
    expect(result.run.status).toBe('succeeded');
    const approved = result.run.kinds.users!;
    expect(approved).toMatchObject({
      status: 'succeeded',
      deleted: 50,
      held: { wouldDelete: 50, approval: { by: 'alice', deleted: 50 } },
    });
    expect(approved.error).toBeUndefined();
    expect((await stores.runs.get(held.id))?.kinds.users?.held?.approval?.by).toBe('alice');
    // The lease was the approval's only while it deleted.
    expect(await stores.leases.holder(tenantId)).toBeNull();
  });

  it('refuses a second approval, an unknown run and a run with nothing held, deleting nothing', async () => {
    const { tenantId, held } = await heldRun();
    await approveDeletes({ stores }, { runId: held.id, approvedBy: 'alice' });
    await expect(approveDeletes({ stores }, { runId: held.id, approvedBy: 'alice' })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    await expect(
      approveDeletes({ stores }, { runId: new ObjectId().toHexString(), approvedBy: 'alice' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const clean = await runDelivering(tenantId, range(1, 50));
    expect(clean.status).toBe('succeeded');
    await expect(approveDeletes({ stores }, { runId: clean.id, approvedBy: 'alice' })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    expect(await storedIds(tenantId)).toHaveLength(50);
  });

  it('refuses a bad actor name, and while a sync holds the tenant, deleting nothing', async () => {
    const { tenantId, held } = await heldRun();
    await expect(
      approveDeletes({ stores }, { runId: held.id, approvedBy: 'two\nlines' }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    const sync = await stores.leases.acquire(tenantId, 'worker/other', LEASE_TTL_MS);
    await expect(approveDeletes({ stores }, { runId: held.id, approvedBy: 'alice' })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    await stores.leases.release(sync!);
    expect(await storedIds(tenantId)).toHaveLength(100);
    expect((await stores.runs.get(held.id))?.status).toBe('needs_review');
  });

  it('after a later run held too, deletes only what both held; after a later run swept, nothing', async () => {
    const { tenantId, held } = await heldRun();
    // A later run saw u51..u60 again (they came back) and still misses u61..u100: held again.
    const later = await runDelivering(tenantId, range(1, 60));
    expect(later.status).toBe('needs_review');
    const result = await approveDeletes({ stores }, { runId: held.id, approvedBy: 'alice' });
    expect(result.deleted).toEqual({ users: 40 });
    expect(await storedIds(tenantId)).toEqual(
      users(range(1, 60))
        .map((u) => u.id)
        .sort(),
    );

    // Another tenant: a later run that swept decided for itself; the old approval deletes nothing.
    const other = await heldRun();
    await runDelivering(other.tenantId, range(1, 95)); // 5 unseen of 100: within the threshold, swept
    const none = await approveDeletes({ stores }, { runId: other.held.id, approvedBy: 'alice' });
    expect(none.deleted).toEqual({ users: 0 });
    expect(await storedIds(other.tenantId)).toHaveLength(95);
  });
});
