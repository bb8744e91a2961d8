import type { Queue } from 'bullmq';
import {
  addSyncJob,
  prepareSync,
  type EnqueueResult,
  type SyncJobData,
  type SyncQueueSettings,
  type SyncRequest,
} from '../../../queues/sync-queue.js';

/**
 * A sync of one tenant queued with no run record (prepareSync, then addSyncJob): for tests that drive
 * the queue and the worker alone. What operators and the scheduler ask is recorded first
 * (operations/request-sync.ts enqueueRecorded); the worker then records the run when it starts.
 */
export async function enqueueUnrecorded(
  queue: Queue<SyncJobData, unknown, string>,
  request: SyncRequest,
  settings?: SyncQueueSettings,
): Promise<EnqueueResult> {
  return addSyncJob(queue, await prepareSync(queue, request), settings);
}
