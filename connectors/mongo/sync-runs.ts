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
import { gated, updating, writeLimitsFor } from './write-limits.js';
import { ObjectId, type Collection, type Db } from 'mongodb';
import type { KindResult, NewRun, RunError, RunStatus, SyncRun } from '../../domain/sync-run.js';
import { isDuplicateKey } from './duplicate-key.js';
import { ignoreBecause } from '../../domain/ignored-failure.js';
import { readSummaries, recordRunEnd, runSummaries, type TenantRunSummary } from './run-summaries.js';
import { addCancelRequest, cancelRequests, readCancelRequests } from './cancel-requests.js';

interface SyncRunDocument extends Omit<SyncRun, 'id'> {
  _id: ObjectId;
}

function toRun({ _id, ...rest }: SyncRunDocument): SyncRun {
  return { id: _id.toHexString(), ...rest };
}

export class SyncRunStore {
  readonly collection: Collection<SyncRunDocument>;

  /** Each tenant's newest ended run and last success (run-summaries.ts), written as runs end. */
  private readonly summaryCollection: ReturnType<typeof runSummaries>;

  /** Operators' cancel requests, each a document of its own (cancel-requests.ts says why). */
  private readonly cancelCollection: ReturnType<typeof cancelRequests>;

  constructor(private readonly db: Db) {
    this.collection = db.collection<SyncRunDocument>('sync_runs');
    this.summaryCollection = runSummaries(db);
    this.cancelCollection = cancelRequests(db);
  }

  /**
   * An update of run records, within the process's update gate on FerretDB (write-limits.ts): a burst
   * of API requests merging into waiting jobs must not put fifty updates in flight and wedge it.
   */
  private async updating<T>(update: () => Promise<T>): Promise<T> {
    return updating(await writeLimitsFor(this.db), update);
  }

  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex({ tenantId: 1, _id: -1 }, { name: 'tenant_newest' });
    await this.collection.createIndex({ jobId: 1, status: 1 }, { name: 'job_status' });
    await this.collection.createIndex({ status: 1 }, { name: 'status' });
    await this.collection.createIndex({ endedAt: 1 }, { name: 'ended' });
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

  /**
   * Ends a record still `queued` (nobody started it): merged into another run, or failed/cancelled
   * with its reason. False if it was not queued any more (a worker claimed it first).
   */
  async endQueued(
    runId: string,
    outcome: {
      status: 'merged' | 'failed' | 'cancelled';
      error?: RunError;
      mergedInto?: string;
      enqueueOutcome?: SyncRun['enqueueOutcome'];
    },
  ): Promise<boolean> {
    const result = await this.updating(() =>
      this.collection.updateOne(
        { _id: new ObjectId(runId), status: 'queued' },
        { $set: withoutUndefined({ ...outcome, endedAt: new Date() }) },
      ),
    );
    return result.modifiedCount === 1;
  }

