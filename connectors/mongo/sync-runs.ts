/**
 * The `sync_runs` collection: one document per attempt of a sync job (a retry or a recovery after a
 * crashed worker is a new run, with its own id stamped on the objects it writes).
 *
 * A request's record is written `queued` by the producer BEFORE the job is added, with an id the
 * producer chose; that id is also the BullMQ job id and travels in the job data (`runId`), so the
 * worker claims exactly that record (never by job id alone: job ids of a Redis that lost its data
 * would repeat). A request that BullMQ de-duplicated into another job ends `merged`, pointing at the
 * run that does its work (`mergedInto`). Records that no job will ever end are closed by the reaper
 * (workers/run-reaper.ts).
 */
import { ObjectId, type Collection, type Db } from 'mongodb';

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
  queuedAt?: Date;
  startedAt?: Date;
  endedAt?: Date;
  /** Which worker process ran it. */
  worker?: string;
  kinds: Record<string, KindResult>;
  error?: RunError;
  /** A failed run that the queue will try again. */
  willRetry?: boolean;
  /** What the queue did with the request (set by the producer once the job was added). */
  enqueueOutcome?: 'created' | 'joined-waiting' | 'follow-up';
  /** Status `merged`: the run (= job id) that does this request's work, when known. */
  mergedInto?: string;
  /** An operator asked to cancel the run (queues/run-cancellation.ts); its worker stops at its next check. */
  cancelRequested?: { by: string; at: Date };
}

interface SyncRunDocument extends Omit<SyncRun, 'id'> {
  _id: ObjectId;
}

/** What the worker knows of a run when it starts it. */
export type NewRun = Pick<
  SyncRun,
  'tenantId' | 'hierarchy' | 'trigger' | 'requestedBy' | 'jobId' | 'attempt' | 'kindsRequested'
> & { worker: string };

function toRun({ _id, ...rest }: SyncRunDocument): SyncRun {
  return { id: _id.toHexString(), ...rest };
}

export class SyncRuns {
  readonly collection: Collection<SyncRunDocument>;

