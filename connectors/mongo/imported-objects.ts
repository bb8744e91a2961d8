/**
 * Imported objects: one collection per entity kind, one document per (tenantId, externalId).
 *
 * Stored document:
 *   { tenantId, externalId, kind, hierarchy, syncRunId, fence, contentHash, firstSeenAt, updatedAt, data }
 * `data` is the object as the connector returned it, made storable by document-keys.ts. `contentHash`
 * (SHA-256 of the object's canonical JSON) lets a run leave an unchanged object's data alone: it only
 * stamps the run id on it. `fence` is the lease token of the run that last wrote the document
 * (see leases.ts): writes and sweeps never touch a document stamped by a newer run.
 */
import { createHash } from 'node:crypto';
import type { AnyBulkWriteOperation, Collection, Db } from 'mongodb';
import { SyncError } from '../../domain/errors.js';
import { ENTITY_KINDS, entityKind } from '../../domain/entity-kinds.js';
import { decodeDocument, encodeDocument } from './document-keys.js';
import type { WriteFence } from './leases.js';
import { gated, writeLimitsFor, type WriteLimits } from './write-limits.js';

export interface ImportedObjectDocument {
  tenantId: string;
  externalId: string;
  kind: string;
  hierarchy: string;
  syncRunId: string;
  fence: number;
  contentHash: string;
  firstSeenAt: Date;
  updatedAt: Date;
  data: Record<string, unknown>;
}

export interface TenantRef {
  id: string;
  hierarchy: string;
}

export interface PageCounts {
  created: number;
  updated: number;
  unchanged: number;
}

