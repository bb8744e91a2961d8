/**
 * Pausing and resuming all syncs at once, for a maintenance window (`POST /queue/pause|resume`,
 * `m365sync queue pause|resume`): paused, workers take no new sync jobs (runs already going finish)
 * and requests, scheduled ones included, wait in the queue (still one per tenant). BullMQ `pause()`
 * and `resume()`; the change is logged with who made it.
 */
import type { Queue } from 'bullmq';
import { checkedActor } from '../domain/actor.js';

export async function pauseSyncs(
  queue: Queue,
  change: { paused: boolean; by: string },
  logger: { warn(fields: object, message: string): void },
): Promise<void> {
  const by = checkedActor(change.by, 'by');
  if (change.paused) await queue.pause();
  else await queue.resume();
  logger.warn({ by }, change.paused ? 'sync queue paused' : 'sync queue resumed');
}
