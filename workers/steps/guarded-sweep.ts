/**
 * The sweep of one completed kind, behind mass-delete protection: count what it would delete against
 * what is stored, resolve the tenant's threshold for the kind's source, and either sweep or hold the
 * sweep back (nothing of the kind deleted, the upserts kept) with what an operator needs to decide.
 */
import type { ImportedObjects, TenantRef } from '../../connectors/mongo/imported-objects.js';
import type { WriteFence } from '../../connectors/mongo/leases.js';
import type { HeldDeletes } from '../../connectors/mongo/sync-runs.js';
import {
  checkSweep,
  describeDeleteThreshold,
  resolveDeleteThreshold,
  type DeleteProtectionSettings,
} from '../../domain/delete-protection.js';
import { entityKind } from '../../domain/entity-kinds.js';

/** Above this many, a held sweep records only its (exact) criterion, not every id. */
export const MAX_RECORDED_IDS = 10_000;
const SAMPLE_SIZE = 20;

export type SweepOutcome = { deleted: number } | { held: HeldDeletes };

export async function guardedSweep(o: {
  kind: string;
  tenant: TenantRef;
  runId: string;
  fence: WriteFence;
  objects: ImportedObjects;
  settings: () => Promise<DeleteProtectionSettings>;
}): Promise<SweepOutcome> {
  const { kind, tenant, runId, fence, objects } = o;
  const wouldDelete = await objects.countUnseen(kind, tenant.id, runId);
  if (wouldDelete === 0) return { deleted: 0 };
  const stored = await objects.countStored(kind, tenant.id);
  const threshold = resolveDeleteThreshold(await o.settings(), {
    source: entityKind(kind).source,
    hierarchy: tenant.hierarchy,
    tenantId: tenant.id,
  });
  const check = checkSweep(threshold, { storedCount: stored, wouldDelete });
  if (check.allowed) return { deleted: await objects.sweep(kind, tenant.id, runId, fence) };
  const { from, ...pair } = threshold;
  const held: HeldDeletes = {
    wouldDelete,
    stored,
    limit: check.limit,
    threshold: describeDeleteThreshold(pair),
    origin: from,
    sample: await objects.sampleUnseen(kind, tenant.id, runId, SAMPLE_SIZE),
    fence: fence.token,
  };
  if (wouldDelete <= MAX_RECORDED_IDS)
    held.ids = await objects.sampleUnseen(kind, tenant.id, runId, MAX_RECORDED_IDS);
  return { held };
}
