/**
 * Cancelling a sync run (`DELETE /runs/:id`, `m365sync runs cancel <run>`).
 *
 * - A queued run that no worker has taken: its request leaves the queue (the waiting job is removed,
 *   or the follow-up BullMQ keeps for an active job is dropped) and the record ends `cancelled`.
 * - A running run (or a queued one a worker is taking this very moment): the request is stored on the
 *   run's cancel requests (connectors/mongo/cancel-requests.ts: never on the record its worker is
 *   writing); the worker's lease keeper reads it at each tick (every sixth of
 *   SYNC_LEASE_TTL_MS) and aborts the run, which then writes nothing more, sweeps nothing more, and
 *   ends `cancelled` without a retry. Stored in MongoDB rather than sent as a message, so it reaches
 *   the worker whichever process holds the run and survives a reconnect.
 * - A run that already ended: CONFLICT.
 */
import type { Queue } from 'bullmq';
import type { SyncRun } from '../domain/sync-run.js';
import { SyncError } from '../domain/errors.js';
import { dedupId, followUpKey, type SyncJobData } from '../queues/sync-queue.js';
import type { Uses } from './deps.js';

export type CancelOutcome =
  /** The run had not started: nothing of it runs, its record is `cancelled`. */
  | 'cancelled'
  /** The run is running: its worker stops at its next check and records `cancelled`. */
  | 'cancel-requested';

export interface CancelResult {
  outcome: CancelOutcome;
  run: SyncRun;
}

/** Deletes the tenant's kept follow-up only if it is this request (one atomic step in Redis). */
const DROP_FOLLOW_UP_COMMAND = 'm365syncDropFollowUp';
const DROP_FOLLOW_UP = `if redis.call('HGET', KEYS[1], 'jid') == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export async function cancelRun(
  deps: Uses<'runs', 'queue'>,
  input: { runId: string; by: string },
): Promise<CancelResult> {
  const { queue } = deps;
  const { runs } = deps.stores;
  const { runId, by } = input;
  const run = await runs.get(runId);
  if (!run) throw new SyncError('NOT_FOUND', `No sync run ${runId}.`);
  if (run.status === 'queued' && (await dropQueuedRequest(queue, run))) {
    const ended = await runs.endQueued(run.id, {
      status: 'cancelled',
      error: { code: 'CANCELLED', message: `Cancelled by ${by} before it started.` },
    });
    if (ended) return { outcome: 'cancelled', run: (await runs.get(run.id))! };
  }
  if ((run.status === 'queued' || run.status === 'running') && (await runs.requestCancel(run.id, by)))
    return { outcome: 'cancel-requested', run: (await runs.get(run.id))! };
  const now = (await runs.get(run.id)) ?? run;
  throw new SyncError(
    'CONFLICT',
    `Sync run ${run.id} has already ended (${now.status}); there is nothing to cancel.`,
  );
}

/**
 * Takes a queued request out of the queue: the tenant's kept follow-up (read first: it turns into a
 * job atomically, so one of the two looks sees it), else its waiting or delayed job. False when its
 * job is active (locked by a worker): that run is cancelled through the record instead.
 */
async function dropQueuedRequest(queue: Queue<SyncJobData, unknown, string>, run: SyncRun): Promise<boolean> {
  const client = await queue.backend.client;
  client.defineCommand(DROP_FOLLOW_UP_COMMAND, { numberOfKeys: 1, lua: DROP_FOLLOW_UP });
  const dropped = await client.runCommand(DROP_FOLLOW_UP_COMMAND, [
    followUpKey(queue, dedupId(run.tenantId, run.mode)),
    run.id,
  ]);
  if (Number(dropped) === 1) return true;
  if ((await queue.remove(run.jobId)) === 1) return true;
  // Neither a job nor a kept follow-up: nothing will ever run it.
  return (await queue.getJobState(run.jobId)) === 'unknown';
}
