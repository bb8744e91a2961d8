import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoClient, ObjectId, type CommandStartedEvent } from 'mongodb';
import { ImportedObjectStore } from '../../../connectors/mongo/imported-objects.js';
import { LeaseStore, type WriteFence } from '../../../connectors/mongo/leases.js';
import { StoredKeys, type StoredKeyDocument } from '../../../connectors/mongo/stored-keys.js';
import { SweepRecordStore } from '../../../connectors/mongo/sweep-records.js';
import { SyncError } from '../../../domain/errors.js';
import { TestClock } from '../../support/clock.js';
import { storeBackends, testMongo, type TestMongo } from '../../support/services.js';

const tenant = { id: 'tenant-a', hierarchy: 'provider.reseller.a' };
const users = (ids: number[], name = 'User') =>
  ids.map((i) => ({ id: `u${i}`, displayName: `${name} ${i}`, '@odata.type': '#microsoft.graph.user' }));

describe.each(storeBackends())('imported objects on $name', ({ uri }) => {
  let mongo: TestMongo;
  let monitored: MongoClient;
  let objects: ImportedObjectStore;
  let leases: LeaseStore;
  let fence: WriteFence;
  /** The leases' time: a test lets a lease expire by moving it, not by sleeping. */
  const clock = new TestClock();
  /** Write commands (insert / update / delete) sent to the `users` collection. */
  const writes: CommandStartedEvent[] = [];
  beforeAll(async () => {
    mongo = await testMongo('imported', uri);
    // A second client on the same database that records every command it sends.
    monitored = new MongoClient(uri, { monitorCommands: true });
    monitored.on('commandStarted', (e) => {
      if (['insert', 'update', 'delete'].includes(e.commandName) && e.command[e.commandName] === 'users')
        writes.push(e);
    });
    const db = monitored.db(mongo.db.databaseName);
    objects = new ImportedObjectStore(db, new SweepRecordStore(db));
    await objects.ensureIndexes();
    leases = new LeaseStore(mongo.db, { clockSkewMs: 0, clock });
    fence = leases.fence((await leases.acquire(tenant.id, 'test', 60_000))!, 60_000);
  });
  afterAll(async () => {
    await monitored?.close();
    await mongo?.close();
  });

  it('counts created, updated and unchanged, writes nothing to unchanged objects, and sweeps what the run did not see', async () => {
    const run1 = objects.writer('users', tenant, 'run1', fence);
    expect(await run1.write(users([1, 2, 3, 4]))).toEqual({ created: 4, updated: 0, unchanged: 0 });
    expect(await run1.sweep()).toBe(0);

    // Run 2: u1 unchanged, u2 renamed, u3 and u4 gone, u5 new; a repeated object counts once.
    writes.length = 0;
    const run2 = objects.writer('users', tenant, 'run2', fence);
    const page = [...users([1]), ...users([2], 'Renamed'), ...users([5]), ...users([5])];
    expect(await run2.write(page)).toEqual({ created: 1, updated: 1, unchanged: 1 });
    expect(await run2.unseen()).toEqual(['u3', 'u4']);
    expect(await run2.storedCount()).toBe(5);
    expect(await run2.sweep()).toBe(2);
    // One insert (u5), one update (u2) and the deletes: nothing sent about u1.
    const sent = JSON.stringify(writes.map((e) => e.command));
    expect(writes.map((e) => e.commandName).sort()).toEqual(['delete', 'insert', 'update']);
    expect(sent).not.toContain('"u1"');

    const stored = await objects
      .collection('users')
      .find({ tenantId: tenant.id })
      .sort({ externalId: 1 })
      .toArray();
    expect(stored.map((d) => [d.externalId, d.syncRunId, d.hierarchy])).toEqual([
      ['u1', 'run1', tenant.hierarchy],
      ['u2', 'run2', tenant.hierarchy],
      ['u5', 'run2', tenant.hierarchy],
    ]);
    // The unchanged object was not rewritten: its updatedAt is still run 1's.
    const u1 = stored[0]!;
    expect(u1.updatedAt.getTime()).toBe(u1.firstSeenAt.getTime());
    expect(stored[0]!.data['@odata%2Etype']).toBe('#microsoft.graph.user');
    const decoded = [];
    for await (const o of objects.objects('users', tenant.id)) decoded.push(o);
    expect(decoded).toEqual([...users([1]), ...users([2], 'Renamed'), ...users([5])]);
  });

  it('sweeps many unseen objects with one $in delete, still sparing what a newer run wrote', async () => {
    const t = { id: 'tenant-many', hierarchy: 'many' };
    const ids = Array.from({ length: 60 }, (_, i) => i + 1);
    const seed = objects.writer('users', t, 'seed', fence);
    await seed.write(users(ids));
    expect(await seed.sweep()).toBe(0);
    // u60 was written meanwhile by a run with a newer token: no older sweep may delete it.
    await objects
      .collection('users')
      .updateOne({ tenantId: t.id, externalId: 'u60' }, { $set: { fence: fence.token + 1 } });

    writes.length = 0;
    const run = objects.writer('users', t, 'sees-five', fence);
    expect(await run.write(users([1, 2, 3, 4, 5]))).toEqual({ created: 0, updated: 0, unchanged: 5 });
    expect(await run.sweep()).toBe(54);
    // One delete command with one statement: a `$in` of the 55 unseen ids (not 55 statements).
    const deletes = writes.filter((e) => e.commandName === 'delete');
    expect(deletes).toHaveLength(1);
    expect(deletes[0]!.command.deletes).toHaveLength(1);
    expect(deletes[0]!.command.deletes[0].q._id.$in).toHaveLength(55);
    const left = await objects.collection('users').find({ tenantId: t.id }).sort({ externalId: 1 }).toArray();
    expect(left.map((d) => d.externalId)).toEqual(['u1', 'u2', 'u3', 'u4', 'u5', 'u60']);
  });

  it('counts an object delivered twice in one run once (a restarted collection)', async () => {
    const t = { id: 'tenant-r', hierarchy: 'r' };
    const f = leases.fence((await leases.acquire(t.id, 'test', 60_000))!, 60_000);
    const first = objects.writer('users', t, 'first', f);
    // Pages 1-2, then the collection restarts and delivers pages 1-3.
    const pages = [users([1, 2]), users([3, 4]), users([1, 2]), users([3, 4]), users([5, 6])];
    const sum = { created: 0, updated: 0, unchanged: 0 };
    for (const p of pages) {
      const d = await first.write(p);
      sum.created += d.created;
      sum.updated += d.updated;
      sum.unchanged += d.unchanged;
    }
    expect(sum).toEqual({ created: 6, updated: 0, unchanged: 0 });
    expect(first.counts).toEqual(sum);

    // Next run: the same restart; one object changes between the deliveries (counted updated once).
    const second = objects.writer('users', t, 'second', f);
    for (const p of [users([1, 2]), users([3, 4]), users([1], 'Changed'), users([2, 3, 4, 5, 6])])
      await second.write(p);
    expect(second.counts).toEqual({ created: 0, updated: 1, unchanged: 5 });
    expect(await second.sweep()).toBe(0);
    expect(await objects.collection('users').countDocuments({ tenantId: t.id })).toBe(6);
  });

  it("never touches another tenant's objects", async () => {
    const other = { id: 'tenant-b', hierarchy: 'b' };
    const otherFence = leases.fence((await leases.acquire(other.id, 'test', 60_000))!, 60_000);
    await objects.writer('users', other, 'runB', otherFence).write(users([1, 2]));
    expect(await objects.writer('users', tenant, 'run3', fence).sweep()).toBe(3);
    expect(await objects.collection('users').countDocuments({ tenantId: other.id })).toBe(2);
  });

  it('restamps the hierarchy of unchanged objects when the tenant moved, still counting them unchanged', async () => {
    const t = { id: 'tenant-h', hierarchy: 'old.place' };
    const f = leases.fence((await leases.acquire(t.id, 'test', 60_000))!, 60_000);
    await objects.writer('users', t, 'r1', f).write(users([1, 2]));
    const moved = { ...t, hierarchy: 'new.place' };
    const w = objects.writer('users', moved, 'r2', f);
    expect(await w.write(users([1, 2]))).toEqual({ created: 0, updated: 0, unchanged: 2 });
    const docs = await objects.collection('users').find({ tenantId: t.id }).toArray();
    expect(docs.map((d) => d.hierarchy)).toEqual(['new.place', 'new.place']);
  });

  it('reads the stored picture from raw documents exactly as from deserialized ones, odd documents included', async () => {
    const col = mongo.db.collection('stored_keys_raw');
    const hash = 'Zq-_09azAZ' + 'x'.repeat(33);
    const docs: Record<string, unknown>[] = [
      { externalId: 'plain', contentHash: hash, fence: 3, hierarchy: 'p.r' },
      { externalId: 'elsewhere', contentHash: hash, fence: 4, hierarchy: 'p.other' },
      { externalId: 'no-hierarchy', contentHash: hash, fence: 5 },
      { externalId: 'accented-hierarchy', contentHash: hash, fence: 6, hierarchy: 'p.rë' },
      { externalId: 'üser-ß-名', contentHash: hash, fence: 7, hierarchy: 'p.r' },
      { _id: 'a-string-id', externalId: 'string-id', contentHash: hash, fence: 8, hierarchy: 'p.r' },
      { externalId: 'double-fence', contentHash: hash, fence: 1.5, hierarchy: 'p.r' },
      { externalId: 'big-fence', contentHash: hash, fence: 2 ** 40, hierarchy: 'p.r' },
      { externalId: 'no-fence', contentHash: hash, hierarchy: 'p.r' },
      { externalId: 'short-hash', contentHash: 'abc', fence: 1, hierarchy: 'p.r' },
      { externalId: 'eight-hash', contentHash: 'abcdefgh', fence: 1, hierarchy: 'p.r' },
      { externalId: 'no-hash', fence: 1, hierarchy: 'p.r' },
      { externalId: 'number-hash', contentHash: 5, fence: 1, hierarchy: 'p.r' },
      { externalId: 'dotted-hash', contentHash: 'abc.defghijk', fence: 1, hierarchy: 'p.r' },
      { externalId: 'accented-hash', contentHash: `ä${hash}`, fence: 1, hierarchy: 'p.r' },
      { externalId: 'null-fence', contentHash: hash, fence: null, hierarchy: 'p.r' },
      { externalId: 42, contentHash: hash, fence: 1, hierarchy: 'p.r' },
      { externalId: '', contentHash: hash, fence: 1, hierarchy: 'p.r' },
    ];
    await col.insertMany(docs.map((d, i) => ({ _id: new ObjectId(), tenantId: `raw-${i % 2}`, ...d })));
    for (const tenantId of ['raw-0', 'raw-1'])
      for (const hierarchy of ['p.r', 'p.rë', undefined]) {
        const raw = await StoredKeys.load(col as never, tenantId, hierarchy);
        const reference = new StoredKeys();
        const projection = { _id: 1, externalId: 1, contentHash: 1, fence: 1, hierarchy: 1 };
        for (const doc of await col.find({ tenantId }, { projection }).sort({ _id: 1 }).toArray())
          reference.addStored(doc as unknown as StoredKeyDocument, hierarchy);
        const picture = (keys: StoredKeys) =>
          docs.map(({ externalId }) => {
            const at = keys.find(externalId as string);
            if (at === undefined) return [externalId];
            const id = keys.id(at);
            return [externalId, at, String(id), id instanceof ObjectId, keys.hash(at), keys.fence(at)].concat(
              [keys.state(at), keys.needsRestamp(at)],
            );
          });
        expect(raw.size).toBe(docs.length / 2);
        expect(picture(raw)).toEqual(picture(reference));
      }
  });

  it('refuses an object without its id property', async () => {
    await expect(
      objects.writer('licences', tenant, 'r', fence).write([{ id: 'not-a-skuId' }]),
    ).rejects.toThrow(/no "skuId" property/);
  });

  it('lets a run with an older token neither write nor sweep, even past the lease check', async () => {
    const t = { id: 'tenant-z', hierarchy: 'z' };
    const old = (await leases.acquire(t.id, 'old', 100))!;
    // A fence that lies about being current (a check that raced a takeover).
    const lying: WriteFence = {
      tenantId: t.id,
      token: old.token,
      assertCurrent: async () => ({ maxTimeMS: 5000 }),
    };
    await objects.writer('users', t, 'seed', lying).write(users([1, 3]));
    // Old runs that read their picture (u1, u3) before the newer run started.
    const zombies = ['a', 'b', 'c', 'd'].map((n) => objects.writer('users', t, `old-${n}`, lying));
    for (const z of zombies) await z.stored();

    clock.advance(150); // the old lease (100 ms) has expired
    const newer = (await leases.acquire(t.id, 'new', 60_000))!;
    const fresh = objects.writer('users', t, 'newRun', leases.fence(newer, 60_000));
    await fresh.write([...users([1, 2], 'New'), ...users([3])]); // u3 unchanged: nothing written to it

    // Through the lease check: refused before writing.
    await expect(
      objects.writer('users', t, 'oldRun2', leases.fence(old, 100)).write(users([1, 9])),
    ).rejects.toThrow(SyncError);
    // Past a lying lease check, the newer run's read mark stops them: no write, no sweep.
    await expect(zombies[0]!.write(users([1], 'Zombie'))).rejects.toMatchObject({ code: 'LEASE_LOST' });
    await expect(zombies[1]!.sweep()).rejects.toMatchObject({ code: 'LEASE_LOST' });
    const all = async () =>
      (await objects.collection('users').find({ tenantId: t.id }).sort({ externalId: 1 }).toArray()).map(
        (d) => [d.externalId, d.syncRunId, d.data.displayName],
      );
    const expected = [
      ['u1', 'newRun', 'New 1'],
      ['u2', 'newRun', 'New 2'],
      ['u3', 'seed', 'User 3'],
    ];
    expect(await all()).toEqual(expected);

    // Even if that check raced too (the mark removed here), the per-document token keeps the newer
    // run's writes: the update of u1 matches nothing, the sweep deletes u3 (unchanged, not written by
    // the newer run) but not u1.
    await mongo.db.collection('sweep_marks').deleteMany({ tenantId: t.id });
    await expect(zombies[2]!.write(users([1], 'Zombie'))).rejects.toMatchObject({ code: 'LEASE_LOST' });
    expect(await zombies[3]!.sweep()).toBe(1);
    expect(await all()).toEqual(expected.slice(0, 2));
  });
});
