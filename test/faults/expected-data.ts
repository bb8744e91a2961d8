/**
 * What the fault cases check at the end of every run: MongoDB compared with the simulated data set,
 * kind by kind (nothing lost, nothing duplicated, nothing stale where the kind succeeded; yesterday's
 * data kept, untouched, where it failed), and every run record of the tenant terminal and truthful.
 */
import type { Db } from 'mongodb';
import { expect } from 'vitest';
import type { SyncRun } from '../../domain/sync-run.js';
import { ENTITY_KINDS } from '../../domain/entity-kinds.js';

import type { Ids } from '../support/expected-ids.js';

export { expectedIds } from '../support/expected-ids.js';

/** What MongoDB holds for the tenant: each kind's external ids (sorted, duplicates kept) and run ids. */
export async function storedState(
  db: Db,
  tenantId: string,
  kinds: readonly string[],
): Promise<{ ids: Ids; runIds: Record<string, string[]> }> {
  const ids: Ids = {};
  const runIds: Record<string, string[]> = {};
  for (const kind of kinds) {
    const collection = ENTITY_KINDS.find((k) => k.kind === kind)!.collection;
    const docs = await db
      .collection(collection)
      .find({ tenantId }, { projection: { externalId: 1, syncRunId: 1 } })
      .toArray();
    ids[kind] = docs.map((d) => String(d.externalId)).sort();
    runIds[kind] = [...new Set(docs.map((d) => String(d.syncRunId)))];
  }
  return { ids, runIds };
}

/**
 * After `run`: every kind it completed holds exactly `today` (nothing stale survived the sweep) and the
 * run counted each of today's objects exactly once as created, updated or unchanged (the store writes
 * only what changed, so unchanged documents keep the run id that last wrote them); every kind it failed
 * still holds all of `yesterday` (no sweep), and nothing that neither day has.
 */
export async function expectDataAfter(
  db: Db,
  tenantId: string,
  run: SyncRun,
  today: Ids,
  yesterday: Ids,
): Promise<void> {
  const kinds = Object.keys(today);
  const { ids } = await storedState(db, tenantId, kinds);
  for (const kind of kinds) {
    const result = run.kinds[kind];
    expect(result, `run ${run.id} has no result for ${kind}`).toBeDefined();
    if (result!.status === 'succeeded') {
      // Equal as sorted lists: nothing lost, nothing duplicated, nothing stale left by the sweep.
      expect(ids[kind], `${kind} after a succeeded kind`).toEqual(today[kind]);
      const { created, updated, unchanged } = result!;
      expect(created + updated + unchanged, `${kind}: objects the run counted`).toBe(today[kind]!.length);
    } else {
      // A failed kind sweeps nothing: all of yesterday's objects are still there (those the run read
      // before it failed were refreshed), nothing appears that neither day has, nothing twice.
      expect(result!.status, kind).toBe('failed');
      const stored = ids[kind]!;
      const missing = (yesterday[kind] ?? []).filter((id) => !stored.includes(id));
      expect(missing, `${kind} after a failed kind: yesterday's objects lost`).toEqual([]);
      const known = new Set([...(yesterday[kind] ?? []), ...today[kind]!]);
      expect(
        stored.filter((id) => !known.has(id)),
        `${kind}: objects from nowhere`,
      ).toEqual([]);
      expect(new Set(stored).size, `${kind}: duplicates`).toBe(stored.length);
    }
  }
}

const TERMINAL = ['succeeded', 'partial', 'failed', 'needs_review', 'cancelled', 'merged'];

/** Every run record of the tenant is terminal, and its status says what its kinds say. */
export async function expectRunsTruthful(db: Db, tenantId: string): Promise<SyncRun[]> {
  const docs = await db.collection('sync_runs').find({ tenantId }).toArray();
  const runs = docs.map((d) => ({ ...d, id: String(d._id) }) as unknown as SyncRun);
  for (const run of runs) {
    expect(TERMINAL, `run ${run.id} is ${run.status}`).toContain(run.status);
    expect(run.endedAt, `run ${run.id} has an end`).toBeDefined();
    const results = Object.values(run.kinds ?? {});
    const failed = results.filter((r) => r.status === 'failed' || r.status === 'cancelled').length;
    if (run.status === 'succeeded') {
      expect(failed, `run ${run.id} succeeded with failed kinds`).toBe(0);
      expect(results.length).toBeGreaterThan(0);
    }
    if (run.status === 'partial') {
      expect(failed).toBeGreaterThan(0);
      expect(failed).toBeLessThan(results.length);
    }
    if (run.status === 'failed')
      expect(run.error?.message ?? '', `run ${run.id} failed without a reason`).toMatch(/\S/);
    for (const r of results)
      if (r.status === 'failed') expect(r.error?.code, `a failed kind of ${run.id}`).toBeDefined();
  }
  return runs;
}
