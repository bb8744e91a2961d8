/**
 * "Approve deletes": an operator lets a sweep that delete protection held back go ahead. Runs under
 * the tenant's lease and is recorded on the run (who, when, how many).
 */
import type { SweepRecordStore } from '../connectors/mongo/index.js';
import type { Uses } from './deps.js';
import { checkedActor } from '../domain/actor.js';
import { SyncError } from '../domain/errors.js';
import { runStatusOf, type KindResult, type SyncRun } from '../domain/sync-run.js';
import { ACTION_LEASE_TTL_MS, underLease } from './under-lease.js';

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
async function stillUnseen(records: SweepRecordStore, tenantId: string, kind: string, runId: string) {
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
export async function approveDeletes(
  deps: Uses<'runs' | 'leases' | 'objects' | 'sweepRecords' | 'changes'>,
  input: { runId: string; approvedBy: string },
): Promise<ApprovalResult> {
  const { stores } = deps;
  const { runId } = input;
  const approvedBy = checkedActor(input.approvedBy, 'approvedBy');
  const { runs, leases, objects, sweepRecords } = stores;
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
  return underLease(leases, run.tenantId, 'approve-deletes', async (lease) => {
    const fence = leases.fence(lease, ACTION_LEASE_TTL_MS);
    // The approved deletions are the held run's changes: recorded in the feed under its id.
    const changes = stores.changes.recorder(run.tenantId, runId, fence);
    const deleted: Record<string, number> = {};
    const kinds: Record<string, KindResult> = { ...run.kinds };
    const at = new Date();
    for (const [kind, result] of pending) {
      const held = result.held!;
      const ids = await stillUnseen(sweepRecords, run.tenantId, kind, runId);
      const count = await objects.deleteListed(kind, run.tenantId, ids, held.fence, fence, changes);
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
