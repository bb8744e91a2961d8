/**
 * A RunAttempt alone, without BullMQ or a worker: each way an attempt ends, against the real store
 * (the MongoDB-wire server), with a clock the test moves (leases and attempt share it), so durations
 * are exact and no lease lapses unless a test says so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildStores, type Stores } from '../../connectors/mongo/index.js';
import { SyncError } from '../../domain/errors.js';
import type { RunSummary } from '../../domain/sync-run.js';
import type { RunContext, SyncProcessor } from '../../workers/processor.js';
import { RunAttempt, SHUTDOWN, type AttemptJob, type RunAttemptDeps } from '../../workers/run-attempt.js';
import { REDIS_SILENT } from '../../workers/run-error.js';
import type { RunEnd } from '../../workers/run-upkeep.js';
import { syncMetrics } from '../../workers/metrics.js';
import { TestClock } from '../support/clock.js';
import { testMongo, type TestMongo } from '../support/services.js';
import { addTenant, eventually, quietLogger, sweepFreely } from './support/harness.js';
import { failedKind, succeededKind } from './support/kind-results.js';

const LEASE_TTL_MS = 1200; // the keeper ticks every 200 ms

/** A lease as stored (connectors/mongo/leases.ts). */
interface LeaseRow {
  _id: string;
  tenantId: string;
  token: number;
  owner: string;
  expiresAt: Date;
  acquiredAt: Date;
  renewedAt: Date;
}

/** A processor that waits until its run is stopped, then fails as a real one does (its signal's reason). */
const untilStopped: SyncProcessor = (ctx: RunContext) =>
  new Promise<RunSummary>((_, reject) => {
    if (ctx.signal.aborted) reject(ctx.signal.reason);
    ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
  });

