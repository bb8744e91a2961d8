/**
 * The operator HTTP API: tenants (masked), health and Prometheus metrics. Sync and run routes are
 * added by api/sync-routes.ts when the engine is given, token routes by api/token-routes.ts, webhook
 * subscriptions by api/webhook-routes.ts, the queue board by api/queue-board.ts when given queues. Access
 * control (api/access.ts): every route declares the role it needs; tenant routes pass the caller's
 * scope to the store, so a tenant outside it answers 404 as if it did not exist. Errors answer with
 * the same stable codes and field-named problems as the CLI; no response ever holds a password.
 */
import type { Settings } from '../domain/settings.js';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from 'pino';
import { SyncError, ValidationError, type ErrorCode } from '../domain/errors.js';
import { HIERARCHY, type TenantInput } from '../domain/tenant.js';
import { registry } from '../observability/metrics.js';
import type { Stores } from '../connectors/mongo/stores.js';
import type { Queue } from 'bullmq';
import type { SyncJobData } from '../queues/sync-queue.js';
import {
  ApiRefusal,
  callerOf,
  registerAccessControl,
  sendRefusal,
  type Authentication,
  type RouteEntry,
} from './access.js';
import { queryValue } from './query.js';
import { registerSyncRoutes } from './sync-routes.js';
import { registerTokenRoutes } from './token-routes.js';
import { QUEUE_BOARD_ACCESS, QUEUE_BOARD_PATH, registerQueueBoard } from './queue-board.js';
import { registerWebhookRoutes } from './webhook-routes.js';
import { purgeTenant } from '../operations/purge-tenant.js';

export interface ApiOptions {
  stores: Stores;
  logger?: Logger;
  /** Stored tokens (and an optional bootstrap token), or the development flag's no-auth mode. */
  authentication: Authentication;
  /** Host names the API answers to (apiHostNames); default the loopback names. */
  allowedHosts?: readonly string[];
  /** Requests per token per window; default 600 a minute. */
  rateLimit?: { max: number; timeWindowMs: number };
  /** Extra checks for /health (Redis, workers…): name → throws when unhealthy. */
  healthChecks?: Record<string, () => Promise<unknown>>;
  /** Extra text appended to /metrics (e.g. BullMQ's queue metrics). */
  extraMetrics?: () => Promise<string>;
  /** The sync queue: when given, the sync and run routes (api/sync-routes.ts) are served too. */
  syncQueue?: Queue<SyncJobData, unknown, string>;
  /** The process settings: sync job attempts and backoff, global delete thresholds (default: the defaults). */
  settings?: Settings;
  /** Queues shown on the queue board at /admin/queues (api/queue-board.ts); no board without them. */
  boardQueues?: readonly Queue[];
}

const STATUS_OF: Partial<Record<ErrorCode, number>> = {
  INVALID_INPUT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  ENCRYPTION_KEY: 500,
};

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route with the access it declares (what the access tests iterate over). */
    routeTable: RouteEntry[];
  }
}

const HIERARCHY_QUERY = { test: HIERARCHY, says: 'must be a hierarchy place such as provider.reseller' };