  constructor(db: Db) {
    this.collection = db.collection<SyncRunDocument>('sync_runs');
  }

  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex({ tenantId: 1, _id: -1 }, { name: 'tenant_newest' });
    await this.collection.createIndex({ jobId: 1, status: 1 }, { name: 'job_status' });
    await this.collection.createIndex({ status: 1 }, { name: 'status' });
  }

  /**
   * A request before it is enqueued (written by the producer): `run.id` is the id the producer chose,
   * which becomes the job id.
   */
  async recordQueued(run: Omit<NewRun, 'attempt' | 'worker'> & { id: string }): Promise<SyncRun> {
    const { id, ...fields } = run;
    const doc: SyncRunDocument = {
      _id: new ObjectId(id),
      ...withoutUndefined(fields),
      attempt: 0,
      status: 'queued',
      queuedAt: new Date(),
      kinds: {},
    };
    await this.collection.insertOne(doc);
    return toRun(doc);
  }

  /** The producer records what the queue did with the request, once the add returned. */
  async recordEnqueued(runId: string, outcome: NonNullable<SyncRun['enqueueOutcome']>): Promise<void> {
    await this.collection.updateOne({ _id: new ObjectId(runId) }, { $set: { enqueueOutcome: outcome } });
  }

  /**
   * Ends a record still `queued` (nobody started it): merged into another run, or failed/cancelled
   * with its reason. False if it was not queued any more (a worker claimed it first).
   */
  async endQueued(
    runId: string,
    outcome: { status: 'merged' | 'failed' | 'cancelled'; error?: RunError; mergedInto?: string },
  ): Promise<boolean> {
    const result = await this.collection.updateOne(
      { _id: new ObjectId(runId), status: 'queued' },
      { $set: withoutUndefined({ ...outcome, endedAt: new Date() }) },
    );
    return result.modifiedCount === 1;
  }

  /**
   * A worker starts an attempt. The first attempt of a job claims the request's queued record
   * (`runId`, from the job data); a retry, a recovery, or a job without a record gets a new record
   * (with the id `runId` when no record has it yet).
   */
  async start(run: NewRun & { runId?: string }): Promise<SyncRun> {
    const { runId, ...rest } = run;
    const now = new Date();
    const fields = { ...withoutUndefined(rest), status: 'running' as const, startedAt: now };
    if (runId && ObjectId.isValid(runId)) {
      const claimed = await this.collection.findOneAndUpdate(
        { _id: new ObjectId(runId), status: 'queued' },
        { $set: fields },
        { returnDocument: 'after' },
      );
      if (claimed) return toRun(claimed);
      const doc: SyncRunDocument = { _id: new ObjectId(runId), ...fields, kinds: {} };
      try {
        await this.collection.insertOne(doc);
        return toRun(doc);
      } catch (error) {
        if ((error as { code?: unknown }).code !== 11000) throw error;
      }
    }
    const doc: SyncRunDocument = { _id: new ObjectId(), ...fields, kinds: {} };
    await this.collection.insertOne(doc);
    return toRun(doc);
  }

  /**
   * Earlier attempts of the job still marked running: their worker died or stalled (the caller holds the
   * tenant's lease, so they are not running any more). They become failed.
   */
  async abandonStale(jobId: string, tenantId: string): Promise<number> {
    const result = await this.collection.updateMany(
      { jobId, tenantId, status: 'running' },
      {
        $set: {
          status: 'failed',
          endedAt: new Date(),
          error: {
            code: 'WORKER_LOST',
            message:
              'The worker running this sync stopped before recording its end (crashed, was killed, stalled, or could not reach MongoDB); another attempt took the job over.',
          },
        },
      },
    );
    return result.modifiedCount;
  }

  /**
   * Ends a run still `running` (its worker is gone: the reaper found its job not active and its lease
   * lapsed). False if it was not running any more.
   */
  async endRunning(runId: string, error: RunError): Promise<boolean> {
    const result = await this.collection.updateOne(
      { _id: new ObjectId(runId), status: 'running' },
      { $set: { status: 'failed', endedAt: new Date(), error } },
    );
    return result.modifiedCount === 1;
  }

  /**
   * Asks the worker running (or about to run) this record to stop: the lease keeper reads it at each
   * tick. False when the run is neither queued nor running any more.
   */
  async requestCancel(runId: string, by: string): Promise<boolean> {
    if (!ObjectId.isValid(runId)) return false;
    const result = await this.collection.updateOne(
      { _id: new ObjectId(runId), status: { $in: ['queued', 'running'] } },
      { $set: { cancelRequested: { by, at: new Date() } } },
    );
    return result.matchedCount === 1;
  }

  /** Who asked to cancel the run, if anyone (read by the worker's lease keeper). */
  async cancelRequest(runId: string): Promise<SyncRun['cancelRequested']> {
    const doc = await this.collection.findOne(
      { _id: new ObjectId(runId) },
      { projection: { cancelRequested: 1 } },
    );
    return doc?.cancelRequested;
  }

  /** The tenant's newest run with one of these statuses (tenant status: running, last, last success). */
  async latest(tenantId: string, statuses: readonly RunStatus[]): Promise<SyncRun | null> {
    const doc = await this.collection
      .find({ tenantId, status: { $in: [...statuses] } })
      .sort({ _id: -1 })
      .limit(1)
      .next();
    return doc ? toRun(doc) : null;
  }

  async recordKind(runId: string, kind: string, result: KindResult): Promise<void> {
    await this.collection.updateOne(
      { _id: new ObjectId(runId) },
      { $set: { [`kinds.${kind}`]: withoutUndefined(result) } },
    );
  }

  async finish(
    runId: string,
    outcome: {
      status: Exclude<RunStatus, 'queued' | 'running'>;
      kinds?: Record<string, KindResult>;
      error?: RunError;
      willRetry?: boolean;
    },
  ): Promise<SyncRun | null> {
    const set: Partial<SyncRunDocument> = { status: outcome.status, endedAt: new Date() };
    if (outcome.kinds) set.kinds = outcome.kinds;
    if (outcome.error) set.error = outcome.error;
    if (outcome.willRetry !== undefined) set.willRetry = outcome.willRetry;
    const doc = await this.collection.findOneAndUpdate(
      { _id: new ObjectId(runId) },
      { $set: withoutUndefined(set) },
      { returnDocument: 'after' },
    );
    return doc ? toRun(doc) : null;
  }

  async get(runId: string): Promise<SyncRun | null> {
    if (!ObjectId.isValid(runId)) return null;
    const doc = await this.collection.findOne({ _id: new ObjectId(runId) });
    return doc ? toRun(doc) : null;
  }

  /** Runs newest first, optionally of one tenant (or of some: an API caller's scope), one job or one status. */
  async list(
    filter: {
      tenantId?: string;
      tenantIds?: string[];
      jobId?: string;
      status?: RunStatus;
      limit?: number;
    } = {},
  ): Promise<SyncRun[]> {
    const query: Record<string, unknown> = {};
    if (filter.tenantIds) query.tenantId = { $in: filter.tenantIds };
    if (filter.tenantId) query.tenantId = filter.tenantId;
    if (filter.jobId) query.jobId = filter.jobId;
    if (filter.status) query.status = filter.status;
    const docs = await this.collection
      .find(query)
      .sort({ _id: -1 })
      .limit(filter.limit ?? 50)
      .toArray();
    return docs.map(toRun);
  }
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** `m365sync runs list`: newest first. */
export function listRuns(
  db: Db,
  filter: { tenantId?: string; jobId?: string; status?: RunStatus; limit?: number } = {},
): Promise<SyncRun[]> {
  return new SyncRuns(db).list(filter);
}

/** `m365sync runs show <id>`. */
export function getRun(db: Db, runId: string): Promise<SyncRun | null> {
  return new SyncRuns(db).get(runId);
}
