/**
 * The change feed's reader guarantee on the real MongoDB-wire server: while several writers (the kinds
 * of one run, as in a full pull) record batches whose record inserts and object writes finish in any
 * order, a slow reader paging with the cursor never skips a change, never sees one twice, and never
 * sees a change before its object was written (the committed mark stays below every batch in flight).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChangeStore } from '../../../connectors/mongo/changes.js';
import { LeaseStore, type WriteFence } from '../../../connectors/mongo/leases.js';
import { decodeCursor, encodeCursor, parseChangeQuery, type Change } from '../../../domain/changes.js';
import { testMongo, type TestMongo } from '../../support/services.js';

const KINDS = ['users', 'groups', 'teams_users', 'policies'];
const BATCHES = 12;

/** A deterministic jitter (no timing is asserted: it only varies the interleavings). */
function jitter(seed: number): () => Promise<void> {
  let x = seed;
  return () =>
    new Promise((resolve) => {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      setTimeout(resolve, x % 15);
    });
}

describe('the change feed under concurrent writers and a slow reader', { timeout: 120_000 }, () => {
  let mongo: TestMongo;
  let changes: ChangeStore;
  let leases: LeaseStore;
  beforeAll(async () => {
    mongo = await testMongo('change-feed');
    changes = new ChangeStore(mongo.db);
    leases = new LeaseStore(mongo.db);
    await changes.ensureIndexes();
    await leases.ensureIndexes();
  });
  afterAll(async () => mongo?.close());

  it('never skips, never repeats, and never shows a change before its object is written', async () => {
    const tenantId = 'tenant-feed';
    const objects = mongo.db.collection<{ _id: string }>('probe_objects');
    const written: string[] = [];
    let writing = true;

    const run = async (runId: string, seed: number) => {
      const lease = await leases.acquire(tenantId, runId, 30_000);
      if (!lease) throw new Error('lease not acquired');
      const recorder = changes.recorder(tenantId, runId, leases.fence(lease, 30_000));
      await Promise.all(
        KINDS.map(async (kind, k) => {
          const wait = jitter(seed * 31 + k);
          for (let b = 0; b < BATCHES; b++) {
            const ids = Array.from({ length: 1 + ((b + k) % 4) }, (_, i) => `${runId}-${kind}-${b}-${i}`);
            await recorder.record(
              ids.map((externalId) => ({ kind, externalId, op: 'created' as const })),
              async () => {
                await wait(); // the object write takes its time; other batches finish meanwhile
                await objects.insertMany(ids.map((_id) => ({ _id })));
                written.push(...ids);
              },
            );
          }
        }),
      );
      await leases.release(lease);
    };

    const seen: Change[] = [];
    const unwritten: string[] = [];
    const reader = async () => {
      const wait = jitter(7);
      let after = 0;
      for (;;) {
        const done = !writing; // read once more after the writers finished
        const page = await changes.page(tenantId, { after, limit: 3 });
        for (const change of page.changes) {
          seen.push(change);
          if (!(await objects.findOne({ _id: change.externalId! }))) unwritten.push(change.externalId!);
        }
        after = decodeCursor(page.cursor);
        if (done && !page.more) return;
        await wait(); // a slow reader
      }
    };

    const reading = reader();
    // Two runs one after the other (a new lease, the sequence goes on), writers of four kinds each.
    await run('run-1', 1);
    await run('run-2', 2);
    writing = false;
    await reading;

    expect(unwritten).toEqual([]);
    const ids = seen.map((c) => c.externalId!);
    expect(new Set(ids).size).toBe(ids.length); // none twice
    expect([...ids].sort()).toEqual([...written].sort()); // none skipped
    const seqs = seen.map((c) => decodeCursor(c.cursor));
    expect(seqs).toEqual(seqs.map((_, i) => i + 1)); // in sequence order, no gaps
    expect(await changes.committed(tenantId)).toBe(written.length);
  });

  it('commits what a dead run left in flight at the next run’s first record, and fences the dead run out', async () => {
    const tenantId = 'tenant-takeover';
    // Fences that always pass: this checks the sequence document's own fencing (the second line).
    const fence = (token: number): WriteFence => ({
      tenantId,
      token,
      assertCurrent: async () => ({ maxTimeMS: 10_000 }),
    });
    const old = changes.recorder(tenantId, 'run-old', fence(1));
    let entered!: () => void;
    const inWrite = new Promise<void>((resolve) => (entered = resolve));
    let finish!: () => void;
    const stuck = old.record(
      [
        { kind: 'users', externalId: 'a', op: 'created' },
        { kind: 'users', externalId: 'b', op: 'created' },
      ],
      () => {
        entered(); // the records are written; the objects' write hangs (the worker froze)
        return new Promise<void>((resolve) => (finish = resolve));
      },
    );
    await inWrite;
    expect(await changes.committed(tenantId)).toBe(0);
    expect((await changes.page(tenantId, { after: 0, limit: 10 })).changes).toEqual([]);

    const next = changes.recorder(tenantId, 'run-new', fence(2));
    await next.record(
      [{ kind: 'users', externalId: 'c', op: 'updated', fields: ['displayName'] }],
      async () => {},
    );
    const page = await changes.page(tenantId, { after: 0, limit: 10 });
    expect(page.changes.map((c) => [c.externalId, c.runId])).toEqual([
      ['a', 'run-old'],
      ['b', 'run-old'],
      ['c', 'run-new'],
    ]);
    expect(page.changes[2]!.fields).toEqual(['displayName']);

    // The old run wakes up: it can neither record nor move the mark.
    await expect(
      old.record([{ kind: 'users', externalId: 'd', op: 'created' }], async () => {}),
    ).rejects.toThrow(/newer sync run/);
    finish();
    await expect(stuck).rejects.toThrow(/newer sync run/);
    expect(await changes.committed(tenantId)).toBe(3);
  });

  it('prunes records older than the retention, and only those', async () => {
    const short = new ChangeStore(mongo.db, 1);
    const now = new Date('2026-06-01T00:00:00Z');
    const base = { tenantId: 'tenant-prune', runId: 'r', kind: 'users', op: 'created' as const };
    await short.records.insertMany([
      { ...base, _id: 'tenant-prune:1', seq: 1, externalId: 'old', at: new Date('2026-05-30T23:00:00Z') },
      { ...base, _id: 'tenant-prune:2', seq: 2, externalId: 'new', at: new Date('2026-05-31T01:00:00Z') },
    ]);
    expect(await short.prune(now)).toBe(1);
    expect(await short.prune(now)).toBe(0); // at most hourly per process
    const left = await short.records.find({ tenantId: 'tenant-prune' }).toArray();
    expect(left.map((d) => d.externalId)).toEqual(['new']);
  });

  it('refuses a cursor that is not one of its own, and bad lists and limits, naming each field', () => {
    expect(() =>
      parseChangeQuery({ after: 'nonsense', kinds: 'users,nokind', ops: 'moved', limit: '0' }),
    ).toThrow(
      /after: is not a change-feed cursor[\s\S]*kinds: nokind: not a kind[\s\S]*ops: moved: not an operation[\s\S]*limit: must be/,
    );
    expect(parseChangeQuery({ after: encodeCursor(41), kinds: 'users, groups', ops: ['deleted'] })).toEqual({
      after: 41,
      kinds: ['users', 'groups'],
      ops: ['deleted'],
      limit: 100,
    });
  });
});
