/**
 * Operators' requests to cancel a run (collection `sync_run_cancel_requests`, `_id` = the run's id,
 * `{ by, at }`): inserted once by whoever asks (the API, the CLI), read by the worker's lease keeper at
 * each tick, never updated.
 *
 * Why not a field on the run's record: the record is written by its worker while it runs (the claim
 * `queued` → `running`, each kind's result), and FerretDB v1 applies an update as a read-modify-write
 * of the whole document, so a request written there from another process raced those writes and one
 * of them was lost (a probe of 8 concurrent `$set`s of different fields on one document lost at least
 * one in each of 50 rounds; in the cluster suite the worker never saw the cancel and the run ended
 * `succeeded`). A document of its own is inserted, never updated: nothing overwrites it and it
 * overwrites nothing. MongoDB applies `$set` atomically; there the split costs one small read a tick.
 *
 * The first request counts (a second one's insert is a duplicate key, ignored). Requests are kept as
 * long as the runs are (a few bytes each, one per cancel an operator asked for).
 */
import type { Collection, Db, ObjectId } from 'mongodb';
import type { SyncRun } from '../../domain/sync-run.js';
import { isDuplicateKey } from './duplicate-key.js';

export const RUN_CANCEL_REQUESTS = 'sync_run_cancel_requests';

export type CancelRequest = NonNullable<SyncRun['cancelRequested']>;

interface CancelRequestDocument extends CancelRequest {
  _id: ObjectId;
}

export function cancelRequests(db: Db): Collection<CancelRequestDocument> {
  return db.collection<CancelRequestDocument>(RUN_CANCEL_REQUESTS);
}

/** Stores the request; a run asked to stop already keeps its first one. */
export async function addCancelRequest(
  collection: Collection<CancelRequestDocument>,
  runId: ObjectId,
  by: string,
): Promise<void> {
  try {
    await collection.insertOne({ _id: runId, by, at: new Date() });
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
  }
}

/** The requests of these runs, by run id (one query: the collection holds only the cancels asked for). */
export async function readCancelRequests(
  collection: Collection<CancelRequestDocument>,
  runIds: readonly ObjectId[],
): Promise<Map<string, CancelRequest>> {
  if (runIds.length === 0) return new Map();
  const docs = await collection.find({ _id: { $in: [...runIds] } }).toArray();
  return new Map(docs.map(({ _id, by, at }) => [_id.toHexString(), { by, at }]));
}
