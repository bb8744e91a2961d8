/**
 * Turns scheduler triggers into sync jobs.
 *
 * BullMQ job schedulers cannot carry `deduplication` (their template type forbids it, and a scheduler
 * with it stopped firing: bullmq #2954), but a nightly run must not start a second run of a tenant
 * whose previous sync is still going. So a scheduler only produces a small trigger job
 * `{ tenantId, kinds?, mode? }` in its own queue ("tenant-sync-triggers"); this worker handles it by
 * calling requestSync (operations/request-sync.ts), as the CLI and the API do: the request's `queued`
 * run record first, then the job, de-duplicated per tenant like any other request. Triggers are cheap
 * and run beside the sync worker without taking one of its concurrency slots. A trigger for a tenant
 * deleted since (its scheduler not yet reconciled away) enqueues nothing.
 *
 * A delta trigger (`mode: 'delta'`, from the tenant's delta scheduler, queues/delta-schedules.ts)
 * requests a delta run. While a full pull of the tenant runs or waits, that request is refused
 * (CONFLICT: the full pull lands everything the delta run would); and with M365SYNC_DELTA off in this
 * process it is refused too (CONFIGURATION). Both are the schedule working as meant, not failures:
 * the trigger is skipped quietly (a debug line and m365sync_scheduled_delta_skipped_total), leaving
 * no run record, no failed trigger job and no retry; the next interval asks again.
 *
 * Its queue is declared in queues/schedules.ts, but it lives here: it calls operations/, which
 * queues/ may not import (operations/ imports queues/), and it runs in the worker process.
 */
import { Worker } from 'bullmq';
import type { Counter } from 'prom-client';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Stores } from '../connectors/mongo/index.js';
import { SyncError } from '../domain/errors.js';
import { SYNC_MODES } from '../domain/delta.js';
import { registry } from '../observability/metrics.js';
import { metricsOn } from '../observability/metric-factory.js';
import { requestSync } from '../operations/index.js';
import { workerConnection, type RedisSettings } from '../queues/connection.js';
import { createSyncQueue } from '../queues/sync-queue.js';
import { DEFAULT_SETTINGS, type Settings } from '../domain/settings.js';
import { TRIGGER_QUEUE } from '../queues/schedules.js';

const TriggerData = z.object({
  tenantId: z.string().min(1),
  kinds: z.array(z.string()).optional(),
  mode: z.enum(SYNC_MODES).optional(),
});

/**
 * Why a scheduled delta run was not requested (the metric's `reason` label): a full pull of the tenant
 * runs or waits (requestSync's CONFLICT), or M365SYNC_DELTA is off in this worker.
 */
const SKIP_REASONS = ['full_pull', 'delta_off'] as const;
type SkipReason = (typeof SKIP_REASONS)[number];

/** One counter per process (made once per registry), every reason at zero from the start (workers/metrics.ts says why). */
function skippedCounter(): Counter<'reason'> {
  const skipped = metricsOn(registry).counter({
    name: 'm365sync_scheduled_delta_skipped_total',
    help: 'Scheduled delta runs not requested: full_pull (a full pull of the tenant runs or waits), delta_off (M365SYNC_DELTA is off in this worker)',
    labelNames: ['reason'] as const,
  });
  for (const reason of SKIP_REASONS) skipped.inc({ reason }, 0);
  return skipped;
}

export interface TriggerWorkerOptions {
  /**
   * The worker process's settings (default: the defaults): its SYNC_ATTEMPTS / SYNC_BACKOFF_MS are
   * fixed in each scheduled sync job; with M365SYNC_DELTA off, delta triggers are skipped.
   */
  settings?: Settings;
}

/**
 * `stores`: where the scheduled sync's run is recorded (and its tenant looked up); `options`: the
 * worker process's settings for the syncs it requests.
 */
export function startTriggerWorker(
  redis: RedisSettings,
  log: Logger,
  stores: Pick<Stores, 'tenants' | 'runs' | 'kindLists'>,
  options: TriggerWorkerOptions = {},
): Worker {
  const syncQueue = createSyncQueue(redis);
  const counter = skippedCounter();
  const settings = options.settings ?? DEFAULT_SETTINGS;
  const deps = { queue: syncQueue, stores, settings };
  const skip = (tenantId: string, reason: SkipReason) => {
    counter.inc({ reason });
    log.debug({ tenantId, reason }, 'scheduled delta run skipped');
    return { skipped: reason };
  };
  const worker = new Worker(
    TRIGGER_QUEUE,
    async (job) => {
      const data = TriggerData.parse(job.data);
      const found = await stores.tenants.ref(data.tenantId);
      if (!found) {
        log.info({ tenantId: data.tenantId }, 'scheduled sync of a deleted tenant: nothing enqueued');
        return { skipped: 'tenant deleted' };
      }
      const mode = data.mode === 'delta' ? ('delta' as const) : undefined;
      // The scheduler's settings may have delta on while this worker's have it off: skip, as documented.
      if (mode && !settings.M365SYNC_DELTA) return skip(data.tenantId, 'delta_off');
      try {
        const { kinds: _kinds, ...result } = await requestSync(deps, {
          tenant: { id: data.tenantId, hierarchy: found.hierarchy },
          trigger: 'schedule',
          requestedBy: 'scheduler',
          ...(data.kinds ? { kinds: data.kinds } : {}),
          ...(mode ? { mode } : {}),
        });
        // A delta trigger comes every few minutes per tenant: its line is debug (the run logs its own).
        log[mode ? 'debug' : 'info'](
          { tenantId: data.tenantId, mode: mode ?? 'full', ...result },
          'scheduled sync enqueued',
        );
        return result;
      } catch (error) {
        if (mode && error instanceof SyncError && error.code === 'CONFLICT')
          return skip(data.tenantId, 'full_pull');
        throw error;
      }
    },
    { connection: workerConnection(redis), prefix: redis.prefix, concurrency: 4 },
  );
  worker.on('error', (error) => log.error({ err: { message: error.message } }, 'trigger worker error'));
  worker.on('closed', () => void syncQueue.close());
  return worker;
}
