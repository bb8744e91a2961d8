/**
 * The change feed's store (docs/engine.md, "The change feed"): what each run created, updated (with
 * the top-level fields that changed) or deleted, one record per object, and one `baseline` marker per
 * kind for a kind's first complete pull.
 *
 * - `changes`: `{ _id: 'tenant:seq', tenantId, seq, runId, kind, externalId?, op, fields?, at }`.
 *   `seq` is the tenant's sequence number, handed out under the tenant's lease
 *   (change-recorder.ts): never a clock, because insert order is not commit order.
 * - `change_sequences`, one per tenant: `{ _id: tenantId, fence, next, committed, baselines }`.
 *   `next` is the next number to hand out; `committed` the high-water mark: every record up to it is
 *   written, so a reader reads only `seq <= committed` and its cursor never passes a record that is
 *   still being written. `baselines` maps each kind to the sequence number of its baseline marker.
 *   Written only by the lease holder; every write carries `fence <= token` like the other fenced
 *   writes (sweep-records.ts).
 *
 * Retention: records older than the retention are removed by a TTL index on `at` where the server has
 * them (MongoDB), and by `prune` (the worker's reaper timer, at most hourly) everywhere: FerretDB
 * v1.24 answers `expireAfterSeconds` with "not implemented yet".
 */
import type { Collection, Db } from 'mongodb';
import {
  encodeCursor,
  NO_RUN_CHANGES,
  type Change,
  type ChangeOp,
  type ChangeQuery,
  type RunChanges,
} from '../../domain/changes.js';
import { ChangeRecorder } from './change-recorder.js';
import type { WriteFence } from './leases.js';
import { gated, writeLimitsFor } from './write-limits.js';

export interface ChangeDocument {
  _id: string;
  tenantId: string;
  seq: number;
  runId: string;
  kind: string;
  externalId?: string;
  op: ChangeOp;
  fields?: string[];
  at: Date;
}

export interface ChangeSequenceDocument {
  _id: string;
  fence: number;
  next: number;
  committed: number;
  baselines: Record<string, number>;
}

export interface ChangePage {
  changes: Change[];
  /** Pass as `after` to read on: past the last change returned, or past everything committed. */
  cursor: string;
  /** Whether more committed changes may follow the cursor now. */
  more: boolean;
}

export const DEFAULT_CHANGES_RETENTION_DAYS = 30;
/** How often one process prunes expired records (FerretDB scans the collection for it). */
const PRUNE_EVERY_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

export function toChange(doc: ChangeDocument): Change {
  return {
    cursor: encodeCursor(doc.seq),
    runId: doc.runId,
    kind: doc.kind,
    ...(doc.externalId !== undefined ? { externalId: doc.externalId } : {}),
    op: doc.op,
    ...(doc.fields ? { fields: doc.fields } : {}),
    at: doc.at.toISOString(),
  };
}

export class ChangeStore {
  readonly records: Collection<ChangeDocument>;
  readonly sequences: Collection<ChangeSequenceDocument>;
  private prunedAt = 0;

  constructor(
    private readonly db: Db,
    readonly retentionDays = DEFAULT_CHANGES_RETENTION_DAYS,
  ) {
    this.records = db.collection<ChangeDocument>('changes');
    this.sequences = db.collection<ChangeSequenceDocument>('change_sequences');
  }

  /** Idempotent; call at start-up. The TTL index only where the server has TTL indexes (MongoDB). */
  async ensureIndexes(): Promise<void> {
    await this.records.createIndex({ tenantId: 1, seq: 1 }, { name: 'tenant_seq' });
    await this.records.createIndex({ runId: 1 }, { name: 'run' });
    if ((await writeLimitsFor(this.db)).server !== 'mongodb') return;
    const expireAfterSeconds = Math.round(this.retentionDays * 24 * 60 * 60);
    try {
      await this.records.createIndex({ at: 1 }, { name: 'at_ttl', expireAfterSeconds });
    } catch (error) {
      // IndexOptionsConflict: the retention setting changed since the index was made.
      if ((error as { code?: number }).code !== 85) throw error;
      await this.db.command({ collMod: 'changes', index: { name: 'at_ttl', expireAfterSeconds } });
    }
  }

  /** One run's recorder of one tenant's changes, behind the run's fence. */
  recorder(tenantId: string, runId: string, fence: WriteFence): ChangeRecorder {
    return new ChangeRecorder(this, tenantId, runId, fence, () => writeLimitsFor(this.db));
  }

