import { Command } from 'commander';
import { buildApi } from '../../api/server.js';
import { logger } from '../../observability/logger.js';
import { setProcessLabel } from '../../observability/metrics.js';
import { redisSettings } from '../../queues/connection.js';
import { createSyncQueue } from '../../queues/sync-queue.js';
import type { CliContext } from './context.js';

export function apiCommand(ctx: CliContext): Command {
  return new Command('api')
    .description('serve the operator HTTP API, /health and /metrics')
    .option('--port <port>', 'port', (v) => Number(v), Number(process.env.M365SYNC_API_PORT ?? 8080))
    .option(
      '--host <host>',
      'address to bind (0.0.0.0 in a container)',
      process.env.M365SYNC_API_HOST ?? '127.0.0.1',
    )
    .action(async (options: { port: number; host: string }) => {
      setProcessLabel('api');
      const stores = await ctx.stores();
      if (!ctx.env.M365SYNC_API_TOKEN && options.host !== '127.0.0.1' && options.host !== 'localhost') {
        logger.warn('M365SYNC_API_TOKEN is not set: the API answers anyone who can reach it');
      }
      const syncQueue = createSyncQueue(redisSettings(ctx.env));
      ctx.onClose(() => syncQueue.close());
      const app = buildApi({ stores, logger, apiToken: ctx.env.M365SYNC_API_TOKEN, syncQueue, env: ctx.env });
      const url = await app.listen({ port: options.port, host: options.host });
      ctx.io.out(`m365sync API listening on ${url}`);
      await new Promise<void>((resolve) => {
        const stop = () => void app.close().then(() => resolve());
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
    });
}
