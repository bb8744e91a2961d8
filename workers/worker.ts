/**
 * The sync worker process: takes "tenant-sync" jobs and runs the full pull of one tenant per job.
 *
 * Around the SyncProcessor it provides:
 * - the tenant's MongoDB lease, acquired at the start (a live lease held by another run puts the job
 *   back as delayed, without using an attempt), kept by the lease keeper, released at the end;
 * - the run record in `sync_runs`: the request's `queued` record (job data `runId`) becomes the running
 *   run (→ succeeded / partial / needs_review / failed / cancelled); a job whose tenant was deleted
 *   ends its record `failed` NOT_FOUND;
 * - the lease keeper (workers/lease-keeper.ts), one per run: renews the lease every sixth of its time
 *   and cancels the run itself when the lease is about to lapse without a successful renewal (MongoDB
 *   hangs or refuses connections), so a run never goes on writing on a lease it may have lost, and its
 *   job ends for the follow-up to run;
 * - the run's narrow context (workers/run-context.ts): every write and sweep behind the lease's fence,
 *   which refuses once the run is cancelled;
 * - the run reaper (workers/run-reaper.ts), every SYNC_REAPER_INTERVAL_MS and when a run starts: ends
 *   the records whose job failed, vanished or was never picked up;
 * - cancellation: one AbortSignal that fires when the BullMQ lock cannot be renewed
 *   (`lockRenewalFailed`), when the lease is lost, at the end of the shutdown grace time, or when an
 *   operator cancels the run (a request on its record that the lease keeper reads at each tick;
 *   operations/cancel-run.ts): that run ends `cancelled` and is not retried;
 * - error classification: SyncError with `retryable: false` → UnrecoverableError (fails at once with the
 *   operator-facing message); anything else → rethrown, so BullMQ retries with exponential backoff;
 * - stall recovery: a long lock (default 5 min, renewed every half of it) and a stalled-job check, so
 *   the job of a crashed or killed worker goes back to the queue and another worker takes it;
 * - graceful shutdown on SIGTERM/SIGINT: stop taking jobs, let active runs finish within the grace
 *   time, then cancel them and hand their jobs back to the queue (delayed, not failed), then close.
 *
 * Reconnects: BullMQ relies on ioredis, which reconnects for ever with `maxRetriesPerRequest: null`
 * (see queues/connection.ts); the MongoDB driver re-selects a server on each operation. A run whose
 * writes fail while MongoDB is away fails its kinds (retryable); a run that loses Redis longer than the
 * lock duration loses its lock, is cancelled, and its job is recovered by the stalled-job check.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import { ignoreBecause } from '../domain/ignored-failure.js';
import { SyncError } from '../domain/errors.js';
import { DEFAULT_SETTINGS, type Settings } from '../domain/settings.js';
import { buildStores, type Lease, type SyncRunStore } from '../connectors/mongo/index.js';
import type { KindResult, RunError } from '../domain/sync-run.js';
import type { SourceThresholds } from '../domain/delete-protection.js';
import { spread } from '../connectors/retry.js';
import { workerConnection, type RedisSettings } from '../queues/connection.js';
import {
  createSyncQueue,
  DEFAULT_QUEUE_SETTINGS,
  SYNC_QUEUE,
  SyncJobData,
  type SyncQueueSettings,
} from '../queues/sync-queue.js';
import { RunReaper } from './run-reaper.js';
import { logger as defaultLogger } from '../observability/logger.js';
import type { JobResult, SyncProcessor } from './processor.js';
import { createRunContext } from './run-context.js';
import { keepLease, LEASE_LAPSING } from './lease-keeper.js';
import { changedNothing, firstKindError, runErrorOf as errorOf, runStatusOf } from '../domain/sync-run.js';
import { startTriggerWorker } from './trigger-worker.js';
import { syncMetrics } from './metrics.js';
import { deltaMetrics } from './delta-metrics.js';

export interface WorkerSettings {
  concurrency: number;
  /** BullMQ lock: how long a job stays ours without renewal; renewed every half of it. */
  lockDurationMs: number;
  stalledIntervalMs: number;
  /** A job that stalls more often than this fails ("stalled more than allowable limit"). */
  maxStalledCount: number;
  leaseTtlMs: number;
  leaseClockSkewMs: number;
  /** How long a job waits (delayed) when another run holds its tenant's lease; jittered ±50 %. */
  leaseRetryMs: number;
  /** On SIGTERM/SIGINT: how long active runs may go on before they are cancelled and handed back. */
  shutdownGraceMs: number;
  /** How often the run reaper looks for records no worker will end. */
  reaperIntervalMs: number;
  /** How long a queued record may wait for its producer's add before the reaper judges it. */
  enqueueGraceMs: number;
  /** How long change records are kept (pruned with the reaper's passes, at most hourly). */
  changesRetentionDays: number;
  /** How long the record of a delta run that changed nothing is kept (pruned likewise). */
  deltaRunRetentionDays: number;
}

