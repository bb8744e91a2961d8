/**
 * The sync worker process: takes "tenant-sync" jobs and runs the full pull of one tenant per job.
 * It is BullMQ's side of a run; the run itself is a RunAttempt (workers/run-attempt.ts).
 *
 * - per job: checks the job data; a job whose tenant was deleted ends its request's record `failed`
 *   NOT_FOUND; acquires the tenant's MongoDB lease (a live lease held by another run puts the job back
 *   as delayed, without using an attempt); then one RunAttempt, whose outcome becomes the job's end:
 *   returned (completed), delayed untouched (handed back by the shutdown), UnrecoverableError (a
 *   failure that must not be retried, an operator's cancel) or rethrown (BullMQ retries with backoff);
 * - cancellation: the job's signal aborts the attempt when the BullMQ lock cannot be renewed
 *   (`lockRenewalFailed`) and at the end of the shutdown grace time; the attempt's lease keeper stops
 *   it for a lost or lapsing lease and an operator's cancel;
 * - the run upkeep (workers/run-upkeep.ts): the attempts tell it the run ends MongoDB refused and ask
 *   for a pass of their tenant; its timed passes (the run reaper, late run ends, retention) are started
 *   by the process that runs the worker (`startWorkerWithUpkeep`), as the trigger worker is;
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
import { DelayedError, UnrecoverableError, Worker, type Job, type RedisClient } from 'bullmq';
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../domain/clock.js';
import { DEFAULT_SETTINGS, type Settings } from '../domain/settings.js';
import { buildStores, type Stores, type TenantRef } from '../connectors/mongo/index.js';
import type { SourceThresholds } from '../domain/delete-protection.js';
import { runErrorOf as errorOf } from '../domain/sync-run.js';
import { jittered } from '../connectors/retry.js';
import { workerConnection, type RedisSettings } from '../queues/connection.js';
import {
  createSyncQueue,
  DEFAULT_QUEUE_SETTINGS,
  SYNC_QUEUE,
  SyncJobData,
  type SyncQueueSettings,
} from '../queues/sync-queue.js';
import { logger as defaultLogger } from '../observability/logger.js';
import type { JobResult, SyncProcessor } from './processor.js';
import { LOCK_LOST, RunAttempt, SHUTDOWN, type AttemptJob, type RunAttemptDeps } from './run-attempt.js';
import { REDIS_SILENT } from './run-error.js';
import { RunUpkeep } from './run-upkeep.js';
import { watchRedis, type RedisWatch } from './redis-watch.js';
import { syncMetrics, type SyncMetrics } from './metrics.js';

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
export function workerSettings(settings: Settings): WorkerSettings {
  return {
    concurrency: settings.SYNC_WORKER_CONCURRENCY,
    lockDurationMs: settings.SYNC_LOCK_DURATION_MS,
    stalledIntervalMs: settings.SYNC_STALLED_INTERVAL_MS,
    maxStalledCount: settings.SYNC_MAX_STALLED_COUNT,
    leaseTtlMs: settings.SYNC_LEASE_TTL_MS,
    leaseClockSkewMs: settings.SYNC_LEASE_CLOCK_SKEW_MS,
    leaseRetryMs: settings.SYNC_LEASE_RETRY_MS,
    shutdownGraceMs: settings.SYNC_SHUTDOWN_GRACE_MS,
    reaperIntervalMs: settings.SYNC_REAPER_INTERVAL_MS,
    enqueueGraceMs: settings.SYNC_ENQUEUE_GRACE_MS,
    changesRetentionDays: settings.M365SYNC_CHANGES_RETENTION_DAYS,
    deltaRunRetentionDays: settings.SYNC_DELTA_RUN_RETENTION_DAYS,
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
  /** Identifies this process in leases and run records; default host:pid:random. */
  workerId?: string;
  logger?: Logger;
  /** Told when run records ended here (a run, or the reaper's pass): webhooks queue their deliveries. */
  onRunsEnded?: () => void;
  /** Where the leases, the run attempts and the reaper read the time (default: the real time). */
  clock?: Clock;
}

export interface SyncWorker {
  readonly workerId: string;
  readonly worker: Worker<SyncJobData, JobResult>;
  /** The run upkeep the attempts use; its timed passes start with `upkeep.start()` (closed by close). */
  readonly upkeep: RunUpkeep;
  /** Health for the API: the worker is running and not shutting down. */
  isRunning(): boolean;
  /** Graceful stop within the grace time (default from settings); idempotent. */
  close(graceMs?: number): Promise<void>;
}

