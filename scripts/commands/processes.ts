/**
 * The long-running processes: `m365sync worker` (runs full pulls) and `m365sync scheduler` (keeps
 * one nightly job scheduler per tenant). Both stop gracefully on SIGTERM / SIGINT.
 */
import { createServer } from 'node:http';
import { Command } from 'commander';
import { Redis } from 'ioredis';
import { redisSettings } from '../../queues/connection.js';
import { logger } from '../../observability/logger.js';
import { registry } from '../../observability/metrics.js';
import { createFullPull } from '../../workers/full-pull.js';
import { closeOnSignals, startWorker } from '../../workers/worker.js';
import { startScheduler } from '../../workers/scheduler.js';
import type { CliContext } from './context.js';

/**
 * Where a worker serves /metrics: loopback unless M365SYNC_METRICS_HOST says otherwise (a container
 * sets 0.0.0.0 so Prometheus can reach it), because the metrics describe the provider's whole fleet.
 */
export function metricsAddress(env: NodeJS.ProcessEnv): { host: string; port: number } {
  return { host: env.M365SYNC_METRICS_HOST || '127.0.0.1', port: Number(env.M365SYNC_METRICS_PORT ?? 9464) };
}

/** /metrics and /health for a process without the API (a worker): Prometheus scrapes each replica. */
export function serveMetrics(address: { host: string; port: number }, healthy: () => boolean) {
  const server = createServer((request, response) => {
    if (request.url === '/metrics') {
      void registry
        .metrics()
        .then((text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text));
    } else if (request.url === '/health') {
      const ok = healthy();
      response
        .writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: ok ? 'ok' : 'stopping' }));
    } else {
      response.writeHead(404).end();
    }
  });
  server.listen(address.port, address.host);
  return server;
}

export function workerCommand(ctx: CliContext): Command {
  return new Command('worker')
    .description('run sync jobs (concurrency SYNC_WORKER_CONCURRENCY); /metrics on M365SYNC_METRICS_PORT')
    .action(async () => {
      const { db, tenants, certificates } = await ctx.stores();
      const redisConfig = redisSettings(ctx.env);
      // Graph request limits per tenant, shared by every worker process through Redis.
      const limiterRedis = new Redis(redisConfig.url, { maxRetriesPerRequest: null });
      const fullPull = createFullPull({ tenants, certificates, redis: limiterRedis, env: ctx.env, logger });
      const worker = await startWorker({ redis: redisConfig, db, processor: fullPull.processor, logger });
      const address = metricsAddress(ctx.env);
      const metrics = address.port > 0 ? serveMetrics(address, () => worker.isRunning()) : undefined;
      logger.info(
        {
          workerId: worker.workerId,
          metrics: address.port > 0 ? `${address.host}:${address.port}` : undefined,
        },
        'sync worker started',
      );
      await new Promise<void>((resolve) =>
        closeOnSignals({
          close: async () => {
            await worker.close();
            fullPull.close();
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
      'keep one nightly job scheduler per tenant (leader-elected; reconciles at start and every minute)',
    )
    .action(async () => {
      const { db } = await ctx.stores();
      const scheduler = await startScheduler({ redis: redisSettings(ctx.env), db });
      logger.info({ id: scheduler.id, leader: scheduler.isLeader() }, 'scheduler started');
      await new Promise<void>((resolve) =>
        closeOnSignals({
          close: async () => {
            await scheduler.close();
            await ctx.close();
            resolve();
          },
        }),
      );
    });
}
