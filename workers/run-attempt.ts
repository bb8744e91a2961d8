/**
 * One attempt at a sync job's run, under the tenant's lease the worker acquired:
 * begin (start the lease keeper, claim the run record) → run the processor (raced against its
 * abandonment once cancelled) → complete, fail or hand back → release the lease.
 *
 * Pulled out of the worker the way BullMQ splits `processJob` into `handleCompleted` / `handleFailed`
 * around its LockManager: it knows nothing of BullMQ. The worker (workers/worker.ts) gives it the
 * job's identity and turns its `AttemptOutcome` into the job's end (returned, delayed, failed for a
 * retry, failed for good).
 *
 * Stopping: `abort(reason)` (the job's lock lost, the shutdown's grace time over), the lease keeper
 * (lease lost or lapsing, an operator's cancel) all abort one signal; the fence of the run's context
 * then refuses every write. A processor that does not stop within a sixth of the lease time is
 * abandoned: the attempt ends without it (a processor stuck in a hung MongoDB operation must not keep
 * the job active, or the follow-up could never run).
 */
import type { Logger } from 'pino';
import type { Lease, Stores, TenantRef } from '../connectors/mongo/index.js';
import { systemClock, type Clock } from '../domain/clock.js';
import { SyncError } from '../domain/errors.js';
import { ignoreBecause } from '../domain/ignored-failure.js';
import { changedNothing, firstKindError, runErrorOf, runStatusOf } from '../domain/sync-run.js';
import type { KindResult, RunSummary, SyncRun } from '../domain/sync-run.js';
import type { SyncJobData, SyncProgress } from '../queues/sync-queue.js';
import { deltaMetrics } from './delta-metrics.js';
import { keepLease, type LeaseKeeper } from './lease-keeper.js';
import type { SyncMetrics } from './metrics.js';
import type { JobResult, SyncProcessor } from './processor.js';
import { createRunContext, type RunTally } from './run-context.js';
import { REDIS_SILENT, runErrorFor } from './run-error.js';
import type { RunEnd } from './run-upkeep.js';

/** The shutdown's grace time is over: the run is handed back to the queue, to run again. */
export const SHUTDOWN = 'shutdown';
/** The job's lock could not be renewed: another worker may take the job. */
export const LOCK_LOST = 'lock-lost';

/** What the attempt needs of its job (the worker reads it from BullMQ's Job). */
export interface AttemptJob {
  id: string;
  /** Whether a retryable failure of this attempt is tried again (the job has attempts left). */
  retriesLeft: boolean;
  data: SyncJobData;
  /** Reports progress to the queue (the job's `updateProgress`). */
  progress(progress: SyncProgress & { runId: string }): Promise<unknown>;
}

/** How the attempt ended, for the worker to end the job by. */
export type AttemptOutcome =
  | { end: 'completed'; result: JobResult }
  /** Cancelled by the shutdown or a silent Redis: the job goes back to the queue untouched (no attempt used). */
  | { end: 'handed-back' }
  /** `final`: no retry (the job fails at once with `message`); otherwise the queue retries `error`. */
  | { end: 'failed'; error: Error; final: boolean; message: string };

export interface RunAttemptDeps {
  stores: Stores;
  processor: SyncProcessor;
  workerId: string;
  leaseTtlMs: number;
  metrics: SyncMetrics;
  logger: Logger;
  /** Where an end MongoDB refused goes, to be written later; and who to tell that a run started. */
  upkeep: { recordLater(runId: string, end: RunEnd): void; reap(filter: { tenantId: string }): unknown };
  /** Told when the attempt ended (webhooks queue their deliveries). */
  onRunsEnded?: () => void;
  clock?: Clock;
}

/** How long a cancelled processor, a record's end or a release may take: a sixth of the lease time. */
function stopMarginMs(leaseTtlMs: number): number {
  return Math.max(50, Math.floor(leaseTtlMs / 6));
}

export class RunAttempt {
  private readonly controller = new AbortController();
  private abortReason: string | undefined;
  private readonly clock: Clock;
  /** A sixth of the lease time: how long a cancelled processor, a record's end or a release may take. */
  private readonly stopMarginMs: number;
  /** The job's lines before its run is claimed. */
  private readonly log: Logger;
  /** The run's lines, once claimed. */
  private readonly runLogger: (runId: string) => Logger;
  private keeper: LeaseKeeper | undefined;
  private tally: RunTally | undefined;