export async function startWorker(options: StartWorkerOptions): Promise<SyncWorker> {
  const settings = { ...DEFAULT_WORKER_SETTINGS, ...options.settings };
  const queueSettings = options.queueSettings ?? DEFAULT_QUEUE_SETTINGS;
  const log = options.logger ?? defaultLogger;
  const workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const clock = options.clock ?? systemClock;
  const stores = await workerStores(options.db, settings, options.deleteThresholds, clock);
  const metrics = syncMetrics();
  const reaperQueue = createSyncQueue(options.redis);
  const onRunsEnded = options.onRunsEnded ? { onRunsEnded: options.onRunsEnded } : {};
  const upkeep = new RunUpkeep({
    stores,
    queue: reaperQueue,
    ...settings,
    logger: log,
    ...onRunsEnded,
    clock,
  });
  const active: ActiveAttempts = new Set();
  const watch = redisWatch(active, options.redis.prefix, settings, log);
  const processJob = jobProcessor({
    attempt: {
      stores,
      processor: options.processor,
      workerId,
      leaseTtlMs: settings.leaseTtlMs,
      metrics,
      logger: log,
      upkeep,
      ...onRunsEnded,
      clock,
    },
    active,
    heardFromRedis: () => watch.answered(),
    settings,
    attempts: queueSettings.attempts,
    onRunsEnded: () => options.onRunsEnded?.(),
  });
  const worker = bullWorker(processJob, options.redis, settings, workerId, metrics, log);
  await worker.waitUntilReady();
  watch.attach(await worker.getBackend().client);

  let closing = false;
  let closed: Promise<void> | undefined;
  const close = (graceMs = settings.shutdownGraceMs) =>
    (closed ??= (async () => {
      closing = true;
      watch.stop();
      await closeWithin(worker, graceMs, log);
      await upkeep.close();
      await reaperQueue.close();
    })());
  return { workerId, worker, upkeep, isRunning: () => !closing && worker.isRunning(), close };
}

/**
 * A worker process's worker: startWorker, then its upkeep's timed passes (the `worker` command, the
 * in-process engine, the benchmarks' worker child). Only a caller that wants no timed passes (a test
 * of the worker alone) calls startWorker itself.
 */
export async function startWorkerWithUpkeep(options: StartWorkerOptions): Promise<SyncWorker> {
  const worker = await startWorker(options);
  worker.upkeep.start();
  return worker;
}

