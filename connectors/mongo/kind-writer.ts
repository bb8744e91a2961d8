/**
 * One run's writes of one kind for one tenant: compares every incoming object with the stored
 * picture (stored-keys.ts: the whole kind read once; for a delta round, only the objects the round
 * names, looked up as its pages arrive), inserts new objects, updates changed ones by `_id`, writes
 * nothing to an unchanged object's document, and at the end deletes by `_id` the stored objects the
 * run did not see. Counts describe objects, not deliveries: an object delivered twice in one run
 * (a Graph collection restarted after an expired page token) is counted once.
 *
 * Fencing (docs/engine.md): every write batch and every delete batch is preceded by the lease check
 * (`WriteFence.assertCurrent`) and a check that no newer run has read the kind (sweep-records.ts),
 * and carries the lease's `maxTimeMS`; every update and delete filter carries `fence <= token`, so an
 * older run never overwrites or deletes a document a newer run wrote.
 *
 * Change feed (change-recorder.ts): with a recorder, each batch's created, updated and deleted objects
 * are recorded before the batch is written. The names of an updated object's changed top-level fields
 * come from its stored `data`, read only for the objects whose hash changed (one read per page that
 * has any): the stored picture keeps a hash, not the fields, and keeping per-field hashes would grow
 * every document and every insert of a first pull for what only changed objects need. An unchanged
 * object is neither read nor written. A kind's first complete pull records one baseline marker instead
 * of a row per object.
 */
import { ObjectId, type AnyBulkWriteOperation, type Collection } from 'mongodb';
import { SyncError } from '../../domain/errors.js';
import { entityKind } from '../../domain/entity-kinds.js';
import { storedPictureOrder } from '../../domain/sync-plan.js';
import { encodeDocument } from './document-keys.js';
import type { ImportedObjectDocument, PageCounts, TenantRef } from './imported-objects.js';
import { contentHash } from './content-hash.js';
import type { WriteFence } from './leases.js';
import type { SweepRecordStore } from './sweep-records.js';
import { CREATED, StoredKeys, UNCHANGED, UNSEEN, UPDATED, hashPrefix } from './stored-keys.js';
import { gated, type WriteLimits } from './write-limits.js';
import { isDuplicateKey } from './duplicate-key.js';
import { ignoreBecause } from '../../domain/ignored-failure.js';
import type { ChangeEntry } from '../../domain/changes.js';
import type { ChangeRecorder } from './change-recorder.js';
import { changedFields } from './changed-fields.js';
import { decodeDocument } from './document-keys.js';

function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

export function leaseLost(kind: string, tenantId: string): SyncError {
  return new SyncError(
    'LEASE_LOST',
    `A newer sync run has written ${kind} of tenant ${tenantId}; this run stops writing. Nothing to do: the newer run completes the sync.`,
  );
}

export class KindWriter {
  /** The whole stored picture, once read (`stored()`). */
  private keys: Promise<StoredKeys> | undefined;
  /**
   * A delta round's partial picture (`namedOnly()`): only the stored objects the round named, looked
   * up as its pages arrive, so a round of a few changes never reads every stored key of the kind.
   */
  private partial: Promise<StoredKeys> | undefined;
  /** The stored data `storedData` read last, for naming the changed fields of the write that follows. */
  private dataRead = new Map<string, Record<string, unknown>>();
  /** Writes of this kind one after the other, so the picture and the store agree. */
  private queue: Promise<unknown> = Promise.resolve();
  private swept = false;
  readonly counts: PageCounts = { created: 0, updated: 0, unchanged: 0 };

  constructor(
    private readonly col: Collection<ImportedObjectDocument>,
    readonly kind: string,
    private readonly tenant: TenantRef,
    private readonly runId: string,
    private readonly fence: WriteFence,
    private readonly limits: () => Promise<WriteLimits>,
    private readonly records: SweepRecordStore,
    private readonly changes?: ChangeRecorder,
  ) {}