  /** The tenant's high-water mark: every record up to it is written (0: none yet). */
  async committed(tenantId: string): Promise<number> {
    const doc = await this.sequences.findOne({ _id: tenantId }, { projection: { committed: 1 } });
    return doc?.committed ?? 0;
  }

  /**
   * One page of the tenant's committed changes after `query.after`, oldest first. Filtered pages
   * still move the cursor over what they passed: a reader that asks for one kind does not read the
   * other kinds' records again.
   */
  async page(tenantId: string, query: ChangeQuery): Promise<ChangePage> {
    const committed = await this.committed(tenantId);
    if (query.after >= committed)
      return { changes: [], cursor: encodeCursor(Math.max(query.after, committed)), more: false };
    return this.pageOf({ tenantId, seq: { $gt: query.after, $lte: committed } }, query, committed);
  }

  /** The committed changes one run recorded, oldest first. */
  async ofRun(tenantId: string, runId: string, query: ChangeQuery): Promise<ChangePage> {
    const committed = await this.committed(tenantId);
    const filter = { tenantId, runId, seq: { $gt: query.after, $lte: committed } };
    return this.pageOf(filter, query, Math.max(query.after, committed));
  }

  /**
   * The records of `filter` (narrowed to the query's kinds and operations), oldest first, one page;
   * the cursor stops at the page's last record when more follow, else at `done`.
   */
  private async pageOf(
    filter: Record<string, unknown>,
    query: ChangeQuery,
    done: number,
  ): Promise<ChangePage> {
    if (query.kinds) filter['kind'] = { $in: query.kinds };
    if (query.ops) filter['op'] = { $in: query.ops };
    const docs = await this.records
      .find(filter as never)
      .sort({ seq: 1 })
      .limit(query.limit + 1)
      .toArray();
    const more = docs.length > query.limit;
    const shown = docs.slice(0, query.limit);
    const through = more ? shown[shown.length - 1]!.seq : done;
    return { changes: shown.map(toChange), cursor: encodeCursor(through), more };
  }

  /**
   * Each run's change counts and cursor range, for the run-completion webhook. Streamed and counted
   * here: FerretDB v1.24 has no `$min`/`$max` accumulators.
   */
  async ofRuns(runIds: readonly string[]): Promise<Map<string, RunChanges>> {
    const out = new Map<string, RunChanges>();
    if (runIds.length === 0) return out;
    const ranges = new Map<string, { first: number; last: number }>();
    const cursor = this.records.find(
      { runId: { $in: [...runIds] } },
      { projection: { _id: 0, runId: 1, op: 1, seq: 1 }, batchSize: 5000 },
    );
    for await (const { runId, op, seq } of cursor) {
      const summary = out.get(runId) ?? { ...NO_RUN_CHANGES };
      summary[op] += 1;
      out.set(runId, summary);
      const range = ranges.get(runId);
      ranges.set(runId, {
        first: Math.min(seq, range?.first ?? seq),
        last: Math.max(seq, range?.last ?? seq),
      });
    }
    for (const [runId, { first, last }] of ranges) {
      const summary = out.get(runId)!;
      summary.after = encodeCursor(first - 1);
      summary.last = encodeCursor(last);
    }
    return out;
  }

  /**
   * Deletes the records older than the retention, at most once an hour per process unless `force`
   * (FerretDB has no TTL index and scans the collection for it). Returns how many were deleted.
   */
  async prune(now = new Date(), force = false): Promise<number> {
    if (!force && now.getTime() - this.prunedAt < PRUNE_EVERY_MS) return 0;
    this.prunedAt = now.getTime();
    const cutoff = new Date(now.getTime() - this.retentionDays * DAY_MS);
    const limits = await writeLimitsFor(this.db);
    return gated(limits, async () => (await this.records.deleteMany({ at: { $lt: cutoff } })).deletedCount);
  }

  /**
   * Forgets the baselines of purged kinds (under the purge's lease), so the next pull of each records
   * a new baseline marker: a reader that meets a second marker of a kind reads the kind in full again.
   * The records and the sequence stay: a reader's cursor goes on where it was.
   */
  async forgetBaselines(tenantId: string, kinds: readonly string[]): Promise<void> {
    const $unset = Object.fromEntries(kinds.map((kind) => [`baselines.${kind}`, '' as const]));
    await this.sequences.updateOne({ _id: tenantId }, { $unset });
  }
}