  constructor(
    private readonly deps: RunAttemptDeps,
    private readonly job: AttemptJob,
    private readonly tenant: TenantRef,
    private readonly lease: Lease,
  ) {
    this.clock = deps.clock ?? systemClock;
    this.stopMarginMs = stopMarginMs(deps.leaseTtlMs);
    // The run's id (the job's request), job and tenant bound once: no line lacks them, none repeats them.
    const { runId } = job.data;
    this.log = deps.logger.child({ ...(runId ? { runId } : {}), jobId: job.id, tenantId: tenant.id });
    this.runLogger = (id) => deps.logger.child({ runId: id, jobId: job.id, tenantId: tenant.id });
  }

  /** Stops the run with a reason (the first one counts); it writes nothing more. */
  abort(reason: string): void {
    if (this.controller.signal.aborted) return;
    this.abortReason = reason;
    this.controller.abort(new SyncError('CANCELLED', `The sync run was cancelled (${reason}).`));
  }

  /**
   * Runs the attempt to its end. Throws only when the run's record could not be claimed (MongoDB
   * refused it): nothing ran, the lease is released, and the queue retries the job.
   */
  async run(): Promise<AttemptOutcome> {
    const started = this.clock.now();
    const keeper = (this.keeper = this.keepLease());
    const run = await this.begin(keeper);
    const runLog = this.runLogger(run.id);
    let kinds: Record<string, KindResult> | undefined;
    try {
      const summary = await this.process(run, runLog);
      kinds = summary.kinds;
      return await this.settle(run, summary, started, runLog);
    } catch (error) {
      // Without the processor's summary, what its context saw: recorded kinds, and the kinds it wrote.
      return await this.fail(run, error, started, runLog, this.endedEarly(kinds ?? this.tally?.tally()));
    } finally {
      const lease = keeper.stop();
      // Releasing after the processor returned (or was abandoned: its fence refuses) is safe: this run
      // writes nothing more. Bounded: a MongoDB that hangs must not keep the job.
      if (lease) await waitAtMost(this.deps.stores.leases.release(lease), this.stopMarginMs);
      this.deps.onRunsEnded?.();
    }
  }

  private keepLease(): LeaseKeeper {
    return keepLease({
      leases: this.deps.stores.leases,
      runs: this.deps.stores.runs,
      lease: this.lease,
      ttlMs: this.deps.leaseTtlMs,
      tickMs: this.stopMarginMs,
      signal: this.controller.signal,
      stop: (reason) => this.abort(reason),
      clock: this.clock,
      logger: this.log,
    });
  }

  /** Claims the run's record (ending earlier attempts of the job its dead worker left running). */
  private async begin(keeper: LeaseKeeper): Promise<SyncRun> {
    const { runs, leases } = this.deps.stores;
    const { data } = this.job;
    try {
      // Under the tenant's lease: no other attempt of the job starts meanwhile.
      const { attemptsStarted } = await runs.abandonStale(this.job.id, this.tenant.id);
      const attempt = attemptsStarted + 1;
      const run = await runs.start({
        tenantId: this.tenant.id,
        hierarchy: this.tenant.hierarchy,
        trigger: data.trigger,
        requestedBy: data.requestedBy,
        jobId: this.job.id,
        attempt,
        worker: this.deps.workerId,
        ...(data.kinds ? { kindsRequested: data.kinds } : {}),
        ...(data.mode ? { mode: data.mode } : {}),
        ...(data.runId ? { runId: data.runId } : {}),
      });
      keeper.watchCancel(run.id);
      // Requests of this tenant that this run makes moot (a follow-up replaced by a later one) end now.
      void this.deps.upkeep.reap({ tenantId: this.tenant.id });
      return run;
    } catch (error) {
      // MongoDB refused the run's record: nothing ran; stop keeping the lease and let the job retry.
      const lease = keeper.stop();
      if (lease)
        await leases
          .release(lease)
          .catch(ignoreBecause("the lease lapses by itself; the job's retry waits for it", this.log));
      throw error;
    }
  }