describe('a run attempt', () => {
  let mongo: TestMongo;
  let stores: Stores;
  const clock = new TestClock();
  const later: { runId: string; end: RunEnd }[] = [];
  const reaped: string[] = [];

  beforeAll(async () => {
    mongo = await testMongo('run_attempt');
    stores = buildStores(mongo.db, undefined, { deleteThresholds: sweepFreely, clock });
    await stores.leases.ensureIndexes();
    await stores.runs.ensureIndexes();
  });
  afterAll(async () => {
    await mongo.close();
  });

  /** A tenant with its lease held by the attempt, and the attempt ready to run. */
  async function attemptOf(processor: SyncProcessor, job: Partial<AttemptJob> = {}, tenant?: string) {
    const tenantId = tenant ?? (await addTenant(mongo.db));
    const lease = await stores.leases.acquire(tenantId, 'test-worker/job', LEASE_TTL_MS);
    if (!lease) throw new Error('the fresh tenant has no lease to take');
    const deps: RunAttemptDeps = {
      stores,
      processor,
      workerId: 'test-worker',
      leaseTtlMs: LEASE_TTL_MS,
      metrics: syncMetrics(),
      logger: quietLogger,
      upkeep: {
        recordLater: (runId, end) => void later.push({ runId, end }),
        reap: ({ tenantId: id }) => void reaped.push(id),
      },
      clock,
    };
    const attemptJob: AttemptJob = {
      id: `job-${tenantId}`,
      retriesLeft: true,
      data: { tenantId, trigger: 'operator', requestedBy: 'test' },
      progress: async () => {},
      ...job,
    };
    const attempt = new RunAttempt(deps, attemptJob, { id: tenantId, hierarchy: 'provider.customer' }, lease);
    return { attempt, tenantId, lease };
  }

  const recordsOf = (tenantId: string) => stores.runs.list({ tenantId, limit: 5 });
  const recordOf = async (tenantId: string) => {
    const runs = await stores.runs.list({ tenantId, limit: 5 });
    expect(runs).toHaveLength(1);
    return runs[0]!;
  };

  it('completed: records the kinds, returns the result with an exact duration, releases the lease', async () => {
    const { attempt, tenantId, lease } = await attemptOf(async () => {
      clock.advance(250);
      return { kinds: { users: succeededKind(3) } };
    });
    const outcome = await attempt.run();
    expect(outcome.end).toBe('completed');
    if (outcome.end !== 'completed') return;
    expect(outcome.result).toMatchObject({ tenantId, status: 'succeeded', durationMs: 250 });
    const record = await recordOf(tenantId);
    expect(record).toMatchObject({ status: 'succeeded', attempt: 1, worker: 'test-worker' });
    expect(record.kinds.users?.created).toBe(3);
    expect(reaped).toContain(tenantId);
    // Released (its expiry set to the epoch: a lapse never looks like that); the release may finish
    // just after the attempt, which waits for it a stop margin at most.
    const leases = mongo.db.collection<LeaseRow>('sync_leases');
    await eventually(
      async () => (await leases.findOne({ tenantId, token: lease.token }))?.expiresAt.getTime() === 0,
    );
  });

  it('partial: a run with one kind failed and one succeeded completes as partial', async () => {
    const { attempt, tenantId } = await attemptOf(async () => ({
      kinds: { users: succeededKind(), groups: failedKind('THROTTLED') },
    }));
    const outcome = await attempt.run();
    expect(outcome).toMatchObject({ end: 'completed', result: { status: 'partial' } });
    expect(await recordOf(tenantId)).toMatchObject({
      status: 'partial',
      kinds: { groups: { status: 'failed' } },
    });
  });

  it('failed: every kind failed; the record keeps the kinds and says whether it is retried', async () => {
    const { attempt, tenantId } = await attemptOf(
      async () => ({ kinds: { users: failedKind('AUTHENTICATION') }, retryable: false }),
      { retriesLeft: true },
    );
    const outcome = await attempt.run();
    expect(outcome).toMatchObject({
      end: 'failed',
      final: true,
      message: 'AUTHENTICATION: AUTHENTICATION in the test',
    });
    expect(await recordOf(tenantId)).toMatchObject({
      status: 'failed',
      willRetry: false,
      error: { code: 'AUTHENTICATION' },
      kinds: { users: { status: 'failed' } },
    });
  });

  it('failed, retryable: a thrown transient error is retried while the job has attempts left', async () => {
    const { attempt, tenantId } = await attemptOf(async () => {
      throw new SyncError('TRANSIENT', 'Graph answered 503', { retryable: true });
    });
    const outcome = await attempt.run();
    expect(outcome).toMatchObject({ end: 'failed', final: false });
    expect(await recordOf(tenantId)).toMatchObject({
      status: 'failed',
      willRetry: true,
      error: { code: 'TRANSIENT' },
    });
  });

  it("cancelled: an operator's cancel request stops the run for good", async () => {
    const { attempt, tenantId } = await attemptOf(async (ctx) => {
      await stores.runs.requestCancel(ctx.runId, 'operator@example.test');
      return untilStopped(ctx);
    });
    const outcome = await attempt.run();
    expect(outcome).toMatchObject({ end: 'failed', final: true });
    expect(await recordOf(tenantId)).toMatchObject({
      status: 'cancelled',
      error: { code: 'CANCELLED', message: expect.stringContaining('operator@example.test') },
    });
  });

  it('lease lost: a newer run took the lease; the attempt stops and its record says why', async () => {
    const { attempt, tenantId } = await attemptOf(async (ctx) => {
      // A newer run took the tenant (as its acquire does once our lease lapsed: the next token's
      // document), without waiting the lease time out.
      const leases = mongo.db.collection<LeaseRow>('sync_leases');
      const [ours] = await leases.find({ tenantId }).toArray();
      const now = new Date();
      await leases.insertOne({
        _id: `${tenantId}:${ours!.token + 1}`,
        tenantId,
        token: ours!.token + 1,
        owner: 'newer',
        expiresAt: new Date(now.getTime() + LEASE_TTL_MS),
        acquiredAt: now,
        renewedAt: now,
      });
      return untilStopped(ctx);
    });
    const outcome = await attempt.run();
    expect(outcome).toMatchObject({ end: 'failed', final: false });
    expect(await recordOf(tenantId)).toMatchObject({ status: 'cancelled', error: { code: 'LEASE_LOST' } });
  });

  it('handed back: cancelled by the shutdown, the record says it runs again', async () => {
    let stop: () => void = () => {};
    const { attempt, tenantId } = await attemptOf(async (ctx) => {
      stop();
      return untilStopped(ctx);
    });
    stop = () => attempt.abort(SHUTDOWN);
    const outcome = await attempt.run();
    expect(outcome).toEqual({ end: 'handed-back' });
    expect(await recordOf(tenantId)).toMatchObject({ status: 'cancelled', willRetry: true });
  });

  it('handed back: stopped because Redis fell silent, it runs again without using an attempt', async () => {
    const { attempt, tenantId } = await attemptOf(async (ctx) => {
      attempt.abort(REDIS_SILENT);
      return untilStopped(ctx);
    });
    expect(await attempt.run()).toEqual({ end: 'handed-back' });
    expect(await recordOf(tenantId)).toMatchObject({
      status: 'cancelled',
      willRetry: true,
      error: { code: 'LOCK_LAPSING' },
    });
  });

  it('abandoned: a processor that does not stop after a cancel is left behind within the stop margin', async () => {
    const { attempt, tenantId } = await attemptOf(() => {
      attempt.abort('lock-lost');
      return new Promise<RunSummary>(() => {});
    });
    const outcome = await attempt.run();
    expect(outcome).toMatchObject({
      end: 'failed',
      final: false,
      error: { message: expect.stringContaining('abandoned') },
    });
    expect(await recordOf(tenantId)).toMatchObject({ status: 'cancelled', error: { code: 'CANCELLED' } });
  });

  it('stopped with kinds left undone: the run is cancelled, not partial, and lists every kind', async () => {
    const { attempt, tenantId } = await attemptOf(async () => {
      attempt.abort('lock-lost');
      return { kinds: { users: succeededKind(2), groups: { ...succeededKind(0), status: 'cancelled' } } };
    });
    const outcome = await attempt.run();
    expect(outcome).toMatchObject({ end: 'failed', final: false });
    expect(await recordOf(tenantId)).toMatchObject({
      status: 'cancelled',
      kinds: { users: { status: 'succeeded', created: 2 }, groups: { status: 'cancelled' } },
    });
  });

  it("numbers the job's attempts by the runs it started", async () => {
    const failing = await attemptOf(async () => {
      throw new SyncError('TRANSIENT', 'Graph answered 503', { retryable: true });
    });
    await failing.attempt.run();
    const again = await attemptOf(
      async () => ({ kinds: { users: succeededKind() } }),
      { id: `job-${failing.tenantId}` },
      failing.tenantId,
    );
    expect((await again.attempt.run()).end).toBe('completed');
    const records = await recordsOf(failing.tenantId);
    expect(records.map((r) => [r.attempt, r.status])).toEqual([
      [2, 'succeeded'],
      [1, 'failed'],
    ]);
  });

  it('abandoned after writing: the record lists the kinds it recorded and those it wrote and never finished', async () => {
    const { attempt, tenantId } = await attemptOf(async (ctx) => {
      await ctx.recordKind('licences', succeededKind(4));
      await ctx.writePage('users', [
        { id: 'u-1', displayName: 'One' },
        { id: 'u-2', displayName: 'Two' },
      ]);
      attempt.abort('lease-lapsing');
      return new Promise<RunSummary>(() => {});
    });
    const outcome = await attempt.run();
    expect(outcome).toMatchObject({ end: 'failed', final: false });
    expect(await recordOf(tenantId)).toMatchObject({
      status: 'cancelled',
      kinds: {
        licences: { status: 'succeeded', created: 4 },
        users: { status: 'cancelled', created: 2 },
      },
    });
  });
});