  /** Whether this run records the kind's changes object by object (not during its first pull). */
  private async recording(): Promise<boolean> {
    return this.changes !== undefined && !(await this.changes.needsBaseline(this.kind));
  }

  /** The kind completed: on its first complete pull, records its baseline marker. */
  async completed(): Promise<void> {
    await this.queue;
    if (this.changes) await this.changes.baseline(this.kind);
  }

  /**
   * The whole stored picture, read on first use (after raising the kind's read mark: sweep-records.ts).
   * After a delta round's partial picture (a round Graph refused, pulled in full instead), what the
   * round wrote counts as seen.
   */
  stored(): Promise<StoredKeys> {
    return (this.keys ??= this.records
      .raiseRead(this.tenant.id, this.kind, this.fence.token)
      .then(async () => {
        const { reads } = await this.limits();
        const whole = await reads.schedule({ priority: storedPictureOrder(this.kind) }, () =>
          StoredKeys.load(this.col as never, this.tenant.id, this.tenant.hierarchy),
        );
        if (this.partial) whole.carry(await this.partial);
        return whole;
      }));
  }

  /**
   * The run's writes of the kind come from a delta round: from now on the writer looks up only the
   * stored objects the round names (and those it removed), unless the whole picture was read already.
   */
  namedOnly(): void {
    if (this.keys) return;
    this.partial ??= this.records
      .raiseRead(this.tenant.id, this.kind, this.fence.token)
      .then(() => new StoredKeys());
  }

  /** The picture the run's writes go by: the whole one, or a delta round's partial one. */
  private async picture(): Promise<{ keys: StoredKeys; partial: boolean }> {
    if (this.keys || !this.partial) return { keys: await this.stored(), partial: false };
    return { keys: await this.partial, partial: true };
  }

  /**
   * Adds to a partial picture the stored objects of these externalIds it does not hold yet (by the
   * `tenant_external_id` index: write-limits.ts, `keysPerLookup`); with `withData`, returns their
   * stored data (decoded) by externalId.
   */
  private async lookUp(
    keys: StoredKeys,
    externalIds: Iterable<string>,
    withData: boolean,
  ): Promise<Map<string, Record<string, unknown>>> {
    const found = new Map<string, Record<string, unknown>>();
    const missing = [...new Set(externalIds)].filter((externalId) => keys.find(externalId) === undefined);
    if (missing.length === 0) return found;
    const { keysPerLookup, lookupsInFlight } = await this.limits();
    const tenantId = this.tenant.id;
    const projection = {
      _id: 1,
      externalId: 1,
      contentHash: 1,
      fence: 1,
      hierarchy: 1,
      ...(withData && { data: 1 }),
    };
    const lookUpChunk = async (chunk: string[]) => {
      const filter =
        chunk.length === 1 ? { tenantId, externalId: chunk[0] } : { tenantId, externalId: { $in: chunk } };
      for (const doc of await this.col.find(filter as never, { projection }).toArray()) {
        keys.addStored(doc as never, this.tenant.hierarchy);
        if (withData) found.set(doc.externalId, decodeDocument(doc.data));
      }
    };
    // A few reads in flight: one id a query (FerretDB) would otherwise wait on each round trip.
    for (const group of chunks([...chunks(missing, keysPerLookup)], lookupsInFlight))
      await Promise.all(group.map(lookUpChunk));
    return found;
  }

  /** Before each write or delete batch: our lease is current and no newer run has read the kind. */
  private readonly check = async (): Promise<{ maxTimeMS: number }> => {
    const budget = await this.fence.assertCurrent();
    await this.records.assertNoNewerReader(this.tenant.id, this.kind, this.fence.token);
    return budget;
  };

  /** Whether this run has seen (written or confirmed) the object. */
  async seen(externalId: string): Promise<boolean> {
    const keys = await this.stored();
    const at = keys.find(externalId);
    return at !== undefined && keys.state(at) !== UNSEEN;
  }

