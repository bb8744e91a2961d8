/**
 * Where each tenant's delta rounds resume (collection `delta_states`, `_id` = `<tenant id>:<kind>`):
 * the deltaLink Graph gave at the end of the last applied round (or the `$deltatoken=latest` link a
 * full pull took before it listed the kind), the `$select` it was made with, and when that round
 * started (a link names a point in Graph's change log; Graph forgets it after 7 days).
 *
 * A link is a bearer of tenant data (with the app's token it reads the tenant's changes), so it is
 * encrypted at rest with the tenants' key ring and never leaves this store but to the Graph connector:
 * no log line, run record, job, metric or API answer carries it.
 *
 * A state is written under the run's lease, and only by a run whose fence is at least the stored
 * one's: a run that lost its lease cannot move a newer run's state back.
 */
import type { Collection, Db } from 'mongodb';
import type { EncryptedValue, KeyRing } from './encryption.js';
import type { WriteFence } from './leases.js';
import { isDuplicateKey } from './duplicate-key.js';
import { leaseLost } from './kind-writer.js';

export interface DeltaState {
  /** The deltaLink where the next round starts (plaintext: in memory only). */
  link: string;
  /** The `$select` the link was made with: another one needs a new first round. */
  select: string;
  /** When the round (or the full pull) that gave the link started: the link names that point. */
  roundStartedAt: Date;
}

interface DeltaStateDocument {
  _id: string;
  tenantId: string;
  kind: string;
  link: EncryptedValue;
  select: string;
  roundStartedAt: Date;
  savedAt: Date;
  runId: string;
  fence: number;
}

/** A state as the run's fence writes it: its link already encrypted (the worker's run stores hold no key). */
export interface SealedDeltaState extends Omit<DeltaState, 'link'> {
  link: EncryptedValue;
}

/** What a stored state could not be used for, when it could not be read. */
export type DeltaStateRead = { state: DeltaState } | { state: undefined; unreadable?: true };

export class DeltaStateStore {
  readonly collection: Collection<DeltaStateDocument>;

  constructor(
    db: Db,
    private readonly keyRing: KeyRing,
  ) {
    this.collection = db.collection<DeltaStateDocument>('delta_states');
  }

  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex({ tenantId: 1 });
  }

  private static id(tenantId: string, kind: string): string {
    return `${tenantId}:${kind}`;
  }

  /** The encryption context binds a link to its tenant and kind: a copied document does not decrypt. */
  private static context(tenantId: string, kind: string): string {
    return `delta_states:${tenantId}:${kind}`;
  }

  /** The kind's state; `unreadable` when it is stored but its key is not in the ring any more. */
  async get(tenantId: string, kind: string): Promise<DeltaStateRead> {
    const doc = await this.collection.findOne({ _id: DeltaStateStore.id(tenantId, kind) });
    if (!doc) return { state: undefined };
    try {
      const link = this.keyRing.decrypt(doc.link, DeltaStateStore.context(tenantId, kind));
      return { state: { link, select: doc.select, roundStartedAt: doc.roundStartedAt } };
    } catch {
      return { state: undefined, unreadable: true };
    }
  }

  /** The state with its link encrypted for the tenant and kind, for `save`. */
  seal(tenantId: string, kind: string, state: DeltaState): SealedDeltaState {
    return { ...state, link: this.keyRing.encrypt(state.link, DeltaStateStore.context(tenantId, kind)) };
  }

  /** Saves the kind's state under the run's lease (LEASE_LOST when a newer run holds the tenant). */
  async save(fence: WriteFence, kind: string, runId: string, state: SealedDeltaState): Promise<void> {
    const { maxTimeMS } = await fence.assertCurrent();
    const { tenantId, token } = fence;
    const _id = DeltaStateStore.id(tenantId, kind);
    const $set = {
      tenantId,
      kind,
      link: state.link,
      select: state.select,
      roundStartedAt: state.roundStartedAt,
      savedAt: new Date(),
      runId,
      fence: token,
    };
    try {
      // A document of a newer fence does not match, and the upsert's insert then meets its _id.
      await this.collection.updateOne({ _id, fence: { $lte: token } }, { $set }, { upsert: true, maxTimeMS });
    } catch (error) {
      if (isDuplicateKey(error)) throw leaseLost(`the delta state of ${kind}`, tenantId);
      throw error;
    }
  }

  /**
   * Forgets a tenant's states of `kinds` (its objects of those kinds were purged): a delta round from
   * an old link would not bring back what the purge removed, so the next run of each is a full pull.
   */
  async forget(tenantId: string, kinds: readonly string[]): Promise<number> {
    const ids = kinds.map((kind) => DeltaStateStore.id(tenantId, kind));
    return (await this.collection.deleteMany({ _id: { $in: ids } })).deletedCount;
  }
}
