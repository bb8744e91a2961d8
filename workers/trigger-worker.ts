/**
 * Turns scheduler triggers into sync jobs.
 *
 * BullMQ job schedulers cannot carry `deduplication` (their template type forbids it, and a scheduler
 * with it stopped firing: bullmq #2954), but a nightly run must not start a second run of a tenant
 * whose previous sync is still going. So a scheduler only produces a small trigger job
 * `{ tenantId, kinds? }` in its own queue ("tenant-sync-triggers"); this worker handles it by calling
 * requestSync (operations/request-sync.ts), as the CLI and the API do: the request's `queued` run
 * record first, then the job, de-duplicated per tenant like any other request. Triggers are cheap and run beside
 * the sync worker without taking one of its concurrency slots. A trigger for a tenant deleted since
 * (its scheduler not yet reconciled away) enqueues nothing.
 *
 * Its queue is declared in queues/schedules.ts, but it lives here: it calls operations/, which
 * queues/ may not import (operations/ imports queues/), and it runs in the worker process.
 */
import { Worker } from 'bullmq';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Stores } from '../connectors/mongo/stores.js';
import { requestSync } from '../operations/request-sync.js';
import { workerConnection, type RedisSettings } from '../queues/connection.js';
import { createSyncQueue, type SyncQueueSettings } from '../queues/sync-queue.js';
import { TRIGGER_QUEUE } from '../queues/schedules.js';

const TriggerData = z.object({ tenantId: z.string().min(1), kinds: z.array(z.string()).optional() });

/**
 * `stores`: where the scheduled sync's run is recorded (and its tenant looked up); `settings`: the
 * worker process's SYNC_ATTEMPTS / SYNC_BACKOFF_MS, fixed in each scheduled sync job.
 */
export function startTriggerWorker(
  redis: RedisSettings,
  log: Logger,
  stores: Pick<Stores, 'tenants' | 'runs' | 'kindLists'>,
  settings?: SyncQueueSettings,
): Worker {
  const syncQueue = createSyncQueue(redis);
  const worker = new Worker(
    TRIGGER_QUEUE,
    async (job) => {
      const data = TriggerData.parse(job.data);
      const found = await stores.tenants.ref(data.tenantId);
      if (!found) {
        log.info({ tenantId: data.tenantId }, 'scheduled sync of a deleted tenant: nothing enqueued');
        return { skipped: 'tenant deleted' };
      }
      const { kinds: _kinds, ...result } = await requestSync(
        { queue: syncQueue, stores, ...(settings ? { settings } : {}) },
        { id: data.tenantId, hierarchy: found.hierarchy },
        { trigger: 'schedule', requestedBy: 'scheduler', ...(data.kinds ? { kinds: data.kinds } : {}) },
      );
      log.info({ tenantId: data.tenantId, ...result }, 'scheduled sync enqueued');
      return result;
    },
    { connection: workerConnection(redis), prefix: redis.prefix, concurrency: 4 },
  );
  worker.on('error', (error) => log.error({ err: { message: error.message } }, 'trigger worker error'));
  worker.on('closed', () => void syncQueue.close());
  return worker;
}
