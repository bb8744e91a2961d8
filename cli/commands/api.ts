import { Command } from 'commander';
import { apiHostNames } from '../../api/access.js';
import { buildApi } from '../../api/server.js';
import { SyncError } from '../../domain/errors.js';
import { logger } from '../../observability/logger.js';
import { setProcessLabel } from '../../observability/metrics.js';
import { redisSettings } from '../../queues/connection.js';
import { createTriggerQueue } from '../../queues/schedules.js';
import { createSyncQueue } from '../../queues/sync-queue.js';
import { createWebhookQueue } from '../../queues/webhook-queue.js';
import type { CliContext } from './context.js';

/** A bootstrap token shorter than this is refused: it must be as hard to guess as a generated one. */
const BOOTSTRAP_MIN_LENGTH = 32;
const LOOPBACK_BINDS = ['127.0.0.1', 'localhost', '::1', '[::1]'];

export function apiCommand(ctx: CliContext): Command {
  return new Command('api')
    .description('serve the operator HTTP API, /health, /metrics and the queue board (/admin/queues)')
    .option('--port <port>', 'port (default M365SYNC_API_PORT, else 8080)', (v) => Number(v))
    .option(
      '--host <host>',
      'address to bind, 0.0.0.0 in a container (default M365SYNC_API_HOST, else 127.0.0.1)',
    )
    .option(
      '--insecure-dev-no-auth',
      'development only: no tokens, every request acts as an admin of every tenant (loopback only)',
    )
    .action(async (flags: { port?: number; host?: string; insecureDevNoAuth?: boolean }) => {
      setProcessLabel('api');
      const { settings } = ctx; // parsed (and checked) before anything starts
      const options = {
        ...flags,
        port: flags.port ?? settings.M365SYNC_API_PORT,
        host: flags.host ?? settings.M365SYNC_API_HOST,
      };
      const rateLimit = settings.M365SYNC_API_RATE_LIMIT
        ? { max: settings.M365SYNC_API_RATE_LIMIT, timeWindowMs: 60_000 }
        : undefined;
      const stores = await ctx.stores();
      let authentication: Parameters<typeof buildApi>[0]['authentication'];
      if (options.insecureDevNoAuth) {
        if (!LOOPBACK_BINDS.includes(options.host))
          throw new SyncError(
            'CONFIGURATION',
            `--insecure-dev-no-auth serves every tenant to anyone who reaches the API, so it only binds a loopback address (127.0.0.1, ::1), not ${options.host}.`,
          );
        authentication = { insecureDevNoAuth: true };
        const warning =
          'WARNING: --insecure-dev-no-auth: the API checks NO token; every request acts as an admin of every tenant. For development on this machine only.';
        logger.warn(warning);
        ctx.io.err(warning);
      } else {
        const bootstrapToken = settings.M365SYNC_API_TOKEN;
        if (bootstrapToken !== undefined && bootstrapToken.length < BOOTSTRAP_MIN_LENGTH)
          throw new SyncError(
            'CONFIGURATION',
            `M365SYNC_API_TOKEN (the bootstrap admin token) must be at least ${BOOTSTRAP_MIN_LENGTH} random characters (e.g. openssl rand -base64 32).`,
          );
        if (!bootstrapToken && (await stores.tokens.countActive()) === 0)
          throw new SyncError(
            'CONFIGURATION',
            "The API has no tokens, so nobody could use it: create one with m365sync tokens create --name <name> --role admin --scope '*', " +
              'or set M365SYNC_API_TOKEN (a bootstrap admin token), or, for development on this machine, start it with --insecure-dev-no-auth.',
          );
        authentication = { tokens: stores.tokens, ...(bootstrapToken ? { bootstrapToken } : {}) };
      }
      const serviceTimeoutMs = settings.M365SYNC_API_SERVICE_TIMEOUT_MS;
      const redis = redisSettings(settings);
      const syncQueue = createSyncQueue(redis, { commandTimeoutMs: serviceTimeoutMs });
      const triggerQueue = createTriggerQueue(redis, { commandTimeoutMs: serviceTimeoutMs });
      ctx.onClose(() => syncQueue.close());
      ctx.onClose(() => triggerQueue.close());
      // The queue board (/admin/queues) shows every queue of the engine.
      const webhookQueue = createWebhookQueue(redis, { commandTimeoutMs: serviceTimeoutMs });
      ctx.onClose(() => webhookQueue.close());
      const app = buildApi({
        stores,
        logger,
        authentication,
        allowedHosts: apiHostNames(settings, options.host),
        trustedProxies: (settings.M365SYNC_API_TRUSTED_PROXIES ?? '')
          .split(',')
          .map((entry) => entry.trim())
          .filter((entry) => entry !== ''),
        ...(rateLimit ? { rateLimit } : {}),
        syncQueue,
        triggerQueue,
        serviceTimeoutMs,
        boardQueues: [syncQueue, triggerQueue, webhookQueue],
        settings,
      });
      const url = await app.listen({ port: options.port, host: options.host });
      ctx.io.out(`m365sync API listening on ${url}`);
      await new Promise<void>((resolve) => {
        const stop = () => void app.close().then(() => resolve());
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
    });
}
