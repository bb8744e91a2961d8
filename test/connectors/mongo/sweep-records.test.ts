/**
 * Sweep marks under concurrent runs: two runs (two connections, as two workers) reach a kind's mark at
 * the same moment. FerretDB runs an upsert as a read then an insert, so two racing upserts of a missing
 * mark collide on its `_id` (E11000), which a frozen worker's resumed run made happen in the fault suite
 * and which failed the newer run's kinds. A collision between equals is not a lost lease.
 */
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SweepRecordStore } from '../../../connectors/mongo/sweep-records.js';
import { SyncError } from '../../../domain/errors.js';
import { storeBackends, testMongo, type TestMongo } from '../../support/services.js';

const RACES = 25;

describe.each(storeBackends())('sweep marks on $name', ({ uri }) => {
  let mongo: TestMongo;
  let other: MongoClient;
  let a: SweepRecordStore;
  let b: SweepRecordStore;
  beforeAll(async () => {
    mongo = await testMongo('sweep-marks', uri);
    other = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
    await other.connect();
    a = new SweepRecordStore(mongo.db);
    b = new SweepRecordStore(other.db(mongo.db.databaseName));
  });
  afterAll(async () => {
    await other.close();
    await mongo.close();
  });

  it('raises the read token of a new mark from two runs at once, to the higher token', async () => {
    for (let i = 0; i < RACES; i++) {
      const kind = `read-${i}`;
      await Promise.all([a.raiseRead('t1', kind, 1), b.raiseRead('t1', kind, 2)]);
      expect((await a.latest('t1', kind))?.readToken).toBe(2);
    }
  });

  it('records the newer run’s decision when it races an older run’s first read of the kind', async () => {
    for (let i = 0; i < RACES; i++) {
      const kind = `mark-${i}`;
      await Promise.all([
        a.raiseRead('t1', kind, 1),
        b.mark('t1', kind, { token: 2, runId: 'newer', held: false }),
      ]);
      expect(await a.latest('t1', kind)).toMatchObject({ token: 2, runId: 'newer', readToken: 1 });
    }
  });

  it('still refuses an older run’s decision once a newer run has recorded one', async () => {
    await a.mark('t1', 'users', { token: 5, runId: 'newer', held: false });
    const older = await b.mark('t1', 'users', { token: 4, runId: 'older', held: true }).catch((e) => e);
    expect(older).toBeInstanceOf(SyncError);
    expect((older as SyncError).code).toBe('LEASE_LOST');
    expect(await a.latest('t1', 'users')).toMatchObject({ token: 5, runId: 'newer' });
  });
});
