/**
 * One run's recorder of one tenant's changes (changes.ts): hands out the tenant's sequence numbers,
 * writes the change records, and advances the committed high-water mark only over numbers whose
 * records are written and whose objects' writes have finished.
 *
 * Why this is correct with several kinds writing at once (docs/engine.md, "The change feed"):
 * - Only the lease holder records (every write is fenced: the sequence document carries the newest
 *   fence token that wrote it, and filters `fence <= token`), so the numbers are handed out here, in
 *   memory, one block per batch, after `next` is raised in the store (a newer run reads `next` and
 *   never hands out a number twice). FerretDB v1 applies updates as read-modify-write, which is safe
 *   with one writer.
 * - A batch's records are written before its objects (`record(entries, write)`), then the batch is
 *   done. `committed` moves to just below the oldest batch still in flight (or to the last number
 *   handed out when none is), so a reader, who reads only `seq <= committed`, never pages past a
 *   record that is still to be written: no change skipped, none seen twice.
 * - A run that dies between its records and `committed` leaves them past the mark: the next run of
 *   the tenant, at its first record, first raises `committed` to its `next - 1` (no other writer is
 *   left), so they appear then. A record whose object write failed (the run lost its lease) may
 *   therefore appear although its object was not written: the feed is at-least-once, never lossy.
 */
import { ignoreBecause } from '../../domain/ignored-failure.js';
import { SyncError } from '../../domain/errors.js';
import type { ChangeEntry } from '../../domain/changes.js';
import type { ChangeDocument, ChangeStore } from './changes.js';
import { isDuplicateKey } from './duplicate-key.js';
import type { WriteFence } from './leases.js';
import { gated, type WriteLimits } from './write-limits.js';

function changesLost(tenantId: string): SyncError {
  return new SyncError(
    'LEASE_LOST',
    `A newer sync run has recorded changes of tenant ${tenantId}; this run stops writing. Nothing to do: the newer run completes the sync.`,
  );
}

interface Claimed {
  next: number;
  committed: number;
}

export class ChangeRecorder {
  private baselines: Promise<Record<string, number>> | undefined;
  private claimed: Promise<Claimed> | undefined;
  /** Allocation and record writes one after the other (numbers in order). */
  private queue: Promise<unknown> = Promise.resolve();
  /** Commits one after the other (the mark only grows). */
  private commits: Promise<unknown> = Promise.resolve();
  /** First numbers of the batches handed out whose objects are still being written. */
  private readonly inFlight = new Set<number>();

  constructor(
    private readonly store: ChangeStore,
    readonly tenantId: string,
    readonly runId: string,
    private readonly fence: WriteFence,
    private readonly limits: () => Promise<WriteLimits>,
  ) {}

  /** Whether the kind still needs its baseline marker (its first complete pull records no rows). */
  async needsBaseline(kind: string): Promise<boolean> {
    // Only a success is kept: a read that met MongoDB away is made again by the next batch.
    this.baselines ??= this.store.sequences
      .findOne({ _id: this.tenantId }, { projection: { baselines: 1 } })
      .then(
        (doc) => ({ ...(doc?.baselines ?? {}) }),
        (error: unknown) => {
          this.baselines = undefined;
          throw error;
        },
      );
    return (await this.baselines)[kind] === undefined;
  }

  /**
   * Records `entries`, then runs `write` (the objects' writes), then commits. With no entries, only
   * runs `write`. The batch counts as done when `write` settles either way (a failed write leaves its
   * records: at-least-once).
   */
  async record<T>(entries: readonly ChangeEntry[], write: () => Promise<T>): Promise<T> {
    if (entries.length === 0) return write();
    const first = await this.append(entries);
    let result: T;
    try {
      result = await write();
    } catch (error) {
      // Done either way; the write's error is the one to report, not a commit's after it.
      this.inFlight.delete(first);
      await this.commit().catch(
        ignoreBecause("the write's error is the one to report; the next commit moves the mark"),
      );
      throw error;
    }
    this.inFlight.delete(first);
    await this.commit();
    return result;
  }

  /** Records the kind's baseline marker (its first complete pull), once. */
  async baseline(kind: string): Promise<void> {
    if (!(await this.needsBaseline(kind))) return;
    const first = await this.append([{ kind, op: 'baseline' }]);
    const limits = await this.limits();
    const set = await gated(limits, () =>
      this.store.sequences.updateOne(
        { _id: this.tenantId, fence: { $lte: this.fence.token } },
        { $set: { [`baselines.${kind}`]: first } },
      ),
    );
    if (set.matchedCount === 0) throw changesLost(this.tenantId);
    (await this.baselines!)[kind] = first;
    this.inFlight.delete(first);
    await this.commit();
  }

