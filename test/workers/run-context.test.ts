/**
 * A run's context (workers/run-context.ts) against the real store: every write goes through one
 * writer per kind behind the run's fence, the fence refuses every write and sweep once the run is
 * cancelled, the thresholds are read once per run, and the tally lists what the run wrote with the
 * results it recorded.
 */
import { runStores } from '../support/run-stores.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ObjectId } from 'mongodb';
import type { Stores } from '../../connectors/mongo/index.js';
import type { SyncProgress } from '../../queues/sync-queue.js';
import { createRunContext } from '../../workers/run-context.js';
import { testMongo, type TestMongo } from '../support/services.js';
import { quietLogger } from './support/harness.js';
import { succeededKind } from './support/kind-results.js';

const LEASE_TTL_MS = 60_000;
const users = (from: number, to: number, name = 'User') =>
  Array.from({ length: to - from + 1 }, (_, i) => ({
    id: `u${from + i}`,
    displayName: `${name} ${from + i}`,
  }));
const groups = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ id: `g${i + 1}`, displayName: `Group ${i + 1}` }));

describe('a run context', () => {
  let mongo: TestMongo;
  let stores: Stores;

  beforeAll(async () => {
    mongo = await testMongo('run_context');
    stores = await runStores(mongo.db, {
      deleteThresholds: { graph: { percent: 100 } },
    });
  });
  afterAll(async () => {
    await mongo.close();
  });

  /** A started run of a new tenant and its context; `cancel(reason)` cancels it as the keeper would. */
  async function contextOf(tenantId = new ObjectId().toHexString()) {
    const tenant = { id: tenantId, hierarchy: 'provider.customer' };
    const holder = await stores.leases.holder(tenant.id);
    if (holder) await stores.leases.release(holder);
    const lease = await stores.leases.acquire(tenant.id, 'worker/job', LEASE_TTL_MS);
    if (!lease) throw new Error('no lease for the run');
    const run = await stores.runs.start({
      tenantId: tenant.id,
      hierarchy: tenant.hierarchy,
      trigger: 'api',
      requestedBy: 'op',
      jobId: 'job',
      attempt: 1,
      worker: 'worker',
    });
    let cancelled: string | undefined;
    const controller = new AbortController();
    const progress: (SyncProgress & { runId: string })[] = [];
    const ctx = createRunContext({
      runId: run.id,
      jobId: 'job',
      attempt: 1,
      tenant,
      signal: controller.signal,
      fence: stores.leases.fence(lease, LEASE_TTL_MS),
      cancelled: () => cancelled,
      stores,
      progress: async (p) => void progress.push(p),
      logger: quietLogger,
    });
    const cancel = (reason: string) => {
      cancelled = reason;
      controller.abort(new Error(reason));
    };
    return { ctx, tenant, runId: run.id, cancel, progress };
  }

  const storedOf = async (kind: string, tenantId: string) =>
    (await stores.objects.collection(kind).find({ tenantId }).sort({ externalId: 1 }).toArray()).map((d) => [
      d.externalId,
      d.data.displayName,
      d.syncRunId,
    ]);

  it('writes each kind through one writer for the whole run, stamped with the run', async () => {
    const { ctx, tenant, runId } = await contextOf();
    expect(ctx.runId).toBe(runId);
    expect(await ctx.writePage('users', users(1, 2))).toEqual({ created: 2, updated: 0, unchanged: 0 });
    // The same writer saw the first page: delivered again, an object is not counted again.
    expect(await ctx.writePage('users', users(2, 3))).toEqual({ created: 1, updated: 0, unchanged: 0 });
    expect(await ctx.seen('users', 'u2')).toBe(true);
    expect(await ctx.seen('users', 'u9')).toBe(false);
    expect(await storedOf('users', tenant.id)).toEqual([
      ['u1', 'User 1', runId],
      ['u2', 'User 2', runId],
      ['u3', 'User 3', runId],
    ]);
  });

  it('refuses every write and sweep once the run is cancelled, whatever its processor still has in flight', async () => {
    const tenantId = new ObjectId().toHexString();
    const earlier = await contextOf(tenantId);
    await earlier.ctx.writePage('users', users(1, 4));
    await earlier.ctx.guardedSweep('users');

    const { ctx, cancel } = await contextOf(tenantId);
    await ctx.writePage('users', users(1, 2, 'Renamed'));
    cancel('cancelled by op');
    expect(ctx.signal.aborted).toBe(true);
    await expect(ctx.writePage('users', users(3, 3, 'Renamed'))).rejects.toMatchObject({
      code: 'CANCELLED',
      message: expect.stringContaining('cancelled by op'),
    });
    await expect(ctx.writePage('groups', groups(2))).rejects.toMatchObject({ code: 'CANCELLED' });
    // u3 and u4 unseen: the sweep would delete them, but is refused before any delete.
    await expect(ctx.guardedSweep('users')).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(await storedOf('users', tenantId)).toEqual([
      ['u1', 'Renamed 1', expect.any(String)],
      ['u2', 'Renamed 2', expect.any(String)],
      ['u3', 'User 3', earlier.runId],
      ['u4', 'User 4', earlier.runId],
    ]);
    expect(await storedOf('groups', tenantId)).toEqual([]);
  });

  it('reads the delete thresholds once per run, at its first sweep', async () => {
    const { ctx } = await contextOf();
    const read = vi.spyOn(stores.deleteProtection, 'settings');
    try {
      await ctx.writePage('users', users(1, 3));
      await ctx.writePage('groups', groups(3));
      expect(read).not.toHaveBeenCalled();
      // Nothing unseen in either kind: a sweep with nothing to delete needs no threshold.
      expect(await ctx.guardedSweep('users')).toEqual({ deleted: 0 });
      expect(read).not.toHaveBeenCalled();
    } finally {
      read.mockRestore();
    }

    const tenantId = ctx.tenant.id;
    const next = await contextOf(tenantId);
    const again = vi.spyOn(stores.deleteProtection, 'settings');
    try {
      await next.ctx.writePage('users', users(1, 1));
      await next.ctx.writePage('groups', groups(1));
      expect(await next.ctx.guardedSweep('users')).toEqual({ deleted: 2 });
      expect(await next.ctx.guardedSweep('groups')).toEqual({ deleted: 2 });
      expect(again).toHaveBeenCalledTimes(1);
    } finally {
      again.mockRestore();
    }
  });

  it('tallies what the run wrote as cancelled kinds, the kinds it recorded with their results', async () => {
    const { ctx, runId } = await contextOf();
    await ctx.writePage('users', users(1, 3));
    await ctx.writePage('users', users(3, 4));
    await ctx.writePage('groups', groups(2));
    const usersDone = succeededKind(4);
    await ctx.recordKind('users', usersDone);
    expect(ctx.tally()).toEqual({
      users: usersDone,
      groups: { status: 'cancelled', created: 2, updated: 0, unchanged: 0, deleted: 0, durationMs: 0 },
    });
    // recordKind writes the result to the run's record at once.
    expect((await stores.runs.get(runId))?.kinds.users).toEqual(usersDone);
  });

  it("reports progress with the run's id", async () => {
    const { ctx, runId, progress } = await contextOf();
    await ctx.progress({ kind: 'users', objects: 10, phase: 'page' });
    expect(progress).toEqual([{ kind: 'users', objects: 10, phase: 'page', runId }]);
  });
});
