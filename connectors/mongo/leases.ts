/**
 * One lease per tenant in MongoDB, with fencing tokens: the backstop behind the queue's per-tenant
 * de-duplication. Whoever holds a tenant's lease is the only sync run that may write that tenant's
 * imported objects; a run that lost its lease (its process stalled, its network partitioned) must stop
 * writing before another run's sweep can see its writes.
 *
 * Lease document (collection `sync_leases`, `_id` = tenant id):
 *   { _id, owner, token, expiresAt, acquiredAt, renewedAt }
 * The document is never deleted (release only expires it), so `token` only grows: every acquisition
 * increments it, and it is the fencing token of the run that acquired it.
 *
 * Every operation is one atomic single-document `findOneAndUpdate`, which FerretDB v1 and MongoDB both
 * provide; no transactions.
 * - acquire: filter `{ _id, expiresAt <= now - clockSkew }`, `$inc token`, upsert. A live lease does not
 *   match, the upsert then collides on `_id` and the duplicate-key error means "held by someone else".
 * - renew / fence check: filter `{ _id, token }`, set `expiresAt = now + ttl`. It succeeds only if nobody
 *   acquired since us (acquiring changes the token), even if our lease had lapsed in the meantime: then
 *   nobody else took it, so extending it is safe.
 * - release: filter `{ _id, token }`, set `expiresAt` to the epoch so the next run need not wait.
 *
 * The guarantee (why a zombie cannot write after a new run starts):
 * 1. A writer calls `WriteFence.assertCurrent()` before each write batch and before the sweep. It renews
 *    the lease (atomically, conditional on the token); on success the lease is ours until
 *    `t0 + ttl` where t0 is our clock just before sending the renewal.
 * 2. A new run can acquire only once `expiresAt + clockSkew` has passed on its clock. Renewal and
 *    acquisition are serialised by the server on the one lease document, so either our renewal came
 *    first (and the newcomer must wait a full ttl) or the newcomer's acquisition came first (and our
 *    renewal fails: we get LEASE_LOST and write nothing).
 * 3. The write batch that follows a successful check carries `maxTimeMS` = `writeBudgetMs` (at most half
 *    the ttl), so the server abandons it rather than apply it late; the newcomer's sweep, which comes
 *    after its acquisition and its own pull, therefore sees every write the zombie made.
 * 4. Second line, independent of clocks: each imported document carries the fencing token that last
 *    wrote it, and writes and sweeps only touch documents with a token <= their own. An older run can
 *    never overwrite or delete what a newer run wrote (imported-objects.ts).
 * Assumptions, stated so they can be checked: worker clocks differ by less than `clockSkewMs`, and a
 * request is not delayed in the network for longer than ttl - writeBudget (30 s with the defaults).
 */
import type { Collection, Db } from 'mongodb';
import { SyncError } from '../../domain/errors.js';

export interface LeaseDocument {
  _id: string;
  owner: string;
  token: number;
  expiresAt: Date;
  acquiredAt: Date;
  renewedAt: Date;
}

export interface Lease {
  tenantId: string;
  owner: string;
  /** Fencing token: strictly greater than every token handed out before for this tenant. */
  token: number;
  expiresAt: Date;
}

export interface LeaseOptions {
  /** Allowed difference between worker clocks; an expired lease is taken over only this much later. */
  clockSkewMs?: number;
  collection?: string;
}

/** What a writer needs: the token to stamp, and a check (and renewal) before each write. */
export interface WriteFence {
  readonly tenantId: string;
  readonly token: number;
  /**
   * Throws SyncError LEASE_LOST if another run has acquired the tenant's lease since ours; otherwise
   * renews the lease and returns the time the next write may take on the server.
   */
  assertCurrent(): Promise<{ maxTimeMS: number }>;
}

function isDuplicateKey(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 11000;
}

export class LeaseStore {
  readonly collection: Collection<LeaseDocument>;
  readonly clockSkewMs: number;

  constructor(db: Db, options: LeaseOptions = {}) {
    this.collection = db.collection<LeaseDocument>(options.collection ?? 'sync_leases');
    this.clockSkewMs = options.clockSkewMs ?? 5000;
  }

  /** The tenant's lease, or null if another owner holds a live one. */
  async acquire(tenantId: string, owner: string, ttlMs: number): Promise<Lease | null> {
    const now = new Date();
    try {
      const doc = await this.collection.findOneAndUpdate(
        { _id: tenantId, expiresAt: { $lte: new Date(now.getTime() - this.clockSkewMs) } },
        {
          $inc: { token: 1 },
          $set: { owner, expiresAt: new Date(now.getTime() + ttlMs), acquiredAt: now, renewedAt: now },
        },
        { upsert: true, returnDocument: 'after' },
      );
      if (!doc) return null;
      return { tenantId, owner: doc.owner, token: doc.token, expiresAt: doc.expiresAt };
    } catch (error) {
      if (isDuplicateKey(error)) return null;
      throw error;
    }
  }

  /** Extends the lease if it is still ours (nobody acquired since); null means it is lost. */
  async renew(lease: Lease, ttlMs: number): Promise<Lease | null> {
    const now = new Date();
    const doc = await this.collection.findOneAndUpdate(
      { _id: lease.tenantId, token: lease.token },
      { $set: { expiresAt: new Date(now.getTime() + ttlMs), renewedAt: now } },
      { returnDocument: 'after' },
    );
    if (!doc) return null;
    return { ...lease, expiresAt: doc.expiresAt };
  }

  /** Gives the lease up at once, if it is still ours. The token stays, so tokens keep growing. */
  async release(lease: Lease): Promise<boolean> {
    const result = await this.collection.updateOne(
      { _id: lease.tenantId, token: lease.token },
      { $set: { expiresAt: new Date(0) } },
    );
    return result.matchedCount === 1;
  }

  /** Who holds the tenant's lease now (for the API and for tests), or null. */
  async holder(tenantId: string): Promise<Lease | null> {
    const doc = await this.collection.findOne({ _id: tenantId });
    if (!doc || doc.expiresAt.getTime() <= Date.now()) return null;
    return { tenantId, owner: doc.owner, token: doc.token, expiresAt: doc.expiresAt };
  }

  /** A fence for writes under this lease. */
  fence(lease: Lease, ttlMs: number): WriteFence {
    return new LeaseFence(this, lease, ttlMs);
  }
}

class LeaseFence implements WriteFence {
  readonly tenantId: string;
  readonly token: number;

  constructor(
    private readonly store: LeaseStore,
    private readonly lease: Lease,
    private readonly ttlMs: number,
  ) {
    this.tenantId = lease.tenantId;
    this.token = lease.token;
  }

  async assertCurrent(): Promise<{ maxTimeMS: number }> {
    const renewed = await this.store.renew(this.lease, this.ttlMs);
    if (!renewed) {
      throw new SyncError(
        'LEASE_LOST',
        `This sync run lost the lease on tenant ${this.tenantId} (another run took over after this worker stalled or lost its connection); it stops writing. Nothing to do: the newer run completes the sync.`,
      );
    }
    return { maxTimeMS: Math.max(1, Math.floor(this.ttlMs / 2)) };
  }
}