  /** The processor's summary, unless it was cancelled and did not stop in time (then it throws). */
  private async process(run: SyncRun, runLog: Logger): Promise<RunSummary> {
    const { data } = this.job;
    const signal = this.controller.signal;
    const ctx = (this.tally = createRunContext({
      runId: run.id,
      jobId: this.job.id,
      attempt: run.attempt,
      tenant: this.tenant,
      ...(data.kinds ? { kinds: data.kinds } : {}),
      ...(data.mode ? { mode: data.mode } : {}),
      signal,
      fence: this.deps.stores.leases.fence(this.lease, this.deps.leaseTtlMs),
      cancelled: () => (signal.aborted ? String(this.abortReason) : undefined),
      stores: this.deps.stores,
      progress: (p) => this.job.progress(p),
      logger: runLog,
    }));
    runLog.info(
      { attempt: run.attempt, trigger: data.trigger, mode: data.mode ?? 'full' },
      'sync run started',
    );
    const processing = this.deps.processor(ctx);
    processing.catch(
      ignoreBecause(
        'heard by the race below; after an abandoned run, a late failure has no one else to hear it',
        runLog,
      ),
    );
    return Promise.race([processing, this.abandonedAfterAbort()]);
  }

  /** Rejects a stop margin after the run was cancelled: the attempt then ends without its processor. */
  private abandonedAfterAbort(): Promise<never> {
    const signal = this.controller.signal;
    return new Promise<never>((_, reject) => {
      const giveUp = () =>
        setTimeout(
          () =>
            reject(
              new SyncError(
                'CANCELLED',
                `The sync run was cancelled (${this.abortReason}) and did not stop within ${this.stopMarginMs} ms; it was abandoned (it writes nothing more).`,
              ),
            ),
          this.stopMarginMs,
        ).unref();
      if (signal.aborted) giveUp();
      else signal.addEventListener('abort', giveUp, { once: true });
    });
  }

  /**
   * The kinds of a run that ended early (cancelled, failed, abandoned): its summary's, or without one
   * what its context saw; recorded with its end, as a finished run's are (so the record lists every
   * kind the run wrote, and FerretDB, which applies concurrent recordKind updates of one document
   * non-atomically, cannot have lost one).
   */
  private endedEarly(kinds: Record<string, KindResult> | undefined): Record<string, KindResult> | undefined {
    return kinds && Object.keys(kinds).length > 0 ? kinds : undefined;
  }

  /** The processor returned: the run completed, unless it was cancelled meanwhile or every kind failed. */
  private async settle(
    run: SyncRun,
    summary: RunSummary,
    started: number,
    runLog: Logger,
  ): Promise<AttemptOutcome> {
    const status = runStatusOf(summary);
    if (this.keeper?.cancelledBy !== undefined)
      // Kinds that finished before the cancel keep their results; the run as a whole is cancelled.
      throw new SyncError('CANCELLED', `The sync run was cancelled by ${this.keeper.cancelledBy}.`);
    if (this.controller.signal.aborted && Object.values(summary.kinds).some((k) => k.status === 'cancelled'))
      // Stopped (lock or lease lost, shutdown) with kinds left undone: the run is cancelled, not
      // partial, whatever the kinds that finished first say.
      throw new SyncError('CANCELLED', `The sync run was cancelled (${this.abortReason}).`);
    if (status === 'failed' && Object.keys(summary.kinds).length > 0) {
      const error = firstKindError(summary) ?? { code: 'TRANSIENT', message: 'every kind failed' };
      throw new SyncError(error.code as SyncError['code'], error.message, {
        retryable: summary.retryable ?? false,
      });
    }
    const durationMs = this.clock.now() - started;
    const quiet = this.job.data.mode === 'delta' && status === 'succeeded' && changedNothing(summary);
    await this.deps.stores.runs.finish(run.id, { status, kinds: summary.kinds, ...(quiet ? { quiet } : {}) });
    this.observe(status, durationMs, summary, firstKindError(summary)?.code);
    runLog.info({ status, durationMs }, 'sync run finished');
    // The job's return value lives in Redis: the run record keeps a held sweep's full id list, the job
    // only its counts and sample.
    return {
      end: 'completed',
      result: {
        ...summary,
        kinds: withoutHeldIds(summary.kinds),
        runId: run.id,
        tenantId: this.tenant.id,
        status,
        durationMs,
      },
    };
  }

