/**
 * The contract between the worker process (workers/worker.ts) and the full pull (workers/full-pull.ts):
 * the worker takes a job, acquires the tenant's lease, records the run, and calls a SyncProcessor with
 * a RunContext; the processor returns the per-kind outcome.
 *
 * The context is narrow on purpose: every write and delete it offers goes through the run's fence
 * (workers/run-context.ts builds it), and it hands out no database, no store and no unguarded sweep,
 * so the fencing guarantee does not depend on a processor choosing not to bypass it. What a processor
 * needs besides (the tenant's secrets, its certificate, its kept state) it is given when it is made
 * (createFullPull's `stores`).
 */
import type { Logger } from 'pino';
import type { PageCounts, SealedDeltaState, StoredKeys, TenantRef } from '../connectors/mongo/index.js';
import type { SyncMode } from '../domain/delta.js';
import type { KindResult, RunStatus, RunSummary } from '../domain/sync-run.js';
import type { SyncProgress } from '../queues/sync-queue.js';
import type { SweepOutcome } from './steps/guarded-sweep.js';

export interface RunContext {
  /** The `sync_runs` id of this attempt; stamped on every document the run writes (`syncRunId`). */
  runId: string;
  /** The queue job the run belongs to, and which attempt of it this is (1 for the first). */
  jobId: string;
  attempt: number;
  /** Aborts when the run must stop (job lock lost, lease lost or lapsing, shutdown, operator's cancel). */
  signal: AbortSignal;
  /** The tenant's id and its place in the hierarchy, read when the run started. */
  tenant: TenantRef;
  /** Kinds asked for (undefined: the tenant's whole sync plan). */
  kinds?: string[];
  /** A delta run (workers/steps/delta-step.ts) or a full pull (undefined: full). */
  mode?: SyncMode;
  logger: Logger;
  /**
   * Writes one page of a kind through the run's writer of the kind (fenced); returns what the page
   * changed in the kind's counts (an object delivered again in the same run is not counted again).
   */
  writePage(kind: string, objects: readonly Record<string, unknown>[]): Promise<PageCounts>;
  /**
   * Sweeps a completed kind behind mass-delete protection: either deletes what the run did not see,
   * or holds the sweep back and says why (the kind then ends `needs_review`).
   */
  guardedSweep(kind: string): Promise<SweepOutcome>;
  /** Reports progress to the queue (`job.updateProgress`), for `sync --wait` and the API. */
  progress(progress: SyncProgress): Promise<void>;
  /** Records a kind's outcome in `sync_runs` as soon as it is known. */
  recordKind(kind: string, result: KindResult): Promise<void>;
  /**
   * Reads the kind's stored picture for the run's writer now (after raising the kind's read mark),
   * so the read overlaps the source's connect and first pages; a failure surfaces at the first write.
   */
  prepare(kind: string): Promise<void>;
  /** Whether this run has seen (written or confirmed) the object of the kind. */
  seen(kind: string, externalId: string): Promise<boolean>;
  /** The tenant's objects of a kind as stored now (a read of its own, not the run's picture). */
  stored(kind: string): Promise<StoredKeys>;
  /**
   * Delta rounds (workers/steps/delta-step.ts): the kind's writes in this run come from a round, so its
   * writer looks up only the stored objects the round names instead of reading every stored key (until
   * `prepare` asks for the whole picture: a round Graph refused, pulled in full instead).
   */
  namedOnly(kind: string): void;
  /** Delta rounds: the stored data of the objects named, by externalId. */
  storedData(kind: string, externalIds: readonly string[]): Promise<Map<string, Record<string, unknown>>>;
  /** A delta round was applied: every stored object stays but `removed` (swept at completion); how many of those are stored. */
  keepAllBut(kind: string, removed: ReadonlySet<string>): Promise<number>;
  /**
   * Saves where the kind's next delta round starts (connectors/mongo/delta-states.ts), behind the
   * run's fence; its link sealed by the processor, which holds the keys.
   */
  saveDeltaState(kind: string, state: SealedDeltaState): Promise<void>;
}

/** What a finished job returns (BullMQ `returnvalue`), and what `sync --wait` prints. */
export interface JobResult extends RunSummary {
  runId: string;
  tenantId: string;
  status: Exclude<RunStatus, 'queued' | 'running'>;
  durationMs: number;
}

/** The full pull. Must stop soon after `ctx.signal` aborts (lock lost, lease lost, shutdown). */
export type SyncProcessor = (ctx: RunContext) => Promise<RunSummary>;