/** The worker's part of the process settings (SYNC_WORKER_CONCURRENCY, SYNC_LOCK_*, SYNC_LEASE_*, …). */
export function workerSettings(e: Settings): WorkerSettings {
  return {
    concurrency: e.SYNC_WORKER_CONCURRENCY,
    lockDurationMs: e.SYNC_LOCK_DURATION_MS,
    stalledIntervalMs: e.SYNC_STALLED_INTERVAL_MS,
    maxStalledCount: e.SYNC_MAX_STALLED_COUNT,
    leaseTtlMs: e.SYNC_LEASE_TTL_MS,
    leaseClockSkewMs: e.SYNC_LEASE_CLOCK_SKEW_MS,
    leaseRetryMs: e.SYNC_LEASE_RETRY_MS,
    shutdownGraceMs: e.SYNC_SHUTDOWN_GRACE_MS,
    reaperIntervalMs: e.SYNC_REAPER_INTERVAL_MS,
    enqueueGraceMs: e.SYNC_ENQUEUE_GRACE_MS,
    changesRetentionDays: e.M365SYNC_CHANGES_RETENTION_DAYS,
    deltaRunRetentionDays: e.SYNC_DELTA_RUN_RETENTION_DAYS,
  };
}

const DEFAULT_WORKER_SETTINGS = workerSettings(DEFAULT_SETTINGS);

export interface StartWorkerOptions {
  redis: RedisSettings;
  db: Db;
  processor: SyncProcessor;
  /** Omitted ones are the documented defaults; the worker process passes workerSettings(settings). */
  settings?: Partial<WorkerSettings>;
  /** Attempts and backoff of the scheduled syncs its trigger worker enqueues (default: the defaults). */
  queueSettings?: SyncQueueSettings;
  /** The global delete thresholds (DELETE_THRESHOLD_*), under the stored ones; default none. */
  deleteThresholds?: SourceThresholds;
  /** Also run the small worker that turns scheduler triggers into sync jobs (default true). */
  triggers?: boolean;
  /** M365SYNC_DELTA (default on): off, the trigger worker skips the delta schedules' triggers. */
  deltaEnabled?: boolean;
  /** Identifies this process in leases and run records; default host:pid:random. */
  workerId?: string;
  logger?: Logger;
  /** Told when run records ended here (a run, or the reaper's pass): webhooks queue their deliveries. */
  onRunsEnded?: () => void;
}

export interface SyncWorker {
  readonly workerId: string;
  readonly worker: Worker<SyncJobData, JobResult>;
  /** Health for the API: the worker is running and not shutting down. */
  isRunning(): boolean;
  /** Graceful stop within the grace time (default from settings); idempotent. */
  close(graceMs?: number): Promise<void>;
}

