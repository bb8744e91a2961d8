/**
 * Pausing and resuming all syncs at once, for a maintenance window (`POST /queue/pause|resume`,
 * `m365sync queue pause|resume`): paused, workers take no new sync jobs (runs already going finish)
 * and requests, scheduled ones included, wait in the queue (still one per tenant). BullMQ `pause()`
 * and `resume()`; the change is logged with who made it.
 */
import { checkedActor } from '../domain/actor.js';
import type { OperationDeps, Uses } from './deps.js';

export async function pauseSyncs(
  deps: Uses<never, 'queue'> & { logger: Pick<OperationDeps['logger'], 'warn'> },
  input: { paused: boolean; by: string },
): Promise<void> {
  const by = checkedActor(input.by, 'by');
  if (input.paused) await deps.queue.pause();
  else await deps.queue.resume();
  deps.logger.warn({ by }, input.paused ? 'sync queue paused' : 'sync queue resumed');
}
