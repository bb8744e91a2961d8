/**
 * The upkeep of run records (workers/run-upkeep.ts) against the real store and queue, its time
 * injected: the ends of runs this process could not record are written before the reaper's pass, so a
 * record says what its run did rather than WORKER_LOST (and one MongoDB refused again is kept for the
 * next pass); the listener hears only of passes that ended records; passes run one at a time; quiet
 * delta runs' records are pruned at most hourly; the timer starts a pass every interval.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ObjectId } from 'mongodb';
import type { Queue } from 'bullmq';
import { buildStores, type Stores } from '../../connectors/mongo/index.js';
import { createSyncQueue, type SyncJobData } from '../../queues/sync-queue.js';
import { RunUpkeep } from '../../workers/run-upkeep.js';
import { TestClock } from '../support/clock.js';
import { testMongo, testRedis, type TestMongo, type TestRedis } from '../support/services.js';
import { addTenant, quietLogger } from './support/harness.js';

const DAY_MS = 86_400_000;
const RETENTION_DAYS = 7;

describe('the run upkeep', () => {
  let redis: TestRedis;
  let mongo: TestMongo;
  let queue: Queue<SyncJobData, unknown, string>;
  let stores: Stores;
  const clock = new TestClock();
  const upkeeps: RunUpkeep[] = [];

  beforeAll(async () => {
    redis = await testRedis('run_upkeep');
    mongo = await testMongo('run_upkeep');
    queue = createSyncQueue({ url: redis.url, prefix: redis.prefix });
    stores = buildStores(mongo.db, undefined, { clock, leaseClockSkewMs: 0 });
    await stores.runs.ensureIndexes();
    await stores.leases.ensureIndexes();
  });
  afterEach(async () => {
    vi.useRealTimers();
    vi.restoreAllMocks();
    await Promise.all(upkeeps.splice(0).map((u) => u.close()));
  });
  afterAll(async () => {
    await queue.close();
    await redis.close();
    await mongo.close();
  });

  function upkeep(options: { onRunsEnded?: () => void; reaperIntervalMs?: number } = {}) {
    const made = new RunUpkeep({
      stores,
      queue,
      reaperIntervalMs: options.reaperIntervalMs ?? 60_000,
      enqueueGraceMs: 10_000,
      deltaRunRetentionDays: RETENTION_DAYS,
      logger: quietLogger,
      clock,
      ...(options.onRunsEnded ? { onRunsEnded: options.onRunsEnded } : {}),
    });
    upkeeps.push(made);
    return made;
  }

  /** A run its worker started and lost: no job, no lease (the reaper would end it WORKER_LOST). */
  async function lostRun(tenantId: string) {
    return (
      await stores.runs.start({
        tenantId,
        hierarchy: 'provider.customer',
        trigger: 'api',
        requestedBy: 'op',
        jobId: new ObjectId().toHexString(),
        attempt: 1,
        worker: 'gone',
      })
    ).id;
  }

  it('writes a run end it could not record before the pass: the record says what the run did', async () => {
    const tenantId = await addTenant(mongo.db);
    const runId = await lostRun(tenantId);
    const ended: number[] = [];
    const u = upkeep({ onRunsEnded: () => void ended.push(1) });
    u.recordLater(runId, {
      status: 'cancelled',
      error: { code: 'CANCELLED', message: 'Cancelled by alice.' },
      kinds: {},
    });
    await u.reap({ tenantId });
    expect(await stores.runs.get(runId)).toMatchObject({
      status: 'cancelled',
      error: { code: 'CANCELLED', message: 'Cancelled by alice.' },
    });
    // The pass then found nothing open: nobody is told.
    expect(ended).toEqual([]);
  });

  it('keeps an end MongoDB refused again for the next pass, and the reaper waits for it', async () => {
    const tenantId = await addTenant(mongo.db);
    const runId = await lostRun(tenantId);
    const u = upkeep();
    u.recordLater(runId, { status: 'failed', error: { code: 'LEASE_LAPSING', message: 'lapsing' } });
    vi.spyOn(stores.runs, 'finish').mockRejectedValueOnce(new Error('connection refused'));
    await u.reap({ tenantId });
    // Not reaped as WORKER_LOST meanwhile: the pass stopped at the refused write.
    expect((await stores.runs.get(runId))?.status).toBe('running');
    await u.reap({ tenantId });
    expect(await stores.runs.get(runId)).toMatchObject({
      status: 'failed',
      error: { code: 'LEASE_LAPSING' },
    });
  });

  it('tells its listener when a pass ended records, and runs one pass at a time', async () => {
    const tenantId = await addTenant(mongo.db);
    const runId = await lostRun(tenantId);
    let told = 0;
    const u = upkeep({ onRunsEnded: () => void told++ });
    const first = u.reap({ tenantId });
    const second = u.reap({ tenantId });
    expect(second).toBe(first);
    await first;
    expect(told).toBe(1);
    expect(await stores.runs.get(runId)).toMatchObject({ status: 'failed', error: { code: 'WORKER_LOST' } });
    await u.reap({ tenantId });
    expect(told).toBe(1);
  });

  it('prunes the records of quiet delta runs past their retention, at most hourly', async () => {
    const old = (days: number) => new Date(clock.now() - days * DAY_MS);
    const quiet = (endedAt: Date) => ({
      _id: new ObjectId(),
      tenantId: 'pruned-tenant',
      mode: 'delta' as const,
      quiet: true,
      status: 'succeeded' as const,
      endedAt,
      kinds: {},
    });
    const expired = quiet(old(RETENTION_DAYS + 1));
    const kept = quiet(old(RETENTION_DAYS - 1));
    const loud = { ...quiet(old(RETENTION_DAYS + 1)), quiet: false };
    await stores.runs.collection.insertMany([expired, kept, loud] as never);
    const u = upkeep();
    await u.reap({ tenantId: 'pruned-tenant' });
    const left = async () =>
      (await stores.runs.collection.find({ tenantId: 'pruned-tenant' }).toArray()).map((d) =>
        d._id.toHexString(),
      );
    expect((await left()).sort()).toEqual([kept._id.toHexString(), loud._id.toHexString()].sort());

    // Within the hour, a new expired record stays; an hour later it goes.
    const later = quiet(old(RETENTION_DAYS + 2));
    await stores.runs.collection.insertOne(later as never);
    clock.advance(59 * 60_000);
    await u.reap({ tenantId: 'pruned-tenant' });
    expect(await left()).toContain(later._id.toHexString());
    clock.advance(60_000);
    await u.reap({ tenantId: 'pruned-tenant' });
    expect(await left()).not.toContain(later._id.toHexString());
  });

  it('starts a pass every interval once started, and none after it is closed', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const u = upkeep({ reaperIntervalMs: 1000 });
    const passes = vi.spyOn(u, 'reap').mockResolvedValue();
    u.start();
    u.start(); // a second start does not add a timer
    await vi.advanceTimersByTimeAsync(999);
    expect(passes).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(passes).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(2000);
    expect(passes).toHaveBeenCalledTimes(3);
    await u.close();
    await vi.advanceTimersByTimeAsync(5000);
    expect(passes).toHaveBeenCalledTimes(3);
  });
});