  /**
   * Writes one page. Returns what it changed in the kind's counts (an object seen unchanged earlier in
   * the run and changed on a later delivery moves from unchanged to updated). Throws LEASE_LOST before
   * writing anything if the fence is no longer current.
   */
  write(objects: readonly Record<string, unknown>[]): Promise<PageCounts> {
    const next = this.queue.then(() => this.writeNow(objects));
    this.queue = next.catch(ignoreBecause('the caller of write() gets the failure; later writes still run'));
    return next;
  }

  private async writeNow(objects: readonly Record<string, unknown>[]): Promise<PageCounts> {
    if (this.swept) throw new Error(`${this.kind} was already swept in run ${this.runId}`);
    const dataRead = this.dataRead;
    this.dataRead = new Map();
    const { idProperty } = entityKind(this.kind);
    // One entry per externalId: a page that repeats an object keeps its last copy.
    const byId = new Map<string, { object: Record<string, unknown>; hash: string }>();
    for (const object of objects) {
      const raw = object[idProperty];
      if ((typeof raw !== 'string' && typeof raw !== 'number') || raw === '') {
        throw new SyncError(
          'INVALID_INPUT',
          `An imported ${this.kind} object has no "${idProperty}" property, so it cannot be keyed; the connector for ${this.kind} must return it.`,
        );
      }
      byId.set(String(raw), { object, hash: contentHash(object) });
    }
    const delta: PageCounts = { created: 0, updated: 0, unchanged: 0 };
    if (byId.size === 0) return delta;

    const { keys, partial } = await this.picture();
    if (partial) await this.lookUp(keys, byId.keys(), false);
    const token = this.fence.token;
    const now = new Date();
    const stamp = { syncRunId: this.runId, fence: token, hierarchy: this.tenant.hierarchy };
    const created: ImportedObjectDocument[] = [];
    const updates: AnyBulkWriteOperation<ImportedObjectDocument>[] = [];
    const entries: ChangeEntry[] = [];
    /** Changed objects: their `_id`, externalId and new object, for naming the changed fields. */
    const changed: { _id: unknown; externalId: string; object: Record<string, unknown> }[] = [];
    const update = (at: number, $set: Partial<ImportedObjectDocument>) =>
      updates.push({
        updateOne: { filter: { _id: keys.id(at), fence: { $lte: token } } as never, update: { $set } },
      });
    for (const [externalId, { object, hash }] of byId) {
      const prefix = hashPrefix(hash);
      const at = keys.find(externalId);
      if (at === undefined) {
        const _id = new ObjectId();
        keys.add(externalId, _id, prefix, token, CREATED);
        delta.created++;
        entries.push({ kind: this.kind, externalId, op: 'created' });
        created.push({
          _id,
          tenantId: this.tenant.id,
          externalId,
          kind: this.kind,
          ...stamp,
          contentHash: hash,
          firstSeenAt: now,
          updatedAt: now,
          data: encodeDocument(object),
        } as ImportedObjectDocument);
        continue;
      }
      const state = keys.state(at);
      const same = keys.hash(at) === prefix;
      if (same && state !== UNSEEN) continue; // delivered again, as it was: counted already
      if (same) {
        delta.unchanged++;
        // Unchanged: no write, unless the tenant moved in the hierarchy since it was stored.
        if (keys.needsRestamp(at)) update(at, stamp);
        keys.set(at, UNCHANGED, prefix, keys.needsRestamp(at) ? token : keys.fence(at));
        continue;
      }
      if (state === UNSEEN) delta.updated++;
      else if (state === UNCHANGED) {
        delta.unchanged--;
        delta.updated++;
      }
      keys.set(at, state === CREATED ? CREATED : UPDATED, prefix, token);
      changed.push({ _id: keys.id(at), externalId, object });
      update(at, {
        ...stamp,
        kind: this.kind,
        contentHash: hash,
        updatedAt: now,
        data: encodeDocument(object),
      });
    }

    // New objects inserted (a duplicate key means another run inserted it meanwhile: fenced), changed
    // ones updated by _id in small batches (FerretDB: see write-limits.ts).
    const limits = await this.limits();
    const recording = await this.recording();
    if (recording && changed.length > 0)
      entries.push(...(await this.updatedEntries(changed, dataRead, limits)));
    const write = async () => {
      for (const chunk of chunks(created, limits.docsPerInsert)) {
        await this.guarded(limits, chunk.length, async (maxTimeMS) => {
          return (await this.col.insertMany(chunk, { ordered: true, maxTimeMS })).insertedCount;
        });
      }
      for (const chunk of chunks(updates, limits.opsPerWrite)) {
        await this.guarded(limits, chunk.length, async (maxTimeMS) => {
          return (await this.col.bulkWrite(chunk, { ordered: true, maxTimeMS })).matchedCount;
        });
      }
    };
    if (this.changes) await this.changes.record(recording ? entries : [], write);
    else await write();
    this.counts.created += delta.created;
    this.counts.updated += delta.updated;
    this.counts.unchanged += delta.unchanged;
    return delta;
  }

