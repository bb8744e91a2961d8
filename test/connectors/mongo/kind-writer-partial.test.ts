/**
 * A delta round's writer (kind-writer.ts, `namedOnly`): it looks up only the stored objects the round
 * names and those it removed, never every stored key of the kind, and still counts, records, sweeps
 * and protects as a full pull's writer does. A round Graph refuses half-way is pulled in full by the
 * same writer: the whole picture then takes over what the round wrote.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoClient, type CommandSucceededEvent } from 'mongodb';
import { ImportedObjectStore } from '../../../connectors/mongo/imported-objects.js';
import { LeaseStore, type WriteFence } from '../../../connectors/mongo/leases.js';
import { SweepRecordStore } from '../../../connectors/mongo/sweep-records.js';
import { storeBackends, testMongo, type TestMongo } from '../../support/services.js';

const STORED = 120;
const users = (ids: number[], name = 'User') =>
  ids.map((i) => ({ id: `u${i}`, displayName: `${name} ${i}`, '@odata.type': '#microsoft.graph.user' }));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe.each(storeBackends())('a delta round’s writer on $name', ({ uri }) => {
  let mongo: TestMongo;
  let monitored: MongoClient;
  let objects: ImportedObjectStore;
  let fence: WriteFence;
  /** Documents of `users` the store returned to finds (first and later batches). */
  let documentsRead = 0;
  const cursors = new Map<string, boolean>();

  const seed = async (tenant: { id: string; hierarchy: string }) => {
    const writer = objects.writer('users', tenant, 'seed', fence);
    await writer.write(users(range(1, STORED)));
    expect(await writer.sweep()).toBe(0);
    documentsRead = 0;
  };

  beforeAll(async () => {
    mongo = await testMongo('partial', uri);
    monitored = new MongoClient(uri, { monitorCommands: true });
    monitored.on('commandSucceeded', (e: CommandSucceededEvent) => {
      const cursor = (
        e.reply as { cursor?: { id: unknown; ns?: string; firstBatch?: unknown[]; nextBatch?: unknown[] } }
      ).cursor;
      if (!cursor) return;
      const batch = cursor.firstBatch ?? cursor.nextBatch ?? [];
      if (e.commandName === 'find' && cursor.ns?.endsWith('.users')) {
        cursors.set(String(cursor.id), true);
        documentsRead += batch.length;
      } else if (e.commandName === 'getMore' && cursors.has(String(cursor.id))) documentsRead += batch.length;
    });
    const db = monitored.db(mongo.db.databaseName);
    objects = new ImportedObjectStore(db, new SweepRecordStore(db));
    await objects.ensureIndexes();
    const leases = new LeaseStore(mongo.db, { clockSkewMs: 0 });
    fence = leases.fence((await leases.acquire('partial', 'test', 60_000))!, 60_000);
  });
  afterAll(async () => {
    await monitored?.close();
    await mongo?.close();
  });

  it('reads only the objects a round names and removes, and keeps every other stored object', async () => {
    const tenant = { id: 'tenant-round', hierarchy: 'round' };
    await seed(tenant);
    const writer = objects.writer('users', tenant, 'round', fence);
    writer.namedOnly();

    // A page renames u1, repeats u2 as it is, and adds u900.
    const stored = await writer.storedData(['u1', 'u2', 'u900']);
    expect([...stored.keys()].sort()).toEqual(['u1', 'u2']);
    expect(stored.get('u1')).toEqual(users([1])[0]);
    const page = [...users([1], 'Renamed'), stored.get('u2')!, ...users([900])];
    expect(await writer.write(page)).toEqual({ created: 1, updated: 1, unchanged: 1 });

    // The round removed u3, u4 and an object never stored.
    expect(await writer.keepAllBut(new Set(['u3', 'u4', 'u-never']))).toBe(2);
    expect(await writer.unseen()).toEqual(['u3', 'u4']);
    expect(await writer.storedCount()).toBe(STORED + 1);
    // Counted only as far as a sweep's decision needs.
    expect(await writer.storedCount(40)).toBe(40);
    expect(await writer.storedCount(0)).toBe(0);
    expect(await writer.sweep()).toBe(2);
    // Three named objects and two removed ones were read, not the kind's 120 stored keys.
    expect(documentsRead).toBeLessThanOrEqual(5);

    const after = new Map<string, Record<string, unknown>>();
    for await (const o of objects.objects('users', tenant.id)) after.set(String(o.id), o);
    expect(after.size).toBe(STORED - 1);
    expect(after.get('u1')?.displayName).toBe('Renamed 1');
    expect(after.has('u900')).toBe(true);
    expect(after.has('u3') || after.has('u4')).toBe(false);
    expect(after.get('u120')).toEqual(users([120])[0]);
  });

  it('hands over to the whole picture when the round is pulled in full instead, counting what the round wrote once', async () => {
    const tenant = { id: 'tenant-fallback', hierarchy: 'fallback' };
    await seed(tenant);
    const writer = objects.writer('users', tenant, 'fallback', fence);
    writer.namedOnly();
    // The round's first page renames u1 and adds u500; then Graph refuses the round (410).
    await writer.storedData(['u1', 'u500']);
    expect(await writer.write([...users([1], 'Renamed'), ...users([500])])).toEqual({
      created: 1,
      updated: 1,
      unchanged: 0,
    });
    // The full pull that follows lists the tenant as it is: u1 renamed, u500 new, u120 gone.
    await writer.stored();
    const full = [...users([1], 'Renamed'), ...users(range(2, STORED - 1)), ...users([500])];
    expect(await writer.write(full)).toEqual({ created: 0, updated: 0, unchanged: STORED - 2 });
    expect(await writer.unseen()).toEqual([`u${STORED}`]);
    expect(await writer.storedCount()).toBe(STORED + 1);
    expect(await writer.sweep()).toBe(1);
    expect(writer.counts).toEqual({ created: 1, updated: 1, unchanged: STORED - 2 });
  });
});
