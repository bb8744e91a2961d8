/**
 * One lease per tenant in MongoDB, with fencing tokens: the backstop behind the queue's per-tenant
 * de-duplication. Whoever holds a tenant's lease is the only sync run that may write that tenant's
 * imported objects; a run that lost its lease (its process stalled, its network partitioned) must stop
 * writing before another run's sweep can see its writes.
 *
 * Lease documents (collection `sync_leases`), one per acquisition, the newest of a tenant being its
 * lease: { _id: `tenant:token`, tenantId, owner, token, expiresAt, acquiredAt, renewedAt }. `token`
 * only grows: every acquisition takes the newest token + 1, and it is the fencing token of the run
 * that acquired it; older documents are removed once a newer one exists.
 *
 * No transactions. The one atomic step both MongoDB and FerretDB v1 guarantee across connections is
 * an insert with a unique `_id` (FerretDB's findAndModify is not atomic: several callers racing for an
 * expired lease all "won" it in a probe here), so:
 * - acquire: if the newest lease has expired (`expiresAt <= now - clockSkew`), insert `tenant:token+1`;
 *   a duplicate key means someone else acquired it first; a newer lease found after the insert means
 *   our read was stale (others acquired and removed `token+1` meanwhile): we give ours up, so a token
 *   is never handed out twice.
 * - renew / fence check: set `expiresAt = now + ttl` on our document, and check no newer lease exists.
 *   It succeeds only if nobody acquired since us, even if our lease had lapsed in the meantime: then
 *   nobody else took it, so extending it is safe.
 * - release: set our `expiresAt` to the epoch so the next run need not wait.
 *
 * The guarantee (why a zombie cannot write after a new run starts):
 * 1. A writer calls `WriteFence.assertCurrent()` before each write batch and before the sweep. It renews
 *    the lease, then checks no newer lease exists; on success the lease is ours until `t0 + ttl`
 *    where t0 is our clock just before sending the renewal.
 * 2. A new run can acquire only once `expiresAt + clockSkew` has passed on its clock. Either our
 *    renewal landed before the newcomer read the lease (and the newcomer must wait a full ttl), or
 *    the newcomer's lease exists when we check after renewing (and we get LEASE_LOST and write
 *    nothing). Only a renewal of an already lapsed lease can race a newcomer's acquisition; point 4
 *    covers that.
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
import { systemClock, type Clock } from '../../domain/clock.js';
import { SyncError } from '../../domain/errors.js';
import { DEFAULT_SETTINGS } from '../../domain/settings.js';
import { isDuplicateKey } from './duplicate-key.js';

export interface LeaseDocument {
  /** `tenantId:token` */
  _id: string;
  tenantId: string;
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
  /**
   * Allowed difference between worker clocks; an expired lease is taken over only this much later.
   * @default SYNC_LEASE_CLOCK_SKEW_MS's default (5 s)
   */
  clockSkewMs?: number;
  collection?: string;
  /**
   * Where this process reads the time (expiry, renewal, the holder check); tests move a clock of
   * their own instead of sleeping past a ttl.
   * @default systemClock
   */
  clock?: Clock;
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

function leaseId(lease: Lease): string {
  return `${lease.tenantId}:${lease.token}`;
}

export class LeaseStore {
  readonly collection: Collection<LeaseDocument>;
  readonly clockSkewMs: number;
  private readonly clock: Clock;

  constructor(db: Db, options: LeaseOptions = {}) {
    this.collection = db.collection<LeaseDocument>(options.collection ?? 'sync_leases');
    this.clockSkewMs = options.clockSkewMs ?? DEFAULT_SETTINGS.SYNC_LEASE_CLOCK_SKEW_MS;
    this.clock = options.clock ?? systemClock;
  }

  /** The index the newest-lease look-up uses. Idempotent; call at start-up. */
  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex({ tenantId: 1, token: -1 }, { name: 'tenant_token' });
  }

  /** The tenant's lease, or null if another owner holds a live one. */
  async acquire(tenantId: string, owner: string, ttlMs: number): Promise<Lease | null> {
    const now = new Date(this.clock.now());
    const current = await this.newest(tenantId);
    if (current && current.expiresAt.getTime() > now.getTime() - this.clockSkewMs) return null;
    const token = (current?.token ?? 0) + 1;
    const expiresAt = new Date(now.getTime() + ttlMs);
    // The atomic step: of all who read the same expired lease, one inserts `tenant:token` first and
    // the others get a duplicate key.
    try {
      await this.collection.insertOne({
        _id: `${tenantId}:${token}`,
        tenantId,
        token,
        owner,
        expiresAt,
        acquiredAt: now,
        renewedAt: now,
      });
    } catch (error) {
      if (isDuplicateKey(error)) return null;
      throw error;
    }
    // Our read may be stale: meanwhile others may have acquired token, token+1, … and the newest of
    // them removed the older documents, so our insert of `token` did not collide and would hand out a
    // token someone already had. The newest document is never removed, so one newer than ours exists
    // in exactly that case: give up ours.
    if ((await this.newest(tenantId))?.token !== token) {
      await this.collection.deleteOne({ _id: `${tenantId}:${token}`, owner });
      return null;
    }
    await this.collection.deleteMany({ tenantId, token: { $lt: token } });
    return { tenantId, owner, token, expiresAt };
  }

  /** Extends the lease if it is still ours (nobody acquired since); null means it is lost. */
  async renew(lease: Lease, ttlMs: number): Promise<Lease | null> {
    const now = new Date(this.clock.now());
    const expiresAt = new Date(now.getTime() + ttlMs);
    const result = await this.collection.updateOne(
      { _id: leaseId(lease) },
      { $set: { expiresAt, renewedAt: now } },
    );
    if (result.matchedCount === 0 || ((await this.newest(lease.tenantId))?.token ?? 0) > lease.token)
      return null;
    return { ...lease, expiresAt };
  }

  /** Gives the lease up at once, if it is still ours. Its document stays, so tokens keep growing. */
  async release(lease: Lease): Promise<boolean> {
    const result = await this.collection.updateOne(
      { _id: leaseId(lease) },
      { $set: { expiresAt: new Date(0) } },
    );
    return result.matchedCount === 1 && ((await this.newest(lease.tenantId))?.token ?? 0) === lease.token;
  }

  /** Who holds the tenant's lease now (for the API and for tests), or null. */
  async holder(tenantId: string): Promise<Lease | null> {
    const doc = await this.newest(tenantId);
    if (!doc || doc.expiresAt.getTime() <= this.clock.now()) return null;
    return { tenantId, owner: doc.owner, token: doc.token, expiresAt: doc.expiresAt };
  }

  private newest(tenantId: string): Promise<LeaseDocument | null> {
    return this.collection.find({ tenantId }).sort({ token: -1 }).limit(1).next();
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
