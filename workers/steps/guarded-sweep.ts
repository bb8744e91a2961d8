/**
 * The sweep of one completed kind, behind mass-delete protection: count what it would delete against
 * what is stored, resolve the tenant's threshold for the kind's source, and either sweep or hold the
 * sweep back (nothing of the kind deleted, the upserts kept) with what an operator needs to decide.
 */
import type { KindWriter, SweepRecordStore, TenantRef, WriteFence } from '../../connectors/mongo/index.js';
import type { HeldDeletes } from '../../domain/sync-run.js';
import {
  checkSweep,
  describeDeleteThreshold,
  resolveDeleteThreshold,
  storedEnoughFor,
  type DeleteProtectionSettings,
} from '../../domain/delete-protection.js';
import { entityKind } from '../../domain/entity-kinds.js';

/** Above this many, a held sweep's ids are kept only in `held_deletes`, not in the run record. */
export const MAX_RECORDED_IDS = 10_000;
const SAMPLE_SIZE = 20;

export type SweepOutcome = { deleted: number } | { held: HeldDeletes };

/**
 * Decides and records (sweep-records.ts) before it deletes or holds, so approving an older held sweep
 * later knows this run's decision supersedes it.
 */
export async function guardedSweep(o: {
  kind: string;
  tenant: TenantRef;
  runId: string;
  fence: WriteFence;
  writer: KindWriter;
  records: SweepRecordStore;
  settings: () => Promise<DeleteProtectionSettings>;
}): Promise<SweepOutcome> {
  const { kind, tenant, runId, fence, writer, records } = o;
  const unseen = await writer.unseen();
  const wouldDelete = unseen.length;
  const mark = (held: boolean) => records.mark(tenant.id, kind, { token: fence.token, runId, held });
  if (wouldDelete === 0) {
    await mark(false);
    await writer.completed();
    return { deleted: 0 };
  }
  const threshold = resolveDeleteThreshold(await o.settings(), {
    source: entityKind(kind).source,
    hierarchy: tenant.hierarchy,
    tenantId: tenant.id,
  });
  // Counted only as far as the decision needs (a delta round's writer asks the store).
  const stored = await writer.storedCount(storedEnoughFor(threshold, wouldDelete));
  const check = checkSweep(threshold, { storedCount: stored, wouldDelete });
  if (check.allowed) {
    await mark(false);
    const deleted = await writer.sweep();
    await writer.completed();
    return { deleted };
  }
  const { from, ...pair } = threshold;
  const held: HeldDeletes = {
    wouldDelete,
    stored,
    limit: check.limit,
    threshold: describeDeleteThreshold(pair),
    origin: from,
    sample: unseen.slice(0, SAMPLE_SIZE),
    fence: fence.token,
  };
  if (wouldDelete <= MAX_RECORDED_IDS) held.ids = unseen;
  await fence.assertCurrent();
  await records.recordHeld(tenant.id, kind, runId, unseen);
  await mark(true);
  await writer.completed();
  return { held };
}