  /**
   * `updated` entries naming each changed object's changed top-level fields, from its stored `data`:
   * as `storedData` read it just before (a delta round's page), else one `$in` read when many, one
   * read by `_id` each when few on FerretDB (write-limits.ts, `inFrom`). An object the read does not
   * find (deleted meanwhile) is recorded without field names.
   */
  private async updatedEntries(
    changed: readonly { _id: unknown; externalId: string; object: Record<string, unknown> }[],
    dataRead: ReadonlyMap<string, Record<string, unknown>>,
    limits: WriteLimits,
  ): Promise<ChangeEntry[]> {
    const unread = changed.filter((c) => !dataRead.has(c.externalId));
    const before = await this.readData(
      unread.map((c) => c._id),
      limits,
    );
    for (const [externalId, data] of dataRead) before.set(externalId, data);
    return changed.map(({ externalId, object }) => {
      const old = before.get(externalId);
      return {
        kind: this.kind,
        externalId,
        op: 'updated' as const,
        ...(old ? { fields: changedFields(old, object) } : {}),
      };
    });
  }

  /**
   * The stored objects' data by externalId (decoded), read by `_id`: one `$in` read when many, one
   * read each when few on FerretDB (write-limits.ts, `inFrom`). An object not found is left out.
   */
  private async readData(
    ids: readonly unknown[],
    limits: WriteLimits,
  ): Promise<Map<string, Record<string, unknown>>> {
    const out = new Map<string, Record<string, unknown>>();
    const remember = (doc: { externalId: string; data: Record<string, unknown> } | null) => {
      if (doc) out.set(doc.externalId, decodeDocument(doc.data));
    };
    const projection = { _id: 0, externalId: 1, data: 1 };
    if (ids.length >= limits.inFrom) {
      for (const doc of await this.col.find({ _id: { $in: ids } } as never, { projection }).toArray())
        remember(doc as never);
    } else {
      for (const _id of ids) remember((await this.col.findOne({ _id } as never, { projection })) as never);
    }
    return out;
  }

  /**
   * The stored data of the objects named (those stored), after this run's earlier writes of the kind:
   * what a delta round's partial objects are merged into. A partial picture looks up the ones it
   * does not hold yet, data and keys in one read; the write that follows names its changed fields
   * from what this read.
   */
  async storedData(externalIds: readonly string[]): Promise<Map<string, Record<string, unknown>>> {
    await this.queue;
    const { keys, partial } = await this.picture();
    const data = partial
      ? await this.lookUp(keys, externalIds, true)
      : new Map<string, Record<string, unknown>>();
    const ids: unknown[] = [];
    for (const externalId of new Set(externalIds)) {
      const at = keys.find(externalId);
      if (at !== undefined && !data.has(externalId)) ids.push(keys.id(at));
    }
    if (ids.length > 0)
      for (const [id, stored] of await this.readData(ids, await this.limits())) data.set(id, stored);
    this.dataRead = new Map(data);
    return data;
  }

