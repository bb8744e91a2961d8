/**
 * A burst of run-record updates (a hundred API requests merging into waiting jobs at once) stays
 * within the process's update cap on FerretDB (connectors/mongo/write-limits.ts), so the server keeps
 * answering: FerretDB v1 on PostgreSQL stays wedged for good once about fifty updates are in flight
 * (CI met exactly that in the load test: every later case then hung). On MongoDB there is no cap.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectId } from 'mongodb';
import { SyncRunStore } from '../../../connectors/mongo/sync-runs.js';
import { writeLimitsFor } from '../../../connectors/mongo/write-limits.js';
import { storeBackends, testMongo, type TestMongo } from '../../support/services.js';

const BURST = 100;

describe.each(storeBackends())('a burst of run-record updates on $name', ({ uri }) => {
  let mongo: TestMongo;
  let runs: SyncRunStore;
  beforeAll(async () => {
    mongo = await testMongo('updatecap', uri);
    runs = new SyncRunStore(mongo.db);
  });
  afterAll(async () => mongo?.close());

  it('keeps the server answering, every update applied', async () => {
    const limits = await writeLimitsFor(mongo.db);
    const ids = Array.from({ length: BURST }, () => new ObjectId().toHexString());
    for (const id of ids)
      await runs.recordQueued({
        id,
        tenantId: 't',
        hierarchy: 'p',
        trigger: 'api',
        requestedBy: 'op',
        jobId: id,
      });
    let inFlight = 0;
    let most = 0;
    limits.updates?.on('executing', () => (most = Math.max(most, ++inFlight)));
    limits.updates?.on('done', () => inFlight--);
    const ended = await Promise.all(
      ids.map((id) => runs.endQueued(id, { status: 'merged', mergedInto: 'x' })),
    );
    expect(ended.every(Boolean)).toBe(true);
    if (limits.server === 'ferretdb') expect(most).toBeLessThanOrEqual(8);
    // The server still answers a write and a read.
    await mongo.db.collection('probe').insertOne({ ok: 1 });
    expect(await mongo.db.collection('probe').countDocuments()).toBe(1);
  });
});
