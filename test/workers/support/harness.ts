/** Set-up shared by the engine's tests: a tenant document, worker settings fit for seconds-long tests. */
import { ObjectId, type Db } from 'mongodb';
import type { Queue } from 'bullmq';
import { createLogger } from '../../../observability/logger.js';
import type { SourceThresholds } from '../../../domain/delete-protection.js';
import type { SyncQueueSettings } from '../../../queues/sync-queue.js';
import { DEFAULT_SETTINGS, type Settings } from '../../../domain/settings.js';
import {
  startWorkerWithUpkeep,
  type StartWorkerOptions,
  type SyncWorker,
  type WorkerSettings,
} from '../../../workers/worker.js';
import type { LogEntry } from './test-processor.js';

export const quietLogger = createLogger({ level: 'silent' });

export const fastWorker: Partial<WorkerSettings> = {
  concurrency: 2,
  lockDurationMs: 1000,
  stalledIntervalMs: 1000,
  // Long enough that a loaded machine (CI: two cores, FerretDB busy with other files' writes) cannot
  // make a renewal late and the run cancel itself ("lease about to lapse"): a 1 s lease did, now and
  // then. Tests of lapsed leases and zombies set their own, shorter one.
  leaseTtlMs: 5000,
  leaseClockSkewMs: 0,
  leaseRetryMs: 200,
  shutdownGraceMs: 1000,
};

/**
 * Delete thresholds for workers that run the test processor: its guarded sweep deletes whatever its
 * run did not see (what the engine's tests check), as mass-delete protection switched off would.
 */
export const sweepFreely: SourceThresholds = { graph: { percent: 100 } };

export const fastQueue: SyncQueueSettings = {
  attempts: 2,
  backoffDelayMs: 100,
  keepCompleted: { age: 3600, count: 100 },
  keepFailed: { age: 3600, count: 100 },
};

/** Process settings whose sync jobs retry as fastQueue's do: for operations (deps.settings). */
export const fastSettings: Settings = {
  ...DEFAULT_SETTINGS,
  SYNC_ATTEMPTS: 2,
  SYNC_BACKOFF_MS: 100,
  SYNC_KEEP_COMPLETED_JOBS: 100,
  SYNC_KEEP_FAILED_JOBS: 100,
};

/**
 * A worker as a worker process starts it (startWorker, then its upkeep's timed passes): what the
 * engine's tests run. A test of the worker without its upkeep's passes calls startWorker.
 */
export function startTestWorker(options: StartWorkerOptions): Promise<SyncWorker> {
  return startWorkerWithUpkeep(options);
}

export async function addTenant(db: Db, hierarchy = 'provider.customer'): Promise<string> {
  const id = new ObjectId();
  await db
    .collection('tenants')
    .insertOne({ _id: id, hierarchy, Tenant: { name: `tenant ${id.toHexString()}` } });
  return id.toHexString();
}

// Waiting on state lives with the other shared test support; re-exported for the engine's tests.
export { eventually } from '../../support/eventually.js';

export async function logOf(db: Db): Promise<LogEntry[]> {
  return db
    .collection<LogEntry>('test_log')
    .find({}, { projection: { _id: 0 } })
    .sort({ at: 1 })
    .toArray();
}

/** [start, end] of each run from the test log. */
export async function runIntervals(
  db: Db,
): Promise<{ runId: string; start: number; end: number; pid: number }[]> {
  const log = await logOf(db);
  const starts = log.filter((e) => e.event === 'start');
  return starts.map((s) => ({
    runId: s.runId,
    pid: s.pid,
    start: s.at,
    end: log.find((e) => e.event === 'end' && e.runId === s.runId)?.at ?? Number.POSITIVE_INFINITY,
  }));
}

/** Jobs by state; `waiting` counts every job waiting for a worker, prioritized (all sync jobs) or not. */
export async function jobCounts(queue: Queue): Promise<Record<string, number>> {
  const { prioritized = 0, ...counts } = await queue.getJobCounts(
    'active',
    'waiting',
    'prioritized',
    'delayed',
    'completed',
    'failed',
  );
  return { ...counts, waiting: (counts.waiting ?? 0) + prioritized };
}
