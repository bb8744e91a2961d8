/**
 * What the latest sweep of each tenant and kind decided, and the full id lists of held sweeps.
 *
 * Since a run no longer writes to the documents of unchanged objects, "which run saw this object
 * last" is not in the documents. Approving a held sweep needs it (delete only what is still unseen),
 * so each run records its sweep decision here per tenant and kind, before it deletes or holds:
 *
 * - `sweep_marks`, one document per tenant and kind: `{ _id: 'tenant:kind', tenantId, kind, token,
 *   runId, held, at }`. Written only by a run whose fence token is at least the stored one (the filter
 *   carries `token <= own`; an upsert that finds a newer mark fails on the duplicate `_id`), so an
 *   older run can never mark itself the latest.
 *   `readToken` is raised by every run before it reads the kind's stored picture; a run checks before
 *   each write and delete batch that no newer run has read since (else LEASE_LOST), so an older run
 *   cannot delete an unchanged object that a newer run saw (and wrote nothing to).
 * - `held_deletes`, the externalIds a held sweep would have deleted, in chunks of 5,000:
 *   `{ _id: 'run:kind:n', runId, kind, tenantId, ids }`.
 */
import type { Collection, Db } from 'mongodb';
import { leaseLost } from './kind-writer.js';
import { isDuplicateKey } from './duplicate-key.js';

export interface SweepMark {
  _id: string;
  tenantId: string;
  kind: string;
  token: number;
  runId: string;
  held: boolean;
  at: Date;
  /** The newest fence token that has read the kind's stored picture (raised before reading). */
  readToken?: number;
}

interface HeldChunk {
  _id: string;
  runId: string;
  kind: string;
  tenantId: string;
  ids: string[];
}

const CHUNK = 5000;

export class SweepRecordStore {
  private readonly marks: Collection<SweepMark>;
  private readonly held: Collection<HeldChunk>;

  constructor(db: Db) {
    this.marks = db.collection<SweepMark>('sweep_marks');
    this.held = db.collection<HeldChunk>('held_deletes');
  }

  /** Records the run's sweep decision for the kind; LEASE_LOST if a newer run has recorded one. */
  async mark(tenantId: string, kind: string, o: { token: number; runId: string; held: boolean }) {
    const _id = `${tenantId}:${kind}`;
    const filter = { _id, token: { $lte: o.token } };
    const update = { $set: { tenantId, kind, ...o, at: new Date() } };
    try {
      await this.marks.updateOne(filter, update, { upsert: true });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      // The mark exists: either a newer run's (the filter did not match it), or one that another run
      // inserted at the same moment (an upsert is not atomic on FerretDB). Only the former is a loss.
      const again = await this.marks.updateOne(filter, update);
      if (again.matchedCount === 0) throw leaseLost(kind, tenantId);
    }
  }

  /** Raises the kind's `readToken` to `token` (before this run reads the stored picture). */
  async raiseRead(tenantId: string, kind: string, token: number): Promise<void> {
    const filter = { _id: `${tenantId}:${kind}` };
    const raise = { $max: { readToken: token } };
    try {
      await this.marks.updateOne(
        filter,
        { ...raise, $setOnInsert: { tenantId, kind, token: 0, runId: '', held: false, at: new Date() } },
        { upsert: true },
      );
    } catch (error) {
      // Another run inserted the mark at the same moment (FerretDB does not retry a racing upsert the
      // way MongoDB does on an `_id` match): it exists now, so raise it.
      if (!isDuplicateKey(error)) throw error;
      await this.marks.updateOne(filter, raise);
    }
  }

  /** LEASE_LOST if a run with a newer token has read the kind's stored picture. */
  async assertNoNewerReader(tenantId: string, kind: string, token: number): Promise<void> {
    const mark = await this.marks.findOne({ _id: `${tenantId}:${kind}` }, { projection: { readToken: 1 } });
    if ((mark?.readToken ?? 0) > token) throw leaseLost(kind, tenantId);
  }

  latest(tenantId: string, kind: string): Promise<SweepMark | null> {
    return this.marks.findOne({ _id: `${tenantId}:${kind}` });
  }

  async recordHeld(tenantId: string, kind: string, runId: string, ids: readonly string[]): Promise<void> {
    const chunks: HeldChunk[] = [];
    for (let i = 0; i < ids.length; i += CHUNK)
      chunks.push({
        _id: `${runId}:${kind}:${i / CHUNK}`,
        runId,
        kind,
        tenantId,
        ids: ids.slice(i, i + CHUNK),
      });
    if (chunks.length > 0) await this.held.insertMany(chunks);
  }

  async heldIds(runId: string, kind: string): Promise<string[]> {
    const out: string[] = [];
    for await (const chunk of this.held.find({ runId, kind }).sort({ _id: 1 })) out.push(...chunk.ids);
    return out;
  }

  /** Forgets a tenant's marks and held lists (purge). */
  async purge(tenantId: string, kinds: readonly string[]): Promise<void> {
    await this.marks.deleteMany({ tenantId, kind: { $in: [...kinds] } });
    await this.held.deleteMany({ tenantId, kind: { $in: [...kinds] } });
  }
}
