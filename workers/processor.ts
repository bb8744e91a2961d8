/**
 * The contract between the worker process (workers/worker.ts) and the full pull (workers/full-pull.ts):
 * the worker takes a job, acquires the tenant's lease, records the run, and calls a SyncProcessor with
 * everything it needs to write safely; the processor returns the per-kind outcome.
 */
import type { Job } from 'bullmq';
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import type { ImportedObjectStore, PageCounts, TenantRef } from '../connectors/mongo/imported-objects.js';
import type { KindWriter } from '../connectors/mongo/kind-writer.js';
import type { WriteFence } from '../connectors/mongo/leases.js';
import type { SyncRunStore } from '../connectors/mongo/sync-runs.js';
import type { KindResult, RunStatus, RunSummary } from '../domain/sync-run.js';
import type { SyncJobData, SyncProgress } from '../queues/sync-queue.js';
import type { SweepOutcome } from './steps/guarded-sweep.js';

export interface RunContext {
  /** The `sync_runs` id of this attempt; stamped on every document the run writes (`syncRunId`). */
  runId: string;
  jobId: string;
  attempt: number;
  /** The tenant's id and its place in the hierarchy, read when the run started. */
  tenant: TenantRef;
  /** Kinds asked for (undefined: the tenant's whole sync plan). */
  kinds?: string[];
  /** The tenant lease's fence: pass it to every write and sweep. */
  fence: WriteFence;
  objects: ImportedObjectStore;
  runs: SyncRunStore;
  db: Db;
  logger: Logger;
  /** The run's writer of a kind (one per kind and run): what it stored, what the run saw. */
  writer(kind: string): KindWriter;
  /**
   * Writes one page of a kind through the kind's writer; returns what the page changed in the kind's
   * counts (an object delivered again in the same run is not counted again).
   */
  writePage(kind: string, objects: readonly Record<string, unknown>[]): Promise<PageCounts>;
  /** Sweeps a completed kind through its writer (unguarded). */
  sweep(kind: string): Promise<number>;
  /**
   * Sweeps a completed kind behind mass-delete protection: either deletes what the run did not see,
   * or holds the sweep back and says why (the kind then ends `needs_review`).
   */
  guardedSweep(kind: string): Promise<SweepOutcome>;
  /** Reports progress to the queue (`job.updateProgress`), for `sync --wait` and the API. */
  progress(progress: SyncProgress): Promise<void>;
  /** Records a kind's outcome in `sync_runs` as soon as it is known. */
  recordKind(kind: string, result: KindResult): Promise<void>;
}

/** What a finished job returns (BullMQ `returnvalue`), and what `sync --wait` prints. */
export interface JobResult extends RunSummary {
  runId: string;
  tenantId: string;
  status: Exclude<RunStatus, 'queued' | 'running'>;
  durationMs: number;
}

/** The full pull. Must stop soon after `signal` aborts (lock lost, lease lost, shutdown). */
export type SyncProcessor = (
  job: Job<SyncJobData>,
  signal: AbortSignal,
  ctx: RunContext,
) => Promise<RunSummary>;