  /** The run failed, was cancelled, or is handed back: its record says which, and why. */
  private async fail(
    run: SyncRun,
    error: unknown,
    started: number,
    runLog: Logger,
    kinds: Record<string, KindResult> | undefined,
  ): Promise<AttemptOutcome> {
    const durationMs = this.clock.now() - started;
    const cancelledBy = this.keeper?.cancelledBy;
    const runError = runErrorFor(
      { leaseLost: this.keeper?.leaseLost ?? false, cancelledBy, abortReason: this.abortReason },
      error,
    );
    const thrown = error instanceof Error ? error : new Error(String(error));
    const message = `${runError.code}: ${runError.message}`;
    const withKinds = kinds ? { kinds } : {};
    if (this.controller.signal.aborted) {
      // A run cancelled by the shutdown, or because Redis fell silent (its lock may lapse), is handed
      // back and runs again without using an attempt (no retry backoff): its record says so. If Redis
      // stays away the hand-back waits for it, and the stalled-job check has given the job to another
      // worker by then.
      const handedBack = this.abortReason === SHUTDOWN || this.abortReason === REDIS_SILENT;
      await this.finishRecord(run.id, started + durationMs, {
        status: 'cancelled',
        error: runError,
        ...(handedBack ? { willRetry: true } : {}),
        ...withKinds,
      });
      this.observe('cancelled', durationMs, kinds && { kinds }, runError.code);
      runLog.warn({ reason: this.abortReason, error: runError }, 'sync run cancelled');
      if (handedBack) return { end: 'handed-back' };
      // An operator's cancel is final: no retry (a kept follow-up request still runs after it).
      return { end: 'failed', error: thrown, final: cancelledBy !== undefined, message };
    }
    const retryable = error instanceof SyncError ? error.retryable : true;
    const willRetry = retryable && this.job.retriesLeft;
    await this.finishRecord(run.id, started + durationMs, {
      status: 'failed',
      error: runError,
      willRetry,
      ...withKinds,
    });
    // The kinds' own outcomes count too (a run whose every kind failed is still three kind failures).
    this.observe('failed', durationMs, kinds && { kinds }, runError.code);
    if (willRetry) this.deps.metrics.retry();
    runLog.warn({ error: runError, willRetry }, 'sync run failed');
    return { end: 'failed', error: thrown, final: !retryable, message };
  }

  /**
   * Writes the record's end when MongoDB lets us, within the stop margin; if it does not, the upkeep
   * writes it before its next pass (or the reaper ends the record once the job is no longer active and
   * this run's lease has lapsed).
   */
  private async finishRecord(runId: string, endedAt: number, end: RunEnd): Promise<void> {
    const finishing = this.deps.stores.runs.finish(runId, end).catch((finishError: unknown) => {
      this.deps.upkeep.recordLater(runId, { ...end, endedAt: new Date(endedAt) });
      this.runLogger(runId).warn(
        { err: runErrorOf(finishError) },
        'could not record the end of the run; trying again before each reaper pass',
      );
    });
    await waitAtMost(finishing, this.stopMarginMs);
  }

  private observe(
    status: string,
    durationMs: number,
    summary: Pick<RunSummary, 'kinds'> | undefined,
    code?: string,
  ) {
    this.deps.metrics.observe(status, durationMs, summary as RunSummary | undefined, code);
    if (this.job.data.mode === 'delta') deltaMetrics().run(status);
  }
}

function withoutHeldIds(kinds: Record<string, KindResult>): Record<string, KindResult> {
  const out: Record<string, KindResult> = {};
  for (const [kind, result] of Object.entries(kinds)) {
    if (!result.held?.ids) out[kind] = result;
    else {
      const { ids: _ids, ...held } = result.held;
      out[kind] = { ...result, held };
    }
  }
  return out;
}

/** Waits for `promise` at most `ms` (it goes on in the background; its failure is ignored). */
export async function waitAtMost(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.catch(ignoreBecause('the wait is only bounded; the work goes on and answers for itself')),
    new Promise((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
}
