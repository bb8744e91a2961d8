/**
 * An operator's cancel request is never lost to the writes of the worker that runs the record, on
 * both FerretDB backends: the request (from the API's process) and the worker's claim and kind results
 * (from its own) land at the same moment, over separate connections. FerretDB v1 applies an update as
 * a read-modify-write of the whole document, so when the request was a field of the record it was
 * overwritten (the worker never saw it and the run ended `succeeded`), or it wrote `queued` back over
 * the claim. Each round asks once, while the worker claims the record and records eight kinds.
 */
import { ObjectId } from 'mongodb';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncRunStore } from '../../../connectors/mongo/sync-runs.js';
import type { KindResult } from '../../../domain/sync-run.js';
import { storeBackends, testMongo, type TestMongo } from '../../support/services.js';

const ROUNDS = 20;
const KINDS = 8;

const result: KindResult = {
  status: 'succeeded',
  created: 1,
  updated: 0,
  unchanged: 0,
  deleted: 0,
  durationMs: 1,
};

describe.each(storeBackends())('cancel requests on $name', ({ uri }) => {
  let mongo: TestMongo;
  let workerClient: MongoClient;
  /** The API's view of the records, and the worker's, each over its own connection. */
  let api: SyncRunStore;
  let worker: SyncRunStore;

  beforeAll(async () => {
    mongo = await testMongo('h-cancel-requests', uri);
    workerClient = await new MongoClient(uri, { serverSelectionTimeoutMS: 5000 }).connect();
    api = new SyncRunStore(mongo.db);
    worker = new SyncRunStore(workerClient.db(mongo.db.databaseName));
  });
  afterAll(async () => {
    await workerClient?.close();
    await mongo?.close();
  });

  const queued = async () => {
    const id = new ObjectId().toHexString();
    const tenantId = new ObjectId().toHexString();
    await api.recordQueued({
      id,
      tenantId,
      hierarchy: 'p.c',
      trigger: 'operator',
      requestedBy: 'ops',
      jobId: id,
    });
    return { id, tenantId };
  };

  it('keeps every request asked while the worker claims the record and records its kinds', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { id, tenantId } = await queued();
      const claimAndRecord = async () => {
        await worker.start({
          tenantId,
          hierarchy: 'p.c',
          trigger: 'operator',
          requestedBy: 'ops',
          jobId: id,
          attempt: 1,
          worker: 'w',
          runId: id,
        });
        await Promise.all(Array.from({ length: KINDS }, (_, k) => worker.recordKind(id, `kind${k}`, result)));
      };
      const [asked] = await Promise.all([api.requestCancel(id, `ops-${round}`), claimAndRecord()]);
      expect(asked, `round ${round}`).toBe(true);
      // What the worker's lease keeper reads, and what the API shows.
      expect(await worker.cancelRequest(id), `round ${round}`).toMatchObject({ by: `ops-${round}` });
      expect((await api.get(id))?.cancelRequested, `round ${round}`).toMatchObject({ by: `ops-${round}` });
      // The claim stands: the request wrote nothing over it.
      expect((await api.get(id))?.status, `round ${round}`).toBe('running');
    }
  });

  it('keeps the first request, shows it in lists, and refuses a run that ended', async () => {
    const { id, tenantId } = await queued();
    expect(await api.requestCancel(id, 'first')).toBe(true);
    expect(await api.requestCancel(id, 'second')).toBe(true);
    expect(await worker.cancelRequest(id)).toMatchObject({ by: 'first' });
    const listed = await api.list({ tenantId });
    expect(listed.map((run) => [run.id, run.cancelRequested?.by])).toEqual([[id, 'first']]);

    const other = await queued();
    await api.endQueued(other.id, { status: 'cancelled' });
    expect(await api.requestCancel(other.id, 'late')).toBe(false);
    expect(await worker.cancelRequest(other.id)).toBeUndefined();
    expect(await api.requestCancel('not-an-id', 'ops')).toBe(false);
  });
});