  /**
   * Hands out a block of numbers (one after the other, fenced), then writes its records: the records
   * of several batches may land in any order, which is why readers stop at the committed mark.
   * Returns the block's first number.
   */
  private async append(entries: readonly ChangeEntry[]): Promise<number> {
    const handedOut = this.queue.then(async () => {
      const claimed = await this.claim();
      const { maxTimeMS } = await this.fence.assertCurrent();
      const first = claimed.next;
      const limits = await this.limits();
      const raised = await gated(limits, () =>
        this.store.sequences.updateOne(
          { _id: this.tenantId, fence: { $lte: this.fence.token } },
          { $max: { next: first + entries.length } },
          { maxTimeMS },
        ),
      );
      if (raised.matchedCount === 0) throw changesLost(this.tenantId);
      claimed.next = first + entries.length;
      this.inFlight.add(first);
      return { first, maxTimeMS, limits };
    });
    this.queue = handedOut.catch(
      ignoreBecause('the next block waits only for this one to settle; its caller hears its failure'),
    );
    const { first, maxTimeMS, limits } = await handedOut;
    const at = new Date();
    const docs: ChangeDocument[] = entries.map((e, i) => ({
      _id: `${this.tenantId}:${first + i}`,
      tenantId: this.tenantId,
      seq: first + i,
      runId: this.runId,
      kind: e.kind,
      ...(e.externalId !== undefined ? { externalId: e.externalId } : {}),
      op: e.op,
      ...(e.fields ? { fields: e.fields } : {}),
      at,
    }));
    try {
      for (let i = 0; i < docs.length; i += limits.docsPerInsert) {
        const chunk = docs.slice(i, i + limits.docsPerInsert);
        await gated(limits, () => this.store.records.insertMany(chunk, { ordered: true, maxTimeMS }));
      }
    } catch (error) {
      // The block stays in flight: the mark never passes records that may be missing. The run fails;
      // the next run of the tenant commits what it finds (claim).
      if (isDuplicateKey(error)) throw changesLost(this.tenantId);
      throw error;
    }
    return first;
  }

  /**
   * At the run's first record: takes the sequence over (raises its fence to ours; a newer run's fence
   * there means ours is lost) and commits what a run before us left uncommitted.
   */
  private claim(): Promise<Claimed> {
    // Only a success is kept (the claim is idempotent: a raise of our own fence, then a read).
    return (this.claimed ??= this.claimOnce().catch((error: unknown) => {
      this.claimed = undefined;
      throw error;
    }));
  }

  private async claimOnce(): Promise<Claimed> {
    const token = this.fence.token;
    const filter = { _id: this.tenantId, fence: { $lte: token } };
    const update = {
      $max: { fence: token },
      $setOnInsert: { next: 1, committed: 0, baselines: {} },
    };
    try {
      await this.store.sequences.updateOne(filter, update, { upsert: true });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      // Exists: a newer run's (the filter missed it) or one inserted at the same moment (FerretDB).
      const again = await this.store.sequences.updateOne(filter, { $max: { fence: token } });
      if (again.matchedCount === 0) throw changesLost(this.tenantId);
    }
    const doc = await this.store.sequences.findOne({ _id: this.tenantId });
    if (!doc || doc.fence !== token) throw changesLost(this.tenantId);
    const claimed = { next: doc.next, committed: doc.committed };
    if (claimed.committed < claimed.next - 1) await this.advance(claimed, claimed.next - 1);
    return claimed;
  }

  /** Moves the mark to just below the oldest batch in flight, or over everything handed out. */
  private commit(): Promise<void> {
    const next = this.commits.then(async () => {
      const claimed = await this.claim();
      const oldest = this.inFlight.size > 0 ? Math.min(...this.inFlight) : claimed.next;
      await this.advance(claimed, oldest - 1);
    });
    this.commits = next.catch(
      ignoreBecause('the next commit waits only for this one to settle; its caller hears its failure'),
    );
    return next;
  }

  private async advance(claimed: Claimed, to: number): Promise<void> {
    if (to <= claimed.committed) return;
    const limits = await this.limits();
    const moved = await gated(limits, () =>
      this.store.sequences.updateOne(
        { _id: this.tenantId, fence: { $lte: this.fence.token } },
        { $max: { committed: to } },
      ),
    );
    if (moved.matchedCount === 0) throw changesLost(this.tenantId);
    claimed.committed = Math.max(claimed.committed, to);
  }
}
