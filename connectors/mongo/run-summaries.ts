/**
 * One small document per tenant (collection `tenant_run_summaries`, `_id` = tenant id): its newest
 * ended run (id, status, mode, when, how long, the error code) and when its newest succeeded run
 * ended. Written once when a run ends (SyncRunStore.finish, endRunning), never while it runs, so a
 * fleet view of 5,000 tenants reads 5,000 small documents in one query instead of asking `sync_runs`
 * once per tenant (FerretDB serves no `$group` with `$first` from an index, and one query per tenant
 * is 5,000 round trips); and a run adds one upsert, not one per kind (FerretDB wedges with about
 * fifty updates in flight).
 *
 * A late end of an older run never overwrites a newer one: the upsert matches only a summary whose
 * run id is not newer (ObjectId hex grows with time), and a duplicate key on the upsert means a
 * newer run is there already.
 */
import type { Collection, Db } from 'mongodb';
import type { RunStatus, SyncRun } from '../../domain/sync-run.js';
import { isDuplicateKey } from './duplicate-key.js';

export const TENANT_RUN_SUMMARIES = 'tenant_run_summaries';

export interface TenantRunSummary {
  tenantId: string;
  lastRun?: {
    id: string;
    status: RunStatus;
    mode: 'full' | 'delta';
    startedAt?: Date;
    endedAt?: Date;
    errorCode?: string;
  };
  /** When the tenant's newest succeeded run ended. */
  lastSuccessAt?: Date;
}

interface SummaryDocument extends Omit<TenantRunSummary, 'tenantId'> {
  _id: string;
}

export function runSummaries(db: Db): Collection<SummaryDocument> {
  return db.collection<SummaryDocument>(TENANT_RUN_SUMMARIES);
}

/** Records an ended run as its tenant's newest (unless a newer one is recorded already). */
export async function recordRunEnd(collection: Collection<SummaryDocument>, run: SyncRun): Promise<void> {
  const lastRun = {
    id: run.id,
    status: run.status,
    mode: run.mode ?? 'full',
    ...(run.startedAt ? { startedAt: run.startedAt } : {}),
    ...(run.endedAt ? { endedAt: run.endedAt } : {}),
    ...(run.error ? { errorCode: run.error.code } : {}),
  };
  const set: Partial<SummaryDocument> = { lastRun };
  if (run.status === 'succeeded' && run.endedAt) set.lastSuccessAt = run.endedAt;
  try {
    await collection.updateOne(
      { _id: run.tenantId, $or: [{ 'lastRun.id': { $lte: run.id } }, { lastRun: { $exists: false } }] },
      { $set: set },
      { upsert: true },
    );
  } catch (error) {
    // A newer run's summary is there: this older end changes nothing of it.
    if (!isDuplicateKey(error)) throw error;
  }
}

/** The summaries of these tenants (all of them, without ids), by tenant id. */
export async function readSummaries(
  collection: Collection<SummaryDocument>,
  tenantIds?: readonly string[],
): Promise<Map<string, TenantRunSummary>> {
  const docs = await collection.find(tenantIds ? { _id: { $in: [...tenantIds] } } : {}).toArray();
  return new Map(docs.map(({ _id, ...rest }) => [_id, { tenantId: _id, ...rest }]));
}
