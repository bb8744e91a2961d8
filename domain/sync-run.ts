/**
 * A sync run as the engine records it (one `sync_runs` record per attempt): its statuses, the
 * outcome of each kind, and how a run's status follows from its kinds' outcomes. Pure types and
 * rules; the store is connectors/mongo/sync-runs.ts.
 */
import { SyncError } from './errors.js';

export const RUN_STATUSES = [
  'queued',
  'running',
  'succeeded',
  'partial',
  'needs_review',
  'failed',
  'cancelled',
  /** The request joined another job of the tenant (de-duplication); `mergedInto` names its run. */
  'merged',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export type SyncTrigger = 'schedule' | 'operator' | 'api' | 'cli' | 'purge';

export interface RunError {
  code: string;
  message: string;
}

export type KindStatus = 'succeeded' | 'needs_review' | 'failed' | 'cancelled' | 'skipped';

/**
 * A sweep held back by mass-delete protection: what it would have deleted and why it stopped. The
 * full list of externalIds is in `held_deletes` (sweep-records.ts); `ids` repeats it here when there
 * are at most MAX_RECORDED_IDS. Approval deletes those still unseen whose fence token is at most
 * `fence` (no later run has written them).
 */
export interface HeldDeletes {
  wouldDelete: number;
  /** Objects of the kind stored before the sweep (the run's upserts included). */
  stored: number;
  limit: number;
  /** `10 objects or 5 %, whichever is larger` */
  threshold: string;
  /** Where the threshold came from: default, global, hierarchy:<place>, tenant. */
  origin: string;
  /** Up to 20 externalIds, for an operator to look at. */
  sample: string[];
  fence: number;
  ids?: string[];
  approval?: { by: string; at: Date; deleted: number };
}

export interface KindResult {
  status: KindStatus;
  created: number;
  updated: number;
  unchanged: number;
  deleted: number;
  durationMs: number;
  error?: RunError;
  /** Set when the kind's sweep was held back (status `needs_review`) */
  held?: HeldDeletes;
  /** Teams users: how many matched an Entra user, how many did not, how many of those were skipped. */
  entraMatch?: { matched: number; unmatched: number; skipped: number };
  /** In a delta run: how the kind was synced (a delta round, or a full pull of the kind). */
  sync?: 'delta' | 'full';
  /** In a delta run: why the kind was pulled in full (docs/delta.md). */
  fallback?: { reason: string; message: string };
}

export interface SyncRun {
  id: string;
  tenantId: string;
  hierarchy: string;
  trigger: SyncTrigger;
  requestedBy: string;
  jobId: string;
  /** 1 for the first attempt of the job, 2 for its first retry or recovery, … */
  attempt: number;
  status: RunStatus;
  kindsRequested?: string[];
  /** `delta` for a delta run (docs/delta.md); absent for a full pull. */
  mode?: 'full' | 'delta';
  /** A delta run that changed nothing: its record is kept SYNC_DELTA_RUN_RETENTION_DAYS only. */
  quiet?: boolean;
  queuedAt?: Date;
  startedAt?: Date;
  endedAt?: Date;
  /** Which worker process ran it. */
  worker?: string;
  kinds: Record<string, KindResult>;
  error?: RunError;
  /** A failed run that the queue will try again (or one cancelled by a worker's shutdown and handed back). */
  willRetry?: boolean;
  /** When the webhook dispatcher queued this ended run's deliveries (workers/webhook-dispatcher.ts). */
  webhooksQueuedAt?: Date;
  /**
   * `joined-waiting` on a request BullMQ merged into a waiting job (set with `merged` by the producer).
   * A created or follow-up request's record is not written after the add (a worker may be claiming
   * it: queues/sync-queue.ts; the outcome goes to Redis for the reaper), so it carries none; records
   * of earlier versions may.
   */
  enqueueOutcome?: 'created' | 'joined-waiting' | 'follow-up';
  /** Status `merged`: the run (= job id) that does this request's work, when known. */
  mergedInto?: string;
  /** An operator asked to cancel the run (operations/cancel-run.ts); its worker stops at its next check. */
  cancelRequested?: { by: string; at: Date };
}

/** What the worker knows of a run when it starts it. */
export type NewRun = Pick<
  SyncRun,
  'tenantId' | 'hierarchy' | 'trigger' | 'requestedBy' | 'jobId' | 'attempt' | 'kindsRequested' | 'mode'
> & { worker: string };

export interface RunSummary {
  /** Outcome per kind the run attempted. */
  kinds: Record<string, KindResult>;
  /** When every kind failed: whether trying the whole run again may help. */
  retryable?: boolean;
}

/**
 * `failed` if no kind succeeded or was held, `partial` if some kinds failed (whether or not others
 * were held: a failure is what to look at first, and the held kinds are listed in the run either way),
 * `needs_review` if none failed but some sweep was held back by delete protection, else `succeeded`.
 */
export function runStatusOf(summary: RunSummary): 'succeeded' | 'partial' | 'needs_review' | 'failed' {
  const results = Object.values(summary.kinds);
  const failed = results.filter((r) => r.status === 'failed' || r.status === 'cancelled').length;
  const held = results.filter((r) => r.status === 'needs_review').length;
  if (failed === 0) return held > 0 ? 'needs_review' : 'succeeded';
  return failed === results.length ? 'failed' : 'partial';
}

/** Whether a run changed nothing (no kind created, updated or deleted anything). */
export function changedNothing(summary: RunSummary): boolean {
  return Object.values(summary.kinds).every((r) => r.created + r.updated + r.deleted === 0);
}

export function firstKindError(summary: RunSummary): RunError | undefined {
  return Object.values(summary.kinds).find((r) => r.error)?.error;
}

/** An error as a run record (and the worker's log) keeps it: a SyncError's code, else TRANSIENT. */
export function runErrorOf(error: unknown): RunError {
  if (error instanceof SyncError) return { code: error.code, message: error.message };
  return { code: 'TRANSIENT', message: error instanceof Error ? error.message : String(error) };
}