  /**
   * A delta round of the kind was applied: every stored object stays but those it removed, which the
   * sweep (behind delete protection) then deletes. Returns how many of the removed ones are stored.
   */
  async keepAllBut(removed: ReadonlySet<string>): Promise<number> {
    await this.queue;
    const { keys, partial } = await this.picture();
    if (partial) await this.lookUp(keys, removed, false);
    keys.keepAllBut(removed);
    let stored = 0;
    for (const externalId of removed) if (keys.find(externalId) !== undefined) stored++;
    return stored;
  }

  /** The stored objects the run has not seen (sorted externalIds): what the sweep would delete. */
  async unseen(): Promise<string[]> {
    await this.queue;
    return (await this.picture()).keys.unseen().externalIds;
  }

  /**
   * Objects of the kind stored now, as the run sees them (its own inserts included); `enough` if there
   * are at least that many and the count would cost a query. A partial picture holds only what its
   * round named, so the store counts them, no further than `enough` (FerretDB counts by reading every
   * document it counts: 5 to 19 s for 50,000 users, measured).
   */
  async storedCount(enough?: number): Promise<number> {
    await this.queue;
    const { keys, partial } = await this.picture();
    if (!partial) return keys.size;
    if (enough === 0) return 0;
    const filter = { tenantId: this.tenant.id } as never;
    return this.col.countDocuments(filter, enough === undefined ? {} : { limit: enough });
  }

  /**
   * Deletes, by `_id` in batches, the stored objects the run did not see and that no newer run has
   * written. Call only after the kind completed. Returns how many were deleted.
   */
  async sweep(): Promise<number> {
    await this.queue;
    this.swept = true;
    const { keys } = await this.picture();
    const { externalIds, positions } = keys.unseen();
    const limits = await this.limits();
    const sweep = () => deleteByPosition(this.col, keys, positions, this.fence.token, this.check, limits);
    if (!this.changes || !(await this.recording())) return sweep();
    const entries = externalIds.map((externalId) => ({
      kind: this.kind,
      externalId,
      op: 'deleted' as const,
    }));
    return this.changes.record(entries, sweep);
  }

  private async guarded(limits: WriteLimits, expected: number, run: (maxTimeMS: number) => Promise<number>) {
    const { maxTimeMS } = await this.check();
    try {
      const written = await gated(limits, () => run(maxTimeMS));
      if (written < expected) throw leaseLost(this.kind, this.tenant.id);
    } catch (error) {
      if (isDuplicateKey(error)) throw leaseLost(this.kind, this.tenant.id);
      throw error;
    }
  }
}

/**
 * Deletes the documents at `positions` of a stored picture, by `_id`, only where their fence is at
 * most `maxFence`; each batch after a lease check. Many at once: one `deleteMany` with `$in` per
 * thousand; a few on FerretDB: one `deleteOne` by `_id` each (write-limits.ts, `inFrom`).
 */
export async function deleteByPosition(
  col: Collection<ImportedObjectDocument>,
  keys: StoredKeys,
  positions: readonly number[],
  maxFence: number,
  check: () => Promise<{ maxTimeMS: number }>,
  limits: WriteLimits,
): Promise<number> {
  let deleted = 0;
  const many = positions.length >= limits.inFrom;
  for (const chunk of chunks(positions, many ? limits.docsPerInsert : limits.opsPerWrite)) {
    const { maxTimeMS } = await check();
    const ids = chunk.map((at) => keys.id(at));
    deleted += await gated(limits, async () => {
      if (many) {
        const filter = { _id: { $in: ids }, fence: { $lte: maxFence } } as never;
        return (await col.deleteMany(filter, { maxTimeMS })).deletedCount;
      }
      const ops = ids.map((_id) => ({ deleteOne: { filter: { _id, fence: { $lte: maxFence } } as never } }));
      return (await col.bulkWrite(ops, { ordered: true, maxTimeMS })).deletedCount;
    });
  }
  return deleted;
}
