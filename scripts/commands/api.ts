import { Command } from 'commander';
import { apiHostNames } from '../../api/access.js';
import { DEFAULT_SERVICE_TIMEOUT_MS } from '../../api/redis-calls.js';
import { buildApi } from '../../api/server.js';
import { SyncError } from '../../domain/errors.js';
import { logger } from '../../observability/logger.js';
import { setProcessLabel } from '../../observability/metrics.js';
import { redisSettings } from '../../queues/connection.js';
import { createTriggerQueue } from '../../queues/schedules.js';
import { createSyncQueue, syncQueueSettings } from '../../queues/sync-queue.js';
import type { CliContext } from './context.js';

/** A bootstrap token shorter than this is refused: it must be as hard to guess as a generated one. */
const BOOTSTRAP_MIN_LENGTH = 32;
const LOOPBACK_BINDS = ['127.0.0.1', 'localhost', '::1', '[::1]'];

export function apiCommand(ctx: CliContext): Command {
  return new Command('api')
    .description('serve the operator HTTP API, /health and /metrics')
    .option('--port <port>', 'port', (v) => Number(v), Number(process.env.M365SYNC_API_PORT ?? 8080))
    .option(
      '--host <host>',
      'address to bind (0.0.0.0 in a container)',
      process.env.M365SYNC_API_HOST ?? '127.0.0.1',
    )
    .option(
      '--insecure-dev-no-auth',
      'development only: no tokens, every request acts as an admin of every tenant (loopback only)',
    )
    .action(async (options: { port: number; host: string; insecureDevNoAuth?: boolean }) => {
      setProcessLabel('api');
      syncQueueSettings(ctx.env); // SYNC_ATTEMPTS / SYNC_BACKOFF_MS go into the jobs the API enqueues: check them now
      const rateLimit = rateLimitFromEnv(ctx.env);
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
        const bootstrapToken = ctx.env.M365SYNC_API_TOKEN || undefined;
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
      const serviceTimeoutMs = serviceTimeoutFromEnv(ctx.env);
      const redis = redisSettings(ctx.env);
      const syncQueue = createSyncQueue(redis, { commandTimeoutMs: serviceTimeoutMs });
      const triggerQueue = createTriggerQueue(redis, { commandTimeoutMs: serviceTimeoutMs });
      ctx.onClose(() => syncQueue.close());
      ctx.onClose(() => triggerQueue.close());
      const app = buildApi({
        stores,
        logger,
        authentication,
        allowedHosts: apiHostNames(ctx.env, options.host),
        ...(rateLimit ? { rateLimit } : {}),
        syncQueue,
        triggerQueue,
        serviceTimeoutMs,
        env: ctx.env,
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

/** M365SYNC_API_SERVICE_TIMEOUT_MS: how long a request waits for Redis, and /readyz for each service. */
function serviceTimeoutFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = env.M365SYNC_API_SERVICE_TIMEOUT_MS;
  if (raw === undefined || raw.trim() === '') return DEFAULT_SERVICE_TIMEOUT_MS;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 50 || ms > 60_000)
    throw new SyncError(
      'CONFIGURATION',
      `M365SYNC_API_SERVICE_TIMEOUT_MS must be a whole number of milliseconds from 50 to 60000, not "${raw}".`,
    );
  return ms;
}

/** M365SYNC_API_RATE_LIMIT: requests per minute per token (default 600). */
function rateLimitFromEnv(env: NodeJS.ProcessEnv): { max: number; timeWindowMs: number } | undefined {
  const raw = env.M365SYNC_API_RATE_LIMIT;
  if (raw === undefined || raw.trim() === '') return undefined;
  const max = Number(raw);
  if (!Number.isInteger(max) || max < 1)
    throw new SyncError(
      'CONFIGURATION',
      `M365SYNC_API_RATE_LIMIT must be a whole number of requests per minute per token, not "${raw}".`,
    );
  return { max, timeWindowMs: 60_000 };
}
