/**
 * The long-running processes: `m365sync worker` (runs full pulls and delta runs) and `m365sync
 * scheduler` (keeps each tenant's nightly and delta job schedulers). Both stop gracefully on SIGTERM /
 * SIGINT.
 */
import { Command } from 'commander';
import { createRedisClient, redisSettings } from '../../queues/connection.js';
import { globalDeleteThresholds } from '../../domain/delete-protection.js';
import { scheduleSettings } from '../../queues/schedules.js';
import { createSyncQueue, syncQueueSettings } from '../../queues/sync-queue.js';
import { logger } from '../../observability/logger.js';
import { setProcessLabel } from '../../observability/metrics.js';
import { metricsSettings, serveMetrics } from '../../observability/metrics-server.js';
import { createFullPull } from '../../workers/full-pull.js';
import { clusterMetrics } from '../../workers/cluster-metrics.js';
import { closeAtMost, closeOnSignals, startWorkerWithUpkeep, workerSettings } from '../../workers/worker.js';
import { limitHeapGrowth } from '../../workers/heap-growth.js';
import { startScheduler } from '../../workers/scheduler.js';
import { startTriggerWorker } from '../../workers/trigger-worker.js';
import { startWebhooks } from '../../workers/webhooks.js';
import { webhookSettings } from '../../queues/webhook-queue.js';
import type { CliContext } from './context.js';

/** How long the worker process waits for each part that holds no run to close (workers/worker.ts closeAtMost). */
const NO_RUN_CLOSE_MS = 5000;

/** Default metrics ports: a worker and a scheduler on one machine do not clash out of the box. */
export const DEFAULT_METRICS_PORT = { worker: 9464, scheduler: 9465 } as const;

export function workerCommand(ctx: CliContext): Command {
  return new Command('worker')
    .description(
      `run sync jobs (concurrency SYNC_WORKER_CONCURRENCY) and deliver webhooks; /metrics and /health on M365SYNC_METRICS_PORT (default ${DEFAULT_METRICS_PORT.worker})`,
    )
    .action(async () => {
      setProcessLabel('worker');
      limitHeapGrowth(ctx.settings.SYNC_WORKER_HEAP_GROWTH_PERCENT);
      const stores = await ctx.stores();
      // Before taking jobs: a metrics port in use stops the process with a clear error.
      let running = () => false;
      const settings = metricsSettings(ctx.settings, DEFAULT_METRICS_PORT.worker);
      // (Listening before any Redis connection opens: a port in use must end the process, and an
      // open connection would keep it alive. /health asks the connection only once it exists.)
      const metrics =
        settings.port > 0
          ? await serveMetrics({
              ...settings,
              healthy: () => running(),
              checks: { mongodb: () => stores.db.command({ ping: 1 }), redis: () => limiterRedis.ping() },
            })
          : undefined;
      const redisConfig = redisSettings(ctx.settings);
      // Graph request limits per tenant, shared by every worker process through Redis (or Redis Cluster).
      const limiterRedis = createRedisClient(redisConfig);
      limiterRedis.on('error', (error) =>
        logger.warn({ err: { message: error.message } }, 'rate-limiter Redis connection error; reconnecting'),
      );
      const fullPull = createFullPull({
        stores,
        redis: limiterRedis,
        settings: ctx.settings,
        logger,
        shellLedger: { redis: limiterRedis, prefix: redisConfig.prefix },
      });
      // Shells a killed worker left on the proxies are deleted before this one takes jobs.
      await fullPull.start();
      // Ended runs' webhook deliveries: queued and delivered by the worker processes.
      const webhooks = await startWebhooks({
        redis: redisConfig,
        stores,
        logger,
        settings: webhookSettings(ctx.settings),
      });
      const worker = await startWorkerWithUpkeep({
        redis: redisConfig,
        db: stores.db,
        processor: fullPull.processor,
        settings: workerSettings(ctx.settings),
        queueSettings: syncQueueSettings(ctx.settings),
        deleteThresholds: globalDeleteThresholds(ctx.settings),
        logger,
        onRunsEnded: () => void webhooks.nudge(),
      });
      // Each worker process also turns the scheduler's triggers into sync requests.
      const triggers = startTriggerWorker(redisConfig, logger, stores, { settings: ctx.settings });
      running = () => worker.isRunning();
      logger.info(
        { workerId: worker.workerId, metricsPort: settings.port || undefined },
        'sync worker started',
      );
      await new Promise<void>((resolve) =>
        closeOnSignals({
          close: async () => {
            await worker.close();
            // These hold no run: together they get a few seconds (closeAtMost says why).
            await Promise.all([
              closeAtMost('trigger worker', () => triggers.close(), NO_RUN_CLOSE_MS, logger),
              closeAtMost('webhooks', () => webhooks.close(), NO_RUN_CLOSE_MS, logger),
            ]);
            await fullPull.close();
            metrics?.close();
            limiterRedis.disconnect();
            await ctx.close();
            resolve();
          },
        }),
      );
    });
}

export function schedulerCommand(ctx: CliContext): Command {
  return new Command('scheduler')
    .description(
      "keep each tenant's nightly and delta job schedulers (leader-elected; reconciles at start and every minute)",
    )
    .action(async () => {
      setProcessLabel('scheduler');
      const stores = await ctx.readStores(); // schedules need no tenant secrets
      let leader = () => false;
      let stopping = false;
      const syncQueue = createSyncQueue(redisSettings(ctx.settings));
      clusterMetrics({ stores, syncQueue, isLeader: () => leader(), settings: ctx.settings });
      const settings = metricsSettings(ctx.settings, DEFAULT_METRICS_PORT.scheduler);
      const metrics =
        settings.port > 0
          ? await serveMetrics({
              ...settings,
              healthy: () => !stopping,
              checks: {
                mongodb: () => stores.db.command({ ping: 1 }),
                redis: () => syncQueue.isPaused(), // one Redis round trip
              },
            })
          : undefined;
      const scheduler = await startScheduler({
        redis: redisSettings(ctx.settings),
        stores,
        schedule: scheduleSettings(ctx.settings),
        reconcileMs: ctx.settings.SCHEDULER_RECONCILE_MS,
        leaderTtlMs: ctx.settings.SCHEDULER_LEADER_TTL_MS,
      });
      leader = () => scheduler.isLeader();
      logger.info(
        { id: scheduler.id, leader: scheduler.isLeader(), metricsPort: settings.port || undefined },
        'scheduler started',
      );
      await new Promise<void>((resolve) =>
        closeOnSignals({
          close: async () => {
            stopping = true;
            await scheduler.close();
            metrics?.close();
            await syncQueue.close();
            await ctx.close();
            resolve();
          },
        }),
      );
    });
}