export function buildApi(options: ApiOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger | undefined,
    disableRequestLogging: !options.logger,
  }) as unknown as FastifyInstance;
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof ApiRefusal) return sendRefusal(request, reply, error);
    if (error instanceof ValidationError) {
      return reply
        .status(400)
        .send({ code: error.code, message: error.message.split('\n')[0], problems: error.problems });
    }
    if (error instanceof SyncError && error.code === 'DECRYPTION_FAILED') {
      // The message names tenant, field and key id: for the API's log, not for the caller.
      options.logger?.error({ err: error }, 'API request failed: a stored secret does not decrypt');
      return reply.status(500).send({
        code: error.code,
        message: 'A stored secret does not decrypt with the configured keys; the API log says which.',
      });
    }
    if (error instanceof SyncError) {
      return reply.status(STATUS_OF[error.code] ?? 500).send({ code: error.code, message: error.message });
    }
    const status = (error as { statusCode?: number }).statusCode;
    if (status && status < 500)
      return reply.status(status).send({ code: 'INVALID_INPUT', message: (error as Error).message });
    options.logger?.error({ err: error }, 'API request failed');
    return reply.status(500).send({ code: 'INTERNAL', message: 'Internal error; see the API log.' });
  });

  // Unknown routes answer in the same shape as every other error (Fastify's own 404 has no `code`).
  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send({ code: 'NOT_FOUND', message: `No route ${request.method} ${request.url.split('?')[0]}.` }),
  );

  app.decorate(
    'routeTable',
    registerAccessControl(app, {
      authentication: options.authentication,
      allowedHosts: options.allowedHosts ?? ['localhost', '127.0.0.1', '[::1]'],
      ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
      ...(options.boardQueues?.length
        ? { mounts: [{ prefix: QUEUE_BOARD_PATH, access: QUEUE_BOARD_ACCESS }] }
        : {}),
    }),
  );

  // The routes live in a plugin registered after the rate limiter, so its per-route hook reaches them.
  void app.register(async (api) => {
    registerTenantRoutes(api, options);
    if (options.syncQueue)
      registerSyncRoutes(api, {
        stores: options.stores,
        syncQueue: options.syncQueue,
        ...(options.settings ? { settings: options.settings } : {}),
      });
    if ('tokens' in options.authentication) registerTokenRoutes(api, options.authentication.tokens);
    await registerWebhookRoutes(api, options.stores);
    if (options.boardQueues?.length) await registerQueueBoard(api, options.boardQueues);
  });

  return app;
}

function registerTenantRoutes(app: FastifyInstance, options: ApiOptions): void {
  const { tenants } = options.stores;

  app.get('/health', { config: { access: 'public' } }, async (_request, reply) => {
    const checks: Record<string, string> = {};
    const all = { mongodb: () => options.stores.db.command({ ping: 1 }), ...options.healthChecks };
    await Promise.all(
      Object.entries(all).map(async ([name, check]) => {
        try {
          await check();
          checks[name] = 'ok';
        } catch (error) {
          checks[name] = `failing: ${(error as Error).message}`;
        }
      }),
    );
    const ok = Object.values(checks).every((c) => c === 'ok');
    return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'degraded', checks });
  });

  app.get('/metrics', { config: { access: 'public' } }, async (_request, reply) => {
    const text = (await registry.metrics()) + (options.extraMetrics ? await options.extraMetrics() : '');
    return reply.type(registry.contentType).send(text);
  });

  const viewer = { config: { access: { needs: 'viewer' as const } } };
  const admin = { config: { access: { needs: 'admin' as const } } };

  app.get('/tenants', viewer, async (request) => {
    const hierarchy = queryValue(request.query, 'hierarchy', HIERARCHY_QUERY);
    return tenants.list({ scope: callerOf(request).scope, ...(hierarchy ? { hierarchy } : {}) });
  });
  app.get<{ Params: { ref: string } }>('/tenants/:ref', viewer, async (request) =>
    tenants.show(request.params.ref, { scope: callerOf(request).scope }),
  );
  app.post<{ Body: TenantInput }>('/tenants', admin, async (request, reply) => {
    const scope = callerOf(request).scope;
    const added = await tenants.add(bodyObject(request.body), { scope });
    return reply.status(201).send(await tenants.show(added.id, { scope }));
  });
  app.patch<{ Params: { ref: string }; Body: TenantInput }>('/tenants/:ref', admin, async (request) => {
    const scope = callerOf(request).scope;
    const updated = await tenants.update(request.params.ref, bodyObject(request.body), { scope });
    return tenants.show(updated.id, { scope });
  });
  // `?data=purge` deletes the tenant's imported objects first (recorded as a purge run); the default
  // (`keep`) leaves them, as before.
  app.delete<{ Params: { ref: string } }>('/tenants/:ref', admin, async (request) => {
    const caller = callerOf(request);
    const data = queryValue(request.query, 'data') ?? 'keep';
    if (data !== 'keep' && data !== 'purge')
      throw new ValidationError('Remove tenant', [
        { field: 'data', message: 'must be purge (delete its imported objects) or keep' },
      ]);
    const tenant = await tenants.show(request.params.ref, { scope: caller.scope });
    if (data === 'purge') await purgeTenant(options.stores, tenant, { requestedBy: caller.name });
    return tenants.remove(tenant.id, { scope: caller.scope });
  });
}

function bodyObject(body: unknown): TenantInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError('Request body', [
      { field: 'body', message: 'must be a JSON object of groups and fields' },
    ]);
  }
  return body as TenantInput;
}
