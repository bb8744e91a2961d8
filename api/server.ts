/**
 * The operator HTTP API: tenants (masked), health and Prometheus metrics. Sync and run routes are
 * added by api/sync-routes.ts when the engine is given. Errors answer with the same stable codes and
 * field-named problems as the CLI; no response ever holds a password.
 */
import { timingSafeEqual } from 'node:crypto';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from 'pino';
import { SyncError, ValidationError, type ErrorCode } from '../domain/errors.js';
import type { TenantInput } from '../domain/tenant.js';
import { registry } from '../observability/metrics.js';
import type { Stores } from '../scripts/commands/context.js';
import type { Queue } from 'bullmq';
import type { SyncJobData } from '../queues/sync-queue.js';
import { registerSyncRoutes } from './sync-routes.js';
import { purgeTenant } from '../workers/tenant-maintenance.js';

export interface ApiOptions {
  stores: Stores;
  logger?: Logger;
  /** When set, every route but /health and /metrics needs `Authorization: Bearer <token>`. */
  apiToken?: string;
  /** Extra checks for /health (Redis, workers…): name → throws when unhealthy. */
  healthChecks?: Record<string, () => Promise<unknown>>;
  /** Extra text appended to /metrics (e.g. BullMQ's queue metrics). */
  extraMetrics?: () => Promise<string>;
  /** The sync queue: when given, the sync and run routes (api/sync-routes.ts) are served too. */
  syncQueue?: Queue<SyncJobData, unknown, string>;
  /** Environment for the global delete thresholds (default process.env). */
  env?: NodeJS.ProcessEnv;
}

const STATUS_OF: Partial<Record<ErrorCode, number>> = {
  INVALID_INPUT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  ENCRYPTION_KEY: 500,
};

export function buildApi(options: ApiOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger | undefined,
    disableRequestLogging: !options.logger,
  }) as unknown as FastifyInstance;
  const { tenants } = options.stores;

  app.setErrorHandler((error: unknown, _request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof ValidationError) {
      return reply
        .status(400)
        .send({ code: error.code, message: error.message.split('\n')[0], problems: error.problems });
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

  if (options.apiToken) {
    const expected = Buffer.from(`Bearer ${options.apiToken}`);
    app.addHook('onRequest', async (request, reply) => {
      if (request.url === '/health' || request.url === '/metrics') return;
      const given = Buffer.from(request.headers.authorization ?? '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        return reply
          .status(401)
          .send({ code: 'AUTHENTICATION', message: 'Send Authorization: Bearer <M365SYNC_API_TOKEN>.' });
      }
    });
  }

  app.get('/health', async (_request, reply) => {
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

  app.get('/metrics', async (_request, reply) => {
    const text = (await registry.metrics()) + (options.extraMetrics ? await options.extraMetrics() : '');
    return reply.type(registry.contentType).send(text);
  });

  app.get<{ Querystring: { hierarchy?: string } }>('/tenants', async (request) =>
    tenants.list({ hierarchy: request.query.hierarchy }),
  );
  app.get<{ Params: { ref: string } }>('/tenants/:ref', async (request) => tenants.show(request.params.ref));
  app.post<{ Body: TenantInput }>('/tenants', async (request, reply) => {
    const added = await tenants.add(bodyObject(request.body));
    return reply.status(201).send(await tenants.show(added.id));
  });
  app.patch<{ Params: { ref: string }; Body: TenantInput }>('/tenants/:ref', async (request) => {
    const updated = await tenants.update(request.params.ref, bodyObject(request.body));
    return tenants.show(updated.id);
  });
  // `?data=purge` deletes the tenant's imported objects first (recorded as a purge run); the default
  // (`keep`) leaves them, as before.
  app.delete<{ Params: { ref: string }; Querystring: { data?: string } }>(
    '/tenants/:ref',
    async (request) => {
      const data = request.query.data ?? 'keep';
      if (data !== 'keep' && data !== 'purge')
        throw new ValidationError('Remove tenant', [
          { field: 'data', message: 'must be purge (delete its imported objects) or keep' },
        ]);
      if (data === 'purge') {
        const tenant = await tenants.show(request.params.ref);
        await purgeTenant(options.stores.db, tenant, { requestedBy: 'api' });
      }
      return tenants.remove(request.params.ref);
    },
  );
  if (options.syncQueue)
    registerSyncRoutes(app, {
      stores: options.stores,
      syncQueue: options.syncQueue,
      ...(options.env ? { env: options.env } : {}),
    });

  return app;
}

function bodyObject(body: unknown): TenantInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError('Request body', [
      { field: 'body', message: 'must be a JSON object of groups and fields' },
    ]);
  }
  return body as TenantInput;
}