  /**
   * Removes the records of delta runs that changed nothing and ended before `before`: at 5,000 tenants
   * every 15 minutes they are 480,000 a day, and a quiet round says nothing an operator needs a week
   * later (the latest stays in the list for `before` days; a delta run that changed something, failed
   * or was held stays as long as a full pull's). Returns how many were removed.
   */
  async pruneQuietDeltaRuns(before: Date): Promise<number> {
    const limits = await writeLimitsFor(this.db);
    return gated(
      limits,
      async () =>
        (await this.collection.deleteMany({ mode: 'delta', quiet: true, endedAt: { $lt: before } }))
          .deletedCount,
    );
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
      const claimed = await this.updating(() =>
        this.collection.findOneAndUpdate(
          { _id: new ObjectId(runId), status: 'queued' },
          { $set: fields },
          { returnDocument: 'after' },
        ),
      );
      if (claimed) return toRun(claimed);
      const doc: SyncRunDocument = { _id: new ObjectId(runId), ...fields, kinds: {} };
      try {
        await this.collection.insertOne(doc);
        return toRun(doc);
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
      }
    }
    const doc: SyncRunDocument = { _id: new ObjectId(), ...fields, kinds: {} };
    await this.collection.insertOne(doc);
    return toRun(doc);
  }

  /**
   * Earlier attempts of the job still marked running: their worker died or stalled (the caller holds the
   * tenant's lease, so they are not running any more). They become failed.
   *
   * Also counts the attempts of the job that have started (their records, the queued and merged
   * requests not counted), in the same round trip: the second update of the batch changes nothing
   * (it sets the job id it matched on) and is there for its count of matched records. The queue's own
   * counters are no measure: BullMQ counts a start that found the tenant's lease held and went back to
   * wait (`attemptsStarted`), and not a run handed back by a shutdown or lost with its worker
   * (`attemptsMade`).
   */
  async abandonStale(
    jobId: string,
    tenantId: string,
  ): Promise<{ abandoned: number; attemptsStarted: number }> {
    const result = await this.updating(() =>
      this.collection.bulkWrite(
        [
          {
            updateMany: {
              filter: { jobId, tenantId, status: 'running' },
              update: {
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
            },
          },
          {
            updateMany: {
              filter: { jobId, status: { $nin: ['queued', 'merged'] } },
              update: { $set: { jobId } },
            },
          },
        ],
        { ordered: true },
      ),
    );
    // The first update modifies every record it matches (running → failed); the second none.
    return { abandoned: result.modifiedCount, attemptsStarted: result.matchedCount - result.modifiedCount };
  }

  /**
   * Ends a run still `running` (its worker is gone: the reaper found its job not active and its lease
   * lapsed). False if it was not running any more.
   */
  async endRunning(runId: string, error: RunError): Promise<boolean> {
    const doc = await this.updating(() =>
      this.collection.findOneAndUpdate(
        { _id: new ObjectId(runId), status: 'running' },
        { $set: { status: 'failed', endedAt: new Date(), error } },
        { returnDocument: 'after' },
      ),
    );
    if (doc) await this.summarise(toRun(doc));
    return doc !== null;
  }

  /**
   * Asks the worker running (or about to run) this record to stop: the lease keeper reads the request
   * at each tick. False when the run is neither queued nor running any more. The request is not
   * written on the record, which its worker may be writing this very moment (cancel-requests.ts).
   */
  async requestCancel(runId: string, by: string): Promise<boolean> {
    if (!ObjectId.isValid(runId)) return false;
    const _id = new ObjectId(runId);
    const active = await this.collection.findOne(
      { _id, status: { $in: ['queued', 'running'] } },
      { projection: { _id: 1 } },
    );
    if (!active) return false;
    await addCancelRequest(this.cancelCollection, _id, by);
    return true;
  }

  /** Who asked to cancel the run, if anyone (read by the worker's lease keeper). */
  async cancelRequest(runId: string): Promise<SyncRun['cancelRequested']> {
    return (await readCancelRequests(this.cancelCollection, [new ObjectId(runId)])).get(runId);
  }

  /** The runs with the cancel requests made of them (`cancelRequested`). */
  private async withCancelRequests(docs: SyncRunDocument[]): Promise<SyncRun[]> {
    const requests = await readCancelRequests(
      this.cancelCollection,
      docs.map((doc) => doc._id),
    );
    return docs.map((doc) => {
      const run = toRun(doc);
      const request = requests.get(run.id);
      return request ? { ...run, cancelRequested: request } : run;
    });
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
    await this.updating(() =>
      this.collection.updateOne(
        { _id: new ObjectId(runId) },
        { $set: { [`kinds.${kind}`]: withoutUndefined(result) } },
      ),
    );
  }

  async finish(
    runId: string,
    outcome: {
      status: Exclude<RunStatus, 'queued' | 'running'>;
      kinds?: Record<string, KindResult>;
      error?: RunError;
      willRetry?: boolean;
      /** When the run ended, if not now (an end recorded late, once MongoDB answers again). */
      endedAt?: Date;
      /** A delta run that changed nothing: its record is kept a shorter time (pruneQuietDeltaRuns). */
      quiet?: boolean;
    },
  ): Promise<SyncRun | null> {
    const set: Partial<SyncRunDocument> = { status: outcome.status, endedAt: outcome.endedAt ?? new Date() };
    if (outcome.quiet) set.quiet = true;
    if (outcome.kinds) set.kinds = outcome.kinds;
    if (outcome.error) set.error = outcome.error;
    if (outcome.willRetry !== undefined) set.willRetry = outcome.willRetry;
    const doc = await this.updating(() =>
      this.collection.findOneAndUpdate(
        { _id: new ObjectId(runId) },
        { $set: withoutUndefined(set) },
        { returnDocument: 'after' },
      ),
    );
    if (!doc) return null;
    const run = toRun(doc);
    await this.summarise(run);
    return run;
  }

  /**
   * The run is its tenant's newest ended one (unless a newer one ended first): one upsert per run.
   * A derived view: its failure must not turn a recorded end into a failed one (the record is the
   * truth; the summary catches up at the tenant's next run end).
   */
  private async summarise(run: SyncRun): Promise<void> {
    await this.updating(() => recordRunEnd(this.summaryCollection, run)).catch(
      ignoreBecause("the run's record is written; its tenant's summary catches up at the next run end"),
    );
  }

  /**
   * Each tenant's newest ended run and last success (of these tenants; of all, without ids), in one
   * query of one small document per tenant: what the console's fleet page reads.
   */
  async summaries(tenantIds?: readonly string[]): Promise<Map<string, TenantRunSummary>> {
    return readSummaries(this.summaryCollection, tenantIds);
  }

  /**
   * Writes the summary of a tenant whose runs ended before summaries were kept (two indexed reads);
   * undefined when it has no ended run.
   */
  async backfillSummary(tenantId: string): Promise<TenantRunSummary | undefined> {
    const [last] = await this.collection
      .find({ tenantId, status: { $in: ['succeeded', 'partial', 'needs_review', 'failed', 'cancelled'] } })
      .sort({ _id: -1 })
      .limit(1)
      .toArray();
    if (!last) return undefined;
    const success = await this.lastSucceededAt(tenantId);
    await this.summarise(toRun(last));
    if (success && last.status !== 'succeeded')
      await this.updating(() =>
        this.summaryCollection.updateOne(
          { _id: tenantId, lastSuccessAt: { $exists: false } },
          { $set: { lastSuccessAt: success } },
        ),
      );
    return (await this.summaries([tenantId])).get(tenantId);
  }

  /** The tenants with a run waiting for a worker and those with one running (two equality reads). */
  async activeTenants(): Promise<{ queued: Set<string>; running: Map<string, string> }> {
    const read = (status: RunStatus) =>
      this.collection.find({ status }, { projection: { tenantId: 1, status: 1 } }).toArray();
    const [queued, running] = await Promise.all([read('queued'), read('running')]);
    return {
      queued: new Set(queued.map((d) => d.tenantId)),
      running: new Map(running.map((d) => [d.tenantId, d._id.toHexString()])),
    };
  }

  /**
   * The webhook outbox: runs that ended with an outcome a webhook announces, since `since`, that no
   * dispatch pass has queued yet (`webhooksQueuedAt`); not a failed attempt the queue tries again
   * (its retry ends on its own), oldest end first.
   */
  async endedUnannounced(statuses: readonly RunStatus[], since: Date, limit: number): Promise<SyncRun[]> {
    const docs = await this.collection
      .find({
        status: { $in: [...statuses] },
        endedAt: { $gte: since },
        willRetry: { $ne: true },
        webhooksQueuedAt: { $exists: false },
      })
      .sort({ endedAt: 1 })
      .limit(limit)
      .toArray();
    return docs.map(toRun);
  }

  /** Marks runs whose webhook deliveries are queued. */
  async markAnnounced(runIds: readonly string[]): Promise<void> {
    await this.updating(() =>
      this.collection.updateMany(
        { _id: { $in: runIds.map((id) => new ObjectId(id)) } },
        { $set: { webhooksQueuedAt: new Date() } },
      ),
    );
  }

  async get(runId: string): Promise<SyncRun | null> {
    if (!ObjectId.isValid(runId)) return null;
    const doc = await this.collection.findOne({ _id: new ObjectId(runId) });
    return doc ? (await this.withCancelRequests([doc]))[0]! : null;
  }

  /** When the tenant's newest succeeded run ended (through the (tenantId, _id) index); undefined if none. */
  async lastSucceededAt(tenantId: string): Promise<Date | undefined> {
    const run = await this.collection.findOne(
      { tenantId, status: 'succeeded' },
      { sort: { _id: -1 }, projection: { endedAt: 1 } },
    );
    return run?.endedAt;
  }

  /** Runs newest first, optionally of one tenant (or of some: an API caller's scope), one job or one status. */
  /**
   * The tenant's newest runs that ended with a verdict on their kinds, newest first: not queued,
   * running, merged or cancelled, and not a failed attempt the queue tries again (one night's retries
   * count once). What failure streaks are read from (domain/failure-streaks.ts): `limit` such runs,
   * however many retries and merged requests lie between them.
   */
  async newestVerdicts(tenantId: string, limit: number): Promise<SyncRun[]> {
    const docs = await this.collection
      .find({
        tenantId,
        status: { $in: ['succeeded', 'partial', 'needs_review', 'failed'] },
        willRetry: { $ne: true },
      })
      .sort({ _id: -1 })
      .limit(limit)
      .toArray();
    return docs.map(toRun);
  }

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
    return this.withCancelRequests(docs);
  }
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
