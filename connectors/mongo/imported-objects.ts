/**
 * Imported objects: one collection per entity kind, one document per (tenantId, externalId).
 *
 * Stored document:
 *   { _id, tenantId, externalId, kind, hierarchy, syncRunId, fence, contentHash, firstSeenAt, updatedAt, data }
 * `data` is the object as the connector returned it, made storable by document-keys.ts. `contentHash`
 * (SHA-256 of the object's canonical JSON) lets a run leave an unchanged object's document alone: it
 * writes nothing to it. `syncRunId` and `fence` are the run and lease token that last wrote the
 * document (see leases.ts): writes and sweeps never touch a document written by a newer run.
 * A run's writes of one kind go through a KindWriter (kind-writer.ts), which records what changed in
 * the change feed when given the run's ChangeRecorder (change-recorder.ts).
 */
import type { Collection, Db, ObjectId } from 'mongodb';
import { ENTITY_KINDS, entityKind } from '../../domain/entity-kinds.js';
import type { ChangeEntry } from '../../domain/changes.js';
import type { ChangeRecorder } from './change-recorder.js';
import { decodeDocument } from './document-keys.js';
import { deleteByPosition, KindWriter } from './kind-writer.js';
import type { WriteFence } from './leases.js';
import { StoredKeys } from './stored-keys.js';
import type { SweepRecordStore } from './sweep-records.js';
import { writeLimitsFor, type WriteLimits } from './write-limits.js';

export { canonicalJson, contentHash } from './content-hash.js';

export interface ImportedObjectDocument {
  _id?: ObjectId;
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

export class ImportedObjectStore {
  /** `records`: the process's sweep records (connectors/mongo/stores.ts). */
  constructor(
    private readonly db: Db,
    private readonly records: SweepRecordStore,
  ) {}

  collection(kind: string): Collection<ImportedObjectDocument> {
    return this.db.collection<ImportedObjectDocument>(entityKind(kind).collection);
  }

  /** The server's write limits (write-limits.ts: looked up once, only a success kept). */
  private writeLimits(): Promise<WriteLimits> {
    return writeLimitsFor(this.db);
  }

  /** The unique key. Idempotent; call at start-up. */
  async ensureIndexes(): Promise<void> {
    for (const { kind } of ENTITY_KINDS) {
      const col = this.collection(kind);
      await col.createIndex({ tenantId: 1, externalId: 1 }, { unique: true, name: 'tenant_external_id' });
    }
  }

  /** A run's writer for one kind: every page and the sweep of that kind in that run go through it. */
  writer(
    kind: string,
    tenant: TenantRef,
    runId: string,
    fence: WriteFence,
    changes?: ChangeRecorder,
  ): KindWriter {
    return new KindWriter(
      this.collection(kind),
      kind,
      tenant,
      runId,
      fence,
      () => this.writeLimits(),
      this.records,
      changes,
    );
  }

  /** The tenant's stored keys of one kind, read in one streamed query. */
  storedKeys(kind: string, tenantId: string): Promise<StoredKeys> {
    return StoredKeys.load(this.collection(kind) as never, tenantId);
  }

  /** How many objects of this kind the tenant has stored. */
  async countStored(kind: string, tenantId: string): Promise<number> {
    return this.collection(kind).countDocuments({ tenantId });
  }

  /**
   * Deletes the tenant's objects of this kind with these externalIds whose fence is at most
   * `maxFence` (no run newer than that has written them), by `_id`. For approved held sweeps; with
   * `changes`, each is recorded `deleted` in the change feed first (unless the kind has no baseline).
   */
  async deleteListed(
    kind: string,
    tenantId: string,
    externalIds: readonly string[],
    maxFence: number,
    fence: WriteFence,
    changes?: ChangeRecorder,
  ): Promise<number> {
    if (externalIds.length === 0) return 0;
    const keys = await this.storedKeys(kind, tenantId);
    const positions: number[] = [];
    const listed: ChangeEntry[] = [];
    for (const id of externalIds) {
      const at = keys.find(id);
      if (at === undefined || keys.fence(at) > maxFence) continue;
      positions.push(at);
      listed.push({ kind, externalId: id, op: 'deleted' });
    }
    const check = () => fence.assertCurrent();
    const limits = await this.writeLimits();
    const remove = () => deleteByPosition(this.collection(kind), keys, positions, maxFence, check, limits);
    if (!changes || positions.length === 0 || (await changes.needsBaseline(kind))) return remove();
    return changes.record(listed, remove);
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