/** BullMQ's worker of the sync queue, its errors, lost locks and stalled jobs logged (and counted). */
function bullWorker(
  processJob: ReturnType<typeof jobProcessor>,
  redis: RedisSettings,
  settings: WorkerSettings,
  workerId: string,
  metrics: Pick<SyncMetrics, 'stalled'>,
  log: Logger,
): Worker<SyncJobData, JobResult> {
  const worker = new Worker<SyncJobData, JobResult>(SYNC_QUEUE, processJob, {
    connection: workerConnection(redis),
    prefix: redis.prefix,
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
  return worker;
}

/** The run bookkeeping's stores, their indexes ensured (no key: the processor decrypts with its own). */
async function workerStores(
  db: Db,
  settings: WorkerSettings,
  deleteThresholds: SourceThresholds | undefined,
  clock: Clock,
): Promise<Stores> {
  const stores = buildStores(db, undefined, {
    clock,
    ...(deleteThresholds ? { deleteThresholds } : {}),
    leaseClockSkewMs: settings.leaseClockSkewMs,
    changesRetentionDays: settings.changesRetentionDays,
  });
  await stores.objects.ensureIndexes();
  await stores.leases.ensureIndexes();
  await stores.runs.ensureIndexes();
  await stores.changes.ensureIndexes();
  return stores;
}

/** The attempts running in this worker. */
type ActiveAttempts = Set<RunAttempt>;

interface JobProcessorDeps {
  attempt: RunAttemptDeps;
  active: ActiveAttempts;
  /** The worker just fetched a job: Redis answered. */
  heardFromRedis(): void;
  settings: Pick<WorkerSettings, 'leaseTtlMs' | 'leaseRetryMs'>;
  /** The queue's attempts for a job that names none. */
  attempts: number;
  onRunsEnded(): void;
}

/** BullMQ's processor: one attempt under the tenant's lease, its outcome turned into the job's end. */
function jobProcessor(deps: JobProcessorDeps) {
  const { stores, logger: log, metrics, workerId } = deps.attempt;
  const { settings } = deps;

  /** The job's tenant; a job whose tenant was deleted ends its request's record and fails for good. */
  async function tenantOf(data: SyncJobData): Promise<TenantRef> {
    const found = await stores.tenants.ref(data.tenantId);
    if (found) return { id: data.tenantId, hierarchy: found.hierarchy };
    const why = `does not exist (deleted after the sync was queued); nothing to sync.`;
    if (data.runId) {
      const message = `Tenant ${data.tenantId} ${why}`;
      await stores.runs.endQueued(data.runId, { status: 'failed', error: { code: 'NOT_FOUND', message } });
      deps.onRunsEnded();
    }
    throw new UnrecoverableError(`NOT_FOUND: tenant ${data.tenantId} ${why}`);
  }

  return async (
    job: Job<SyncJobData, JobResult>,
    token: string | undefined,
    bullSignal: AbortSignal | undefined,
  ): Promise<JobResult> => {
    deps.heardFromRedis();
    const parsed = SyncJobData.safeParse(job.data);
    if (!parsed.success)
      throw new UnrecoverableError(`INVALID_INPUT: job ${job.id} does not carry a valid sync request`);
    const data = parsed.data;
    const tenant = await tenantOf(data);
    const lease = await stores.leases.acquire(tenant.id, `${workerId}/${job.id}`, settings.leaseTtlMs);
    if (!lease) {
      // Another run of this tenant holds the lease (a job that bypassed de-duplication, or a stalled
      // worker not yet expired): come back later. Moving to delayed does not use an attempt.
      const ids = { ...(data.runId ? { runId: data.runId } : {}), jobId: job.id, tenantId: data.tenantId };
      log.info(ids, 'tenant lease held by another run; job delayed');
      metrics.leaseConflict();
      await job.moveToDelayed(Date.now() + jittered(settings.leaseRetryMs), token);
      throw new DelayedError();
    }
    const attemptJob: AttemptJob = {
      id: String(job.id),
      retriesLeft: job.attemptsMade + 1 < (job.opts.attempts ?? deps.attempts),
      data,
      progress: (p) => job.updateProgress(p),
    };
    const attempt = new RunAttempt(deps.attempt, attemptJob, tenant, lease);
    const abort = () => attempt.abort(String(bullSignal?.reason ?? SHUTDOWN));
    if (bullSignal?.aborted) abort();
    bullSignal?.addEventListener('abort', abort, { once: true });
    deps.active.add(attempt);
    const outcome = await attempt.run().finally(() => deps.active.delete(attempt));
    switch (outcome.end) {
      case 'completed':
        return outcome.result;
      case 'handed-back':
        // Back to the queue untouched: it waits for the next worker, without using an attempt.
        await job.moveToDelayed(Date.now(), token);
        throw new DelayedError();
      case 'failed':
        if (outcome.final) throw new UnrecoverableError(outcome.message);
        throw outcome.error;
    }
  };
}

/**
 * The worker's own watch on Redis (workers/redis-watch.ts): pings a key of the queue (its slot, on
 * Redis Cluster) on the connection that extends the jobs' locks (attached once the worker is ready); silent for half the lock (it may
 * lapse that soon after the last answer), it stops the worker's runs, so they release their leases
 * and another worker can take the job. Not sooner: a busy worker's late answer must not stop its runs.
 */
function redisWatch(
  active: ActiveAttempts,
  prefix: string,
  settings: Pick<WorkerSettings, 'lockDurationMs'>,
  log: Logger,
): RedisWatch<RedisClient> {
  const everyMs = Math.max(100, Math.floor(settings.lockDurationMs / 10));
  return watchRedis({
    ping: (client: RedisClient) => client.get(`${prefix}:${SYNC_QUEUE}:stalled-check`),
    everyMs,
    silentLimitMs: Math.floor(settings.lockDurationMs / 2),
    onSilent: () => {
      for (const attempt of active) attempt.abort(REDIS_SILENT);
    },
    logger: log,
  });
}

/**
 * Graceful stop: no new jobs; active runs may finish within the grace time, then are cancelled and
 * handed back (their attempt ends `handed-back`); a worker that still does not close is forced.
 */
async function closeWithin(worker: Worker, graceMs: number, log: Logger): Promise<void> {
  const finished = worker.close();
  const inTime = await Promise.race([
    finished.then(() => true),
    new Promise<boolean>((resolve) => setTimeout(resolve, graceMs, false).unref()),
  ]);
  if (inTime) return;
  log.warn({ graceMs }, 'shutdown grace time over; cancelling active runs');
  worker.cancelAllJobs(SHUTDOWN);
  const released = await Promise.race([
    finished.then(() => true),
    new Promise<boolean>((resolve) => setTimeout(resolve, 5000, false).unref()),
  ]);
  // Forced: BullMQ's close(true) would hand back the close already pending, which waits for the runs.
  if (!released) {
    log.warn('active runs did not hand their jobs back within 5 s; disconnecting from Redis');
    await worker.disconnect();
  }
}

/**
 * Closes a part of the worker process that holds no run (the trigger worker, the webhooks) within
 * `ms`, else leaves it to the process's exit. Why: after a Redis Cluster failover BullMQ's close of an
 * idle worker was seen to wait for ever (the cluster suite: the trigger worker's close, in both worker
 * processes, in 2 of 5 runs, while the sync worker had closed in under 100 ms), which kept the process
 * past its termination grace until it was killed. Nothing is lost by not waiting: their jobs are
 * short, and one cut off is found stalled and run again.
 */
export async function closeAtMost(
  what: string,
  close: () => Promise<unknown>,
  ms: number,
  log: Logger,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    close().then(
      () => true,
      (error: unknown) => {
        log.warn({ what, err: errorOf(error) }, 'could not close; exiting without it');
        return true;
      },
    ),
    new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false))),
  ]);
  clearTimeout(timer);
  if (!closed)
    log.warn({ what, ms }, 'did not close in time (Redis may be failing over); exiting without it');
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
