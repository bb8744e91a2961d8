/**
 * The run reaper: ends the `sync_runs` records that no worker will ever end, so every record reaches
 * a terminal status that says what happened. The workers run it every SYNC_REAPER_INTERVAL_MS (any
 * number of them at once: every change is conditional on the record's status), and for one tenant
 * whenever one of its runs starts.
 *
 * - `queued`, whose job BullMQ no longer holds (not a job, not the tenant's kept follow-up): the run
 *   that does the request's work instead is the later request BullMQ kept as the follow-up (it keeps
 *   the last), a job of the tenant waiting to run, or a run of the tenant that started after the
 *   request → `merged` into it; with none of those → `failed` JOB_LOST (Redis lost its data, or the
 *   job was removed). A request younger than the grace time is left alone while its add may still be
 *   in flight: unless its producer marked the add done in Redis (`enqueuedKey`; the producer writes
 *   nothing to a record a worker may be claiming: queues/sync-queue.ts).
 * - `queued`, whose job failed before any run started (its tenant was deleted, its data was invalid)
 *   → `failed` with the job's reason.
 * - `running`, whose job is not active and whose lease is not held by that run any more: its worker
 *   died, was killed once too often (BullMQ failed the job: "stalled more than allowable limit"), or
 *   could not write its end (MongoDB refused connections) → `failed` with the reason.
 */
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { LeaseStore, SyncRunStore } from '../connectors/mongo/index.js';
import { systemClock, type Clock } from '../domain/clock.js';
import type { RunError, SyncRun } from '../domain/sync-run.js';
import { dedupId, enqueuedKey, followUpKey, type SyncJobData } from '../queues/sync-queue.js';

export interface RunReaperOptions {
  runs: SyncRunStore;
  leases: LeaseStore;
  queue: Queue<SyncJobData, unknown, string>;
  /** How long a request may be between its record and its add. */
  enqueueGraceMs: number;
  logger: Logger;
  /**
   * Where a queued request's age is read.
   * @default systemClock
   */
  clock?: Clock;
}

export interface ReapResult {
  merged: number;
  failed: number;
}

const ACTIVE_STATES = new Set(['active']);
const WAITING_STATES = new Set(['waiting', 'delayed', 'prioritized', 'waiting-children']);
const PENDING_STATES = new Set([...WAITING_STATES, 'active']);

export class RunReaper {
  constructor(private readonly options: RunReaperOptions) {}

  /** One pass over every open record (or one tenant's). */
  async reap(filter: { tenantId?: string } = {}): Promise<ReapResult> {
    const result: ReapResult = { merged: 0, failed: 0 };
    const open = await this.options.runs.collection
      .find({
        status: { $in: ['queued', 'running'] },
        ...(filter.tenantId ? { tenantId: filter.tenantId } : {}),
      })
      .limit(10_000)
      .toArray();
    for (const doc of open) {
      const run = { ...doc, id: doc._id.toHexString() } as SyncRun & { _id?: unknown };
      try {
        const outcome = run.status === 'queued' ? await this.reapQueued(run) : await this.reapRunning(run);
        if (outcome) result[outcome]++;
      } catch (error) {
        this.options.logger.warn(
          { runId: run.id, err: { message: (error as Error).message } },
          'run reaper could not check a run',
        );
      }
    }
    if (result.merged + result.failed > 0) this.options.logger.info(result, 'run reaper ended open runs');
    return result;
  }

  private async reapQueued(run: SyncRun): Promise<keyof ReapResult | undefined> {
    const { queue, runs } = this.options;
    const age = (this.options.clock ?? systemClock).now() - (run.queuedAt?.getTime() ?? 0);
    const client = await queue.backend.client;
    // A young record whose add may still be in flight waits, unless its producer marked the add done.
    if (
      age < this.options.enqueueGraceMs &&
      !run.enqueueOutcome &&
      (await client.get(enqueuedKey(queue, run.id))) === null
    )
      return undefined;
    // The kept follow-up first, then the job: a follow-up becomes a job atomically, so one read sees it.
    const dedup = dedupId(run.tenantId, run.mode);
    const keptFollowUp = await client.hget(followUpKey(queue, dedup), 'jid');
    if (keptFollowUp === run.id) return undefined;
    const state = await queue.getJobState(run.jobId);
    if (PENDING_STATES.has(state)) return undefined;
    if (state === 'failed' || state === 'completed') {
      const job = await queue.getJob(run.jobId);
      const reason = job?.failedReason || `the job ${state} without starting this run`;
      const ended = await runs.endQueued(run.id, { status: 'failed', error: errorFromReason(reason) });
      return ended ? 'failed' : undefined;
    }
    // No job any more. A later request kept as the follow-up replaced this one (BullMQ keeps the last):
    // it does the work.
    if (keptFollowUp) {
      const ended = await runs.endQueued(run.id, { status: 'merged', mergedInto: keptFollowUp });
      return ended ? 'merged' : undefined;
    }
    // A job of the tenant waiting to run will see the tenant as it is after this request: it does the work.
    const waiting = await queue.getDeduplicationJobId(dedup);
    if (waiting && WAITING_STATES.has(await queue.getJobState(waiting))) {
      const ended = await runs.endQueued(run.id, { status: 'merged', mergedInto: waiting });
      return ended ? 'merged' : undefined;
    }
    // Did a run of the tenant start after this request? It did the work (a delta run does not do a
    // full pull's).
    const later = await runs.collection
      .find({
        tenantId: run.tenantId,
        startedAt: { $gte: run.queuedAt ?? new Date(0) },
        ...(run.mode === 'delta' ? {} : { mode: { $ne: 'delta' as const } }),
      })
      .sort({ startedAt: 1 })
      .limit(1)
      .next();
    if (later) {
      const ended = await runs.endQueued(run.id, { status: 'merged', mergedInto: later._id.toHexString() });
      return ended ? 'merged' : undefined;
    }
    const ended = await runs.endQueued(run.id, {
      status: 'failed',
      error: {
        code: 'JOB_LOST',
        message:
          'The queue lost this sync request before any run started (Redis lost its data, or the job was removed); nothing was synced for it. Request a new sync.',
      },
    });
    return ended ? 'failed' : undefined;
  }

  private async reapRunning(run: SyncRun): Promise<keyof ReapResult | undefined> {
    const { queue, runs, leases } = this.options;
    const state = await queue.getJobState(run.jobId);
    if (ACTIVE_STATES.has(state)) return undefined;
    const holder = await leases.holder(run.tenantId);
    if (holder && holder.owner === `${run.worker}/${run.jobId}`) return undefined;
    let error: RunError;
    if (state === 'failed') {
      const job = await queue.getJob(run.jobId);
      error = errorFromReason(job?.failedReason || 'the job failed');
      if (/stalled more than allowable limit/i.test(error.message)) {
        error = {
          code: 'WORKER_LOST',
          message: `The worker running this sync stopped too many times (killed or stalled: ${error.message}); the job failed. The tenant keeps its previous data.`,
        };
      }
    } else {
      error = {
        code: 'WORKER_LOST',
        message:
          'The worker running this sync stopped before recording its end (crashed, was killed, stalled, or could not reach MongoDB); its lease lapsed.',
      };
    }
    return (await runs.endRunning(run.id, error)) ? 'failed' : undefined;
  }
}

/** A job's failed reason `"CODE: message"` (the worker's UnrecoverableError) as a run error. */
function errorFromReason(reason: string): RunError {
  const match = /^([A-Z][A-Z_]+): (.*)$/s.exec(reason);
  return match ? { code: match[1]!, message: match[2]! } : { code: 'JOB_FAILED', message: reason };
}