/** JSON with object keys sorted, so equal objects hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Date) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

export function contentHash(object: unknown): string {
  return createHash('sha256').update(canonicalJson(object)).digest('base64url');
}

function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

function leaseLost(kind: string, tenantId: string): SyncError {
  return new SyncError(
    'LEASE_LOST',
    `A newer sync run has written ${kind} of tenant ${tenantId}; this run stops writing. Nothing to do: the newer run completes the sync.`,
  );
}

export class ImportedObjects {
  private limits: Promise<WriteLimits> | undefined;

  constructor(private readonly db: Db) {}

  collection(kind: string): Collection<ImportedObjectDocument> {
    return this.db.collection<ImportedObjectDocument>(entityKind(kind).collection);
  }

  /** The unique key, and the index the sweep uses. Idempotent; call at start-up. */
  async ensureIndexes(): Promise<void> {
    for (const { kind } of ENTITY_KINDS) {
      const col = this.collection(kind);
      await col.createIndex({ tenantId: 1, externalId: 1 }, { unique: true, name: 'tenant_external_id' });
      await col.createIndex({ tenantId: 1, syncRunId: 1 }, { name: 'tenant_sync_run' });
    }
  }

  /**
   * Writes one page of objects as one bulkWrite. Objects whose content hash equals the stored one are
   * counted unchanged and only stamped with the run id (and the tenant's current hierarchy).
   * Throws LEASE_LOST, before writing anything, if the fence is no longer current.
   */
  async upsertPage(
    kind: string,
    tenant: TenantRef,
    runId: string,
    objects: readonly Record<string, unknown>[],
    fence: WriteFence,
  ): Promise<PageCounts> {
    const { idProperty } = entityKind(kind);
    // One entry per externalId: a page that repeats an object keeps its last copy.
    const byId = new Map<string, { object: Record<string, unknown>; hash: string }>();
    for (const object of objects) {
      const raw = object[idProperty];
      if ((typeof raw !== 'string' && typeof raw !== 'number') || raw === '') {
        throw new SyncError(
          'INVALID_INPUT',
          `An imported ${kind} object has no "${idProperty}" property, so it cannot be keyed; the connector for ${kind} must return it.`,
        );
      }
      byId.set(String(raw), { object, hash: contentHash(object) });
    }
    if (byId.size === 0) return { created: 0, updated: 0, unchanged: 0 };

    const col = this.collection(kind);
    const stored = new Map<string, string>();
    const existing = col.find(
      { tenantId: tenant.id, externalId: { $in: [...byId.keys()] } },
      { projection: { _id: 0, externalId: 1, contentHash: 1 } },
    );
    for await (const doc of existing) stored.set(doc.externalId, doc.contentHash);

    const now = new Date();
    const counts: PageCounts = { created: 0, updated: 0, unchanged: 0 };
    const stamp = { syncRunId: runId, fence: fence.token, hierarchy: tenant.hierarchy };
    const unchanged: string[] = [];
    const created: ImportedObjectDocument[] = [];
    const updates: AnyBulkWriteOperation<ImportedObjectDocument>[] = [];
    for (const [externalId, { object, hash }] of byId) {
      const storedHash = stored.get(externalId);
      if (storedHash === hash) {
        unchanged.push(externalId);
      } else if (storedHash === undefined) {
        created.push({
          tenantId: tenant.id,
          externalId,
          kind,
          ...stamp,
          contentHash: hash,
          firstSeenAt: now,
          updatedAt: now,
          data: encodeDocument(object),
        });
      } else {
        updates.push({
          updateOne: {
            // Only documents last written by this run's token or an older one: never a newer run's.
            filter: { tenantId: tenant.id, externalId, fence: { $lte: fence.token } },
            update: {
              $set: { ...stamp, kind, contentHash: hash, updatedAt: now, data: encodeDocument(object) },
            },
          },
        });
      }
    }
    counts.created = created.length;
    counts.updated = updates.length;
    counts.unchanged = unchanged.length;

    // Three kinds of write, each as cheap as it can be: new objects inserted (a duplicate key means a
    // newer run inserted it meanwhile: fenced), unchanged ones stamped with the run in one statement,
    // changed ones replaced one by one.
    const limits = await (this.limits ??= writeLimitsFor(this.db));
    const write = async (expected: number, run: (maxTimeMS: number) => Promise<number>) => {
      const { maxTimeMS } = await fence.assertCurrent();
      try {
        const written = await gated(limits, () => run(maxTimeMS));
        if (written < expected) throw leaseLost(kind, tenant.id);
      } catch (error) {
        if ((error as { code?: unknown }).code === 11000) throw leaseLost(kind, tenant.id);
        throw error;
      }
    };
    for (const chunk of chunks(created, limits.docsPerInsert)) {
      await write(
        chunk.length,
        async (maxTimeMS) => (await col.insertMany(chunk, { ordered: true, maxTimeMS })).insertedCount,
      );
    }
    for (const ids of chunks(unchanged, limits.docsPerInsert)) {
      await write(ids.length, async (maxTimeMS) => {
        const filter = { tenantId: tenant.id, externalId: { $in: ids }, fence: { $lte: fence.token } };
        return (await col.updateMany(filter, { $set: stamp }, { maxTimeMS })).matchedCount;
      });
    }
    for (const chunk of chunks(updates, limits.opsPerWrite)) {
      await write(
        chunk.length,
        async (maxTimeMS) => (await col.bulkWrite(chunk, { ordered: true, maxTimeMS })).matchedCount,
      );
    }
    return counts;
  }

  private unseenFilter(tenantId: string, runId: string, token?: number) {
    return {
      tenantId,
      syncRunId: { $ne: runId },
      ...(token === undefined ? {} : { fence: { $lte: token } }),
    };
  }

  /** How many of the tenant's objects of this kind the run has not seen (what a sweep would delete). */
  async countUnseen(kind: string, tenantId: string, runId: string): Promise<number> {
    return this.collection(kind).countDocuments(this.unseenFilter(tenantId, runId));
  }

  /** Up to `limit` externalIds of objects the run has not seen, for an operator to look at. */
  async sampleUnseen(kind: string, tenantId: string, runId: string, limit = 20): Promise<string[]> {
    const docs = await this.collection(kind)
      .find(this.unseenFilter(tenantId, runId), { projection: { _id: 0, externalId: 1 } })
      .sort({ externalId: 1 })
      .limit(limit)
      .toArray();
    return docs.map((d) => d.externalId);
  }

  /**
   * Deletes the tenant's objects of this kind that the run did not see. Call only after the kind
   * completed: a kind that failed sweeps nothing. Throws LEASE_LOST if the fence is no longer current.
   */
  async sweep(kind: string, tenantId: string, runId: string, fence: WriteFence): Promise<number> {
    const { maxTimeMS } = await fence.assertCurrent();
    const result = await this.collection(kind).deleteMany(this.unseenFilter(tenantId, runId, fence.token), {
      maxTimeMS,
    });
    return result.deletedCount;
  }

  /** How many objects of this kind the tenant has stored. */
  async countStored(kind: string, tenantId: string): Promise<number> {
    return this.collection(kind).countDocuments({ tenantId });
  }

  /**
   * Deletes objects a held sweep recorded (see workers/steps/guarded-sweep.ts): of the tenant's objects
   * of this kind, those the holding run did not see and that no later run has written since (a later
   * run stamps its own, greater, fence token on every object it sees). `ids`, when given, narrows it
   * to the recorded externalIds.
   */
  async deleteStillUnseen(
    kind: string,
    tenantId: string,
    held: { runId: string; fence: number; ids?: readonly string[] },
    fence: WriteFence,
  ): Promise<number> {
    const { maxTimeMS } = await fence.assertCurrent();
    const base = this.unseenFilter(tenantId, held.runId, held.fence);
    if (!held.ids) return (await this.collection(kind).deleteMany(base, { maxTimeMS })).deletedCount;
    let deleted = 0;
    for (const ids of chunks(held.ids, 1000)) {
      const filter = { ...base, externalId: { $in: ids } };
      deleted += (await this.collection(kind).deleteMany(filter, { maxTimeMS })).deletedCount;
    }
    return deleted;
  }

  /** Deletes every object of a tenant of one kind (purge). */
  async purge(kind: string, tenantId: string): Promise<number> {
    return (await this.collection(kind).deleteMany({ tenantId })).deletedCount;
  }

  /** The stored objects of a tenant and kind, decoded back to what the connector returned. */
  async *objects(kind: string, tenantId: string): AsyncGenerator<Record<string, unknown>> {
    const cursor = this.collection(kind)
      .find({ tenantId }, { projection: { _id: 0, data: 1 } })
      .sort({ externalId: 1 });
    for await (const doc of cursor) yield decodeDocument(doc.data);
  }

  /** Number of stored objects per kind for a tenant. */
  async countByKind(tenantId: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const { kind } of ENTITY_KINDS) out[kind] = await this.collection(kind).countDocuments({ tenantId });
    return out;
  }
}