const SHUTDOWN = 'shutdown';
const LOCK_LOST = 'lock-lost';

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
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.catch(ignoreBecause('`within` only bounds the wait; the work goes on and answers for itself')),
    new Promise((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
}

export async function startWorker(options: StartWorkerOptions): Promise<SyncWorker> {
  const settings = { ...DEFAULT_WORKER_SETTINGS, ...options.settings };
  const queueSettings = options.queueSettings ?? DEFAULT_QUEUE_SETTINGS;
  const log = options.logger ?? defaultLogger;
  const workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const { db } = options;
  // The run bookkeeping needs no key: the processor loads and decrypts the tenant with its own stores.
  const stores = buildStores(db, undefined, {
    ...(options.deleteThresholds ? { deleteThresholds: options.deleteThresholds } : {}),
    leaseClockSkewMs: settings.leaseClockSkewMs,
    changesRetentionDays: settings.changesRetentionDays,
  });
  const { leases, objects, runs } = stores;
  await objects.ensureIndexes();
  await leases.ensureIndexes();
  await runs.ensureIndexes();
  await stores.changes.ensureIndexes();
  const metrics = syncMetrics();
  let closing = false;
  const reaperQueue = createSyncQueue(options.redis);
  const reaper = new RunReaper({
    runs,
    leases,
    queue: reaperQueue,
    enqueueGraceMs: settings.enqueueGraceMs,
    logger: log,
  });
  // Run ends this process could not record (MongoDB away): written before each reaper pass, so the
  // record tells what the run did (cancelled, LEASE_LAPSING) rather than the reaper's WORKER_LOST.
  const unrecordedEnds = new Map<string, Parameters<SyncRunStore['finish']>[1]>();
  const recordLateEnds = async () => {
    for (const [runId, outcome] of unrecordedEnds) {
      await runs.finish(runId, outcome);
      unrecordedEnds.delete(runId);
    }
  };
  // Quiet delta runs' records (sync-runs.ts), on the reaper's beat too, at most hourly.
  let prunedRunsAt = 0;
  const pruneQuietDeltaRuns = async () => {
    if (Date.now() - prunedRunsAt < 3600_000) return;
    prunedRunsAt = Date.now();
    const before = new Date(Date.now() - settings.deltaRunRetentionDays * 86_400_000);
    const removed = await runs.pruneQuietDeltaRuns(before);
    if (removed > 0) log.info({ removed }, 'removed the records of quiet delta runs');
  };
  let reaping: Promise<unknown> | undefined;
  const reap = (filter: { tenantId?: string } = {}) => {
    // One pass at a time per process; a failed pass (Redis or MongoDB away) is tried again later.
    reaping ??= recordLateEnds()
      .then(() => reaper.reap(filter))
      .then((ended) => {
        if (ended.merged + ended.failed > 0) options.onRunsEnded?.();
      })
      .catch((error: unknown) => log.warn({ err: errorOf(error) }, 'run reaper pass failed'))
      // The change feed's retention, on the reaper's beat (hourly at most: changes.ts).
      .then(() => stores.changes.prune())
      .catch((error: unknown) => log.warn({ err: errorOf(error) }, 'change feed prune failed'))
      .then(() => pruneQuietDeltaRuns())
      .catch((error: unknown) => log.warn({ err: errorOf(error) }, 'quiet delta runs prune failed'))
      .finally(() => (reaping = undefined));
    return reaping;
  };
  const reaperTimer = setInterval(() => void reap(), settings.reaperIntervalMs);
  reaperTimer.unref();

  async function processJob(
    job: Job<SyncJobData, JobResult>,
    token: string | undefined,
    bullSignal: AbortSignal | undefined,
  ): Promise<JobResult> {
    const parsed = SyncJobData.safeParse(job.data);
    if (!parsed.success) {
      throw new UnrecoverableError(`INVALID_INPUT: job ${job.id} does not carry a valid sync request`);
    }
    const data = parsed.data;
    const found = await stores.tenants.ref(data.tenantId);
    if (!found) {
      if (data.runId) {
        await runs.endQueued(data.runId, {
          status: 'failed',
          error: {
            code: 'NOT_FOUND',
            message: `Tenant ${data.tenantId} does not exist (deleted after the sync was queued); nothing to sync.`,
          },
        });
        options.onRunsEnded?.();
      }
      throw new UnrecoverableError(
        `NOT_FOUND: tenant ${data.tenantId} does not exist (deleted after the sync was queued); nothing to sync.`,
      );
    }

    const tenant = { id: data.tenantId, hierarchy: found.hierarchy };
    const lease = await leases.acquire(tenant.id, `${workerId}/${job.id}`, settings.leaseTtlMs);
    if (!lease) {
      // Another run of this tenant holds the lease (a job that bypassed de-duplication, or a stalled
      // worker not yet expired): come back later. Moving to delayed does not use an attempt.
      jobLogger(log, job, data).info('tenant lease held by another run; job delayed');
      metrics.leaseConflict();
      await job.moveToDelayed(Date.now() + spread(settings.leaseRetryMs), token);
      throw new DelayedError();
    }
    return runUnderLease(job, token, bullSignal, data, tenant, lease);
  }

  async function runUnderLease(
    job: Job<SyncJobData, JobResult>,
    token: string | undefined,
    bullSignal: AbortSignal | undefined,
    data: SyncJobData,
    tenant: { id: string; hierarchy: string },
    initialLease: Lease,
  ): Promise<JobResult> {
    const started = Date.now();
    const controller = new AbortController();
    let abortReason: string | undefined;
    const abort = (reason: string) => {
      if (controller.signal.aborted) return;
      abortReason = reason;
      controller.abort(new SyncError('CANCELLED', `The sync run was cancelled (${reason}).`));
    };
    // A cancelled run gets a short while to stop; then the job moves on without it (a processor stuck
    // in a hung MongoDB operation must not keep the job active: the follow-up could never run).
    const stopMarginMs = Math.max(50, Math.floor(settings.leaseTtlMs / 6));
    const abandonedAfterAbort = () =>
      new Promise<never>((_, reject) => {
        const giveUp = () =>
          setTimeout(
            () =>
              reject(
                new SyncError(
                  'CANCELLED',
                  `The sync run was cancelled (${abortReason}) and did not stop within ${stopMarginMs} ms; it was abandoned (it writes nothing more).`,
                ),
              ),
            stopMarginMs,
          ).unref();
        if (controller.signal.aborted) giveUp();
        else controller.signal.addEventListener('abort', giveUp, { once: true });
      });
    if (bullSignal?.aborted) abort(String(bullSignal.reason ?? SHUTDOWN));
    bullSignal?.addEventListener('abort', () => abort(String(bullSignal.reason ?? SHUTDOWN)), { once: true });

    // Renews the lease and reads cancel requests until the run ends (workers/lease-keeper.ts).
    const keeper = keepLease({
      leases,
      runs,
      lease: initialLease,
      ttlMs: settings.leaseTtlMs,
      tickMs: stopMarginMs,
      signal: controller.signal,
      stop: abort,
      // The run's id, job and tenant on each line (the run record is claimed after the keeper starts).
      logger: jobLogger(log, job, data),
    });

    const attempt = job.attemptsStarted || job.attemptsMade + 1;
    let run: Awaited<ReturnType<SyncRunStore['start']>>;
    try {
      await runs.abandonStale(String(job.id), tenant.id);
      run = await runs.start({
        tenantId: tenant.id,
        hierarchy: tenant.hierarchy,
        trigger: data.trigger,
        requestedBy: data.requestedBy,
        jobId: String(job.id),
        attempt,
        worker: workerId,
        ...(data.kinds ? { kindsRequested: data.kinds } : {}),
        ...(data.mode ? { mode: data.mode } : {}),
        ...(data.runId ? { runId: data.runId } : {}),
      });
    } catch (error) {
      // MongoDB refused the run's record: nothing ran; stop keeping the lease and let the job retry.
      const lease = keeper.stop();
      if (lease)
        await leases
          .release(lease)
          .catch(ignoreBecause("the lease lapses by itself; the job's retry waits for it", log));
      throw error;
    }
    keeper.watchCancel(run.id);
    // Requests of this tenant that this run makes moot (a follow-up replaced by a later one) end now.
    void reap({ tenantId: tenant.id });
    const runLog = log.child({ runId: run.id, jobId: job.id, tenantId: tenant.id });
    const ctx = createRunContext({
      runId: run.id,
      tenant,
      ...(data.kinds ? { kinds: data.kinds } : {}),
      ...(data.mode ? { mode: data.mode } : {}),
      fence: leases.fence(initialLease, settings.leaseTtlMs),
      cancelled: () => (controller.signal.aborted ? String(abortReason) : undefined),
      stores,
      progress: (p) => job.updateProgress(p),
      logger: runLog,
    });
    runLog.info({ attempt, trigger: data.trigger, mode: data.mode ?? 'full' }, 'sync run started');
    const observeRun: typeof metrics.observe = (status, ...rest) => {
      metrics.observe(status, ...rest);
      if (data.mode === 'delta') deltaMetrics().run(status);
    };

    // The kinds of a run whose every kind failed, or that an operator cancelled: recorded with its end,
    // as a finished run's are (FerretDB applies concurrent recordKind updates of one document
    // non-atomically, so one may be lost).
    let failedKinds: Record<string, KindResult> | undefined;
    try {
      const processing = options.processor(job, controller.signal, ctx);
      processing.catch(
        ignoreBecause(
          'heard by the race below; after an abandoned run, a late failure has no one else to hear it',
          runLog,
        ),
      );
      const summary = await Promise.race([processing, abandonedAfterAbort()]);
      const status = runStatusOf(summary);
      const durationMs = Date.now() - started;
      if (keeper.cancelledBy !== undefined) {
        // Kinds that finished before the cancel keep their results; the run as a whole is cancelled.
        failedKinds = summary.kinds;
        throw new SyncError('CANCELLED', `The sync run was cancelled by ${keeper.cancelledBy}.`);
      }
      if (status === 'failed' && Object.keys(summary.kinds).length > 0) {
        failedKinds = summary.kinds;
        const error = firstKindError(summary) ?? { code: 'TRANSIENT', message: 'every kind failed' };
        throw new SyncError(error.code as SyncError['code'], error.message, {
          retryable: summary.retryable ?? false,
        });
      }
      const quiet = data.mode === 'delta' && status === 'succeeded' && changedNothing(summary);
      await runs.finish(run.id, { status, kinds: summary.kinds, ...(quiet ? { quiet } : {}) });
      observeRun(status, durationMs, summary, firstKindError(summary)?.code);
      runLog.info({ status, durationMs }, 'sync run finished');
      // The job's return value lives in Redis: the run record keeps a held sweep's full id list, the
      // job only its counts and sample.
      return {
        ...summary,
        kinds: withoutHeldIds(summary.kinds),
        runId: run.id,
        tenantId: tenant.id,
        status,
        durationMs,
      };
    } catch (error) {
      const durationMs = Date.now() - started;
      const runError: RunError = keeper.leaseLost
        ? { code: 'LEASE_LOST', message: 'The run lost its tenant lease to a newer run and stopped writing.' }
        : keeper.cancelledBy !== undefined
          ? {
              code: 'CANCELLED',
              message: `Cancelled by ${keeper.cancelledBy} while running; it stopped writing and swept nothing more.`,
            }
          : abortReason === LEASE_LAPSING
            ? {
                code: 'LEASE_LAPSING',
                message:
                  'The run could not renew its tenant lease (MongoDB did not answer) and stopped before the lease lapsed; the job is tried again.',
              }
            : errorOf(error);
      // The record's end is written when MongoDB lets us; if it does not, the reaper ends the record
      // once the job is no longer active and this run's lease has lapsed.
      const finish = (outcome: Parameters<SyncRunStore['finish']>[1]) =>
        runs.finish(run.id, outcome).catch((finishError: unknown) => {
          unrecordedEnds.set(run.id, { ...outcome, endedAt: new Date(started + durationMs) });
          runLog.warn(
            { err: errorOf(finishError) },
            'could not record the end of the run; trying again before each reaper pass',
          );
        });
      if (controller.signal.aborted) {
        // A run cancelled by the shutdown is handed back and runs again: its record says so.
        const handedBack = abortReason === SHUTDOWN ? { willRetry: true } : {};
        await within(
          finish({
            status: 'cancelled',
            error: runError,
            ...handedBack,
            ...(failedKinds ? { kinds: failedKinds } : {}),
          }),
          stopMarginMs,
        );
        observeRun('cancelled', durationMs, failedKinds && { kinds: failedKinds }, runError.code);
        runLog.warn({ reason: abortReason, error: runError }, 'sync run cancelled');
        if (abortReason === SHUTDOWN) {
          // Hand the job back untouched: it waits for the next worker, without using an attempt.
          await job.moveToDelayed(Date.now(), token);
          throw new DelayedError();
        }
        // An operator's cancel is final: no retry (a kept follow-up request still runs after it).
        if (keeper.cancelledBy !== undefined)
          throw new UnrecoverableError(`${runError.code}: ${runError.message}`);
        throw error instanceof Error ? error : new Error(String(error));
      }
      const retryable = error instanceof SyncError ? error.retryable : true;
      const willRetry = retryable && job.attemptsMade + 1 < (job.opts.attempts ?? queueSettings.attempts);
      await within(
        finish({
          status: 'failed',
          error: runError,
          willRetry,
          ...(failedKinds ? { kinds: failedKinds } : {}),
        }),
        stopMarginMs,
      );
      // The kinds' own outcomes count too (a run whose every kind failed is still three kind failures).
      observeRun('failed', durationMs, failedKinds && { kinds: failedKinds }, runError.code);
      if (willRetry) metrics.retry();
      runLog.warn({ error: runError, willRetry }, 'sync run failed');
      if (!retryable) throw new UnrecoverableError(`${runError.code}: ${runError.message}`);
      throw error instanceof Error ? error : new Error(String(error));
    } finally {
      const lease = keeper.stop();
      // Releasing after the processor returned (or was abandoned: its fence refuses) is safe: this run
      // writes nothing more. Bounded, like the record's end: a MongoDB that hangs must not keep the job.
      if (lease) await within(leases.release(lease), stopMarginMs);
      options.onRunsEnded?.();
    }
  }

  const worker = new Worker<SyncJobData, JobResult>(SYNC_QUEUE, processJob, {
    connection: workerConnection(options.redis),
    prefix: options.redis.prefix,
    concurrency: settings.concurrency,
    lockDuration: settings.lockDurationMs,
    stalledInterval: settings.stalledIntervalMs,
    maxStalledCount: settings.maxStalledCount,
    name: workerId,
  });
  worker.on('error', (error) => log.error({ err: errorOf(error) }, 'sync worker error'));
  worker.on('lockRenewalFailed', (jobIds: string[]) => {
    // Another worker may now take these jobs: stop writing at once.
    for (const id of jobIds) worker.cancelJob(id, LOCK_LOST);
    log.warn({ jobIds }, 'lock renewal failed; runs cancelled');
  });
  worker.on('stalled', (jobId) => {
    metrics.stalled();
    log.warn({ jobId }, 'stalled job returned to the queue');
  });

  const triggerWorker =
    options.triggers === false
      ? undefined
      : startTriggerWorker(options.redis, log, stores, {
          settings: queueSettings,
          ...(options.deltaEnabled !== undefined ? { deltaEnabled: options.deltaEnabled } : {}),
        });
  await worker.waitUntilReady();

  let closed: Promise<void> | undefined;
  async function close(graceMs = settings.shutdownGraceMs): Promise<void> {
    closed ??= (async () => {
      closing = true;
      const finished = worker.close();
      const inTime = await Promise.race([
        finished.then(() => true),
        new Promise<boolean>((resolve) => setTimeout(resolve, graceMs, false).unref()),
      ]);
      if (!inTime) {
        log.warn({ graceMs }, 'shutdown grace time over; cancelling active runs');
        worker.cancelAllJobs(SHUTDOWN);
        const released = await Promise.race([
          finished.then(() => true),
          new Promise<boolean>((resolve) => setTimeout(resolve, 5000, false).unref()),
        ]);
        if (!released) await worker.close(true);
      }
      await triggerWorker?.close();
      clearInterval(reaperTimer);
      await reaping;
      await reaperQueue.close();
    })();
    return closed;
  }

  return {
    workerId,
    worker,
    isRunning: () => !closing && worker.isRunning(),
    close,
  };
}

/** Stops the worker on SIGTERM / SIGINT (a second signal exits at once). */
export function closeOnSignals(target: { close(): Promise<void> }, log: Logger = defaultLogger): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, 'stopping: no new jobs, finishing active runs');
    target.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: errorOf(error) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

/**
 * The logger of one job's lines before its run is claimed: its run id (the job's request), job and
 * tenant bound once, so no line of a run lacks them and none repeats them.
 */
function jobLogger(log: Logger, job: Job<SyncJobData, JobResult>, data: SyncJobData): Logger {
  return log.child({ ...(data.runId ? { runId: data.runId } : {}), jobId: job.id, tenantId: data.tenantId });
}
