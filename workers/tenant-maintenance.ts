/**
 * Operator actions that delete imported objects outside a sync: approving a sweep that delete
 * protection held back, and purging a tenant's data. Both take the tenant's lease first (so they
 * never race a running sync; a sync that starts afterwards carries a greater fence token) and both
 * are recorded in `sync_runs`.
 */
import { checkedActor } from '../domain/actor.js';
import { randomBytes } from 'node:crypto';
import type { Db } from 'mongodb';
import { ImportedObjects } from '../connectors/mongo/imported-objects.js';
import { LeaseStore, type Lease } from '../connectors/mongo/leases.js';
import { SweepRecords } from '../connectors/mongo/sweep-records.js';
import { SyncRuns } from '../connectors/mongo/sync-runs.js';
import type { KindResult, SyncRun } from '../domain/sync-run.js';
import { ENTITY_KIND_NAMES } from '../domain/entity-kinds.js';
import { SyncError } from '../domain/errors.js';
import { runStatusOf } from '../domain/sync-run.js';

const LEASE_TTL_MS = 120_000;

async function underLease<T>(db: Db, tenantId: string, action: string, work: (lease: Lease) => Promise<T>) {
  const leases = new LeaseStore(db);
  const lease = await leases.acquire(tenantId, `${action}:${randomBytes(3).toString('hex')}`, LEASE_TTL_MS);
  if (!lease) {
    throw new SyncError(
      'CONFLICT',
      `A sync of tenant ${tenantId} is running; ${action} changes its data, so it waits: try again when the run has ended (m365sync runs list --tenant ${tenantId}).`,
    );
  }
  try {
    return await work(lease);
  } finally {
    await leases.release(lease).catch(() => undefined);
  }
}

export interface ApprovalResult {
  run: SyncRun;
  /** Objects deleted per kind. */
  deleted: Record<string, number>;
}

/**
 * The ids a held sweep of `runId` recorded that are still unseen: all of them if its decision is the
 * kind's latest; if a later run decided since, only those that run held back too (a later run that
 * swept saw, or deleted, everything still stored).
 */
async function stillUnseen(records: SweepRecords, tenantId: string, kind: string, runId: string) {
  const ids = await records.heldIds(runId, kind);
  const latest = await records.latest(tenantId, kind);
  if (!latest || latest.runId === runId) return ids;
  if (!latest.held) return [];
  const laterHeld = new Set(await records.heldIds(latest.runId, kind));
  return ids.filter((id) => laterHeld.has(id));
}

/**
 * Deletes what a held sweep of `runId` recorded and that is still unseen since that run, kind by
 * kind; each such kind becomes `succeeded` with the deletions and the approval (who, when, how many)
 * recorded, and the run's status is worked out again (a run with nothing else wrong: `succeeded`).
 */
export async function approveDeletes(db: Db, runId: string, approvedBy: string): Promise<ApprovalResult> {
  approvedBy = checkedActor(approvedBy, 'approvedBy');
  const runs = new SyncRuns(db);
  const run = await runs.get(runId);
  if (!run) throw new SyncError('NOT_FOUND', `No sync run ${runId}; list runs with m365sync runs list.`);
  const pending = Object.entries(run.kinds).filter(
    ([, r]) => r.status === 'needs_review' && r.held && !r.held.approval,
  );
  if (pending.length === 0) {
    throw new SyncError(
      'CONFLICT',
      `Run ${runId} has no deletions waiting for approval (status ${run.status}); nothing deleted.`,
    );
  }
  const objects = new ImportedObjects(db);
  const leases = new LeaseStore(db);
  const records = new SweepRecords(db);
  return underLease(db, run.tenantId, 'approve-deletes', async (lease) => {
    const fence = leases.fence(lease, LEASE_TTL_MS);
    const deleted: Record<string, number> = {};
    const kinds: Record<string, KindResult> = { ...run.kinds };
    const at = new Date();
    for (const [kind, result] of pending) {
      const held = result.held!;
      const ids = await stillUnseen(records, run.tenantId, kind, runId);
      const count = await objects.deleteListed(kind, run.tenantId, ids, held.fence, fence);
      deleted[kind] = count;
      const { error: _heldError, ...rest } = result;
      kinds[kind] = {
        ...rest,
        status: 'succeeded',
        deleted: result.deleted + count,
        held: { ...held, approval: { by: approvedBy, at, deleted: count } },
      };
      await runs.recordKind(runId, kind, kinds[kind]);
    }
    const status = runStatusOf({ kinds });
    const updated = await runs.finish(runId, { status, kinds });
    return { run: updated ?? run, deleted };
  });
}

/**
 * Removes a tenant's imported objects, of every kind or of `kinds`, recorded as a run with trigger
 * `purge` whose kinds hold the deleted counts.
 */
export async function purgeTenant(
  db: Db,
  tenant: { id: string; hierarchy: string },
  options: { kinds?: readonly string[]; requestedBy: string },
): Promise<SyncRun> {
  const requestedBy = checkedActor(options.requestedBy, 'requestedBy');
  const kinds = options.kinds ?? ENTITY_KIND_NAMES;
  const objects = new ImportedObjects(db);
  const runs = new SyncRuns(db);
  return underLease(db, tenant.id, 'purge', async (lease) => {
    const run = await runs.start({
      tenantId: tenant.id,
      hierarchy: tenant.hierarchy,
      trigger: 'purge',
      requestedBy,
      jobId: `purge:${lease.token}:${Date.now()}`,
      attempt: 1,
      worker: 'cli',
      kindsRequested: [...kinds],
    });
    const results: Record<string, KindResult> = {};
    await new SweepRecords(db).purge(tenant.id, kinds);
    for (const kind of kinds) {
      const started = Date.now();
      const deleted = await objects.purge(kind, tenant.id);
      results[kind] = {
        status: 'succeeded',
        created: 0,
        updated: 0,
        unchanged: 0,
        deleted,
        durationMs: Date.now() - started,
      };
    }
    return (await runs.finish(run.id, { status: 'succeeded', kinds: results })) ?? run;
  });
}
