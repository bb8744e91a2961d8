/**
 * The operator HTTP API: tenants (masked), health, readiness and Prometheus metrics (with the API's own
 * request metrics, api/http-metrics.ts). Sync, run and
 * queue routes are added by api/sync-routes.ts and api/queue-routes.ts when the sync queue is given,
 * status and schedule routes by api/schedule-routes.ts, token routes by api/token-routes.ts, webhook
 * subscriptions by api/webhook-routes.ts, the queue board by api/queue-board.ts when given queues, the
 * operator console at /console by api/console/routes.ts (with the sync queue). Access
 * control (api/access.ts): every route declares the role it needs; tenant routes pass the caller's
 * scope to the store, so a tenant outside it answers 404 as if it did not exist. Every route has
 * schemas (api/schemas.ts), checked by Fastify and published as OpenAPI at /docs (api/docs.ts). Every
 * error is `{ code, message, problems? }` with the CLI's stable codes, schema failures and unknown
 * routes included; no response ever holds a password. A dependency that is away answers 503
 * SERVICE_UNAVAILABLE naming it within M365SYNC_API_SERVICE_TIMEOUT_MS: MongoDB through the gate of
 * api/mongo-calls.ts (before a token is looked up), Redis through api/redis-calls.ts. /health is
 * liveness only and waits on nothing; /readyz asks each dependency.
 */
import type { Settings } from '../domain/settings.js';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { validatorCompiler } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { z } from 'zod';
import { SyncError, ValidationError, type ErrorCode, type FieldProblem } from '../domain/errors.js';
import { registry } from '../observability/metrics.js';
import type { Stores } from '../connectors/mongo/index.js';
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
import { isDocsRoute, registerDocs } from './docs.js';
import { acceptUtf8JsonOnly } from './json-body.js';
import { registerQueueRoutes } from './queue-routes.js';
import { registerHttpMetrics } from './http-metrics.js';
import { isMongoUnavailable, MongoGate, mongoUnavailable } from './mongo-calls.js';
import { DEFAULT_SERVICE_TIMEOUT_MS, queueCall, within } from './redis-calls.js';
import { registerScheduleRoutes } from './schedule-routes.js';
import { registerChangeRoutes } from './change-routes.js';
import {
  type ApiTypeProvider,
  ErrorBody,
  ERRORS,
  Health,
  HierarchyQuery,
  RefParams,
  Tenant,
  TenantBody,
} from './schemas.js';
import { registerSyncRoutes } from './sync-routes.js';
import { registerTokenRoutes } from './token-routes.js';
import { QUEUE_BOARD_ACCESS, isQueueBoardRoute, registerQueueBoard } from './queue-board.js';
import { registerWebhookRoutes } from './webhook-routes.js';
import { addTenant, removeTenant, testTenantConnection, updateTenant } from '../operations/index.js';
import { DEFAULT_SETTINGS } from '../domain/settings.js';
import { registerConsole } from './console/routes.js';

export interface ApiOptions {
  stores: Stores;
  logger?: Logger;
  /** Stored tokens (and an optional bootstrap token), or the development flag's no-auth mode. */
  authentication: Authentication;
  /** Host names the API answers to (apiHostNames); default the loopback names. */
  allowedHosts?: readonly string[];
  /** Requests per token per window; default 600 a minute. */
  rateLimit?: { max: number; timeWindowMs: number };
  /** Requests with a token that does not sign in, per client address per window; default 60 a minute. */
  failedAuthLimit?: { max: number; timeWindowMs: number };
  /**
   * Reverse proxies (addresses, CIDR ranges) whose X-Forwarded-For names the client: behind an
   * ingress or a load balancer every client would otherwise share the proxy's address, and one
   * script with a revoked token would lock them all out of signing in.
   */
  trustedProxies?: readonly string[];
  /** Extra text appended to /metrics (e.g. BullMQ's queue metrics). */
  extraMetrics?: () => Promise<string>;
  /**
   * The sync queue: when given, the sync, run and queue routes are served too. Make it with
   * `commandTimeoutMs` (createSyncQueue) so no Redis command waits longer than `serviceTimeoutMs`.
   */
  syncQueue?: Queue<SyncJobData, unknown, string>;
  /** The scheduler's trigger queue: when given (with syncQueue), the status and schedule routes are served. */
  triggerQueue?: Queue;
  /**
   * How long a request waits for MongoDB or Redis (and /readyz for each) before answering 503
   * (M365SYNC_API_SERVICE_TIMEOUT_MS; default 1000).
   */
  serviceTimeoutMs?: number;
  /**
   * Check every answer against its documented schema and fail (500) on a mismatch: for tests, so the
   * OpenAPI document cannot drift from what the routes answer. Off in production.
   */
  checkResponses?: boolean;
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
  SERVICE_UNAVAILABLE: 503,
};

/** Where a schema failure is, as the caller named it: `kinds.0`, `status` (query), `ref` (path). */
const SUBJECT_OF: Record<string, string> = {
  body: 'Request body',
  querystring: 'Query',
  params: 'Path',
  headers: 'Headers',
};

interface SchemaFailure {
  validation: { instancePath?: string; message?: string }[];
  validationContext?: string;
}

function schemaProblems(error: SchemaFailure): FieldProblem[] {
  const context = error.validationContext ?? 'body';
  return error.validation.map((v) => ({
    field:
      (v.instancePath ?? '').split('/').filter(Boolean).join('.') ||
      (context === 'querystring' ? 'query' : context),
    message: v.message ?? 'is not valid',
  }));
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route with the access it declares (what the access tests iterate over). */
    routeTable: RouteEntry[];
  }
}

/** Routes that monitoring calls all the time: their requests are not logged. */
const PROBES = new Set(['/metrics', '/health', '/readyz']);

export function buildApi(options: ApiOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger | undefined,
    ...(options.trustedProxies?.length ? { trustProxy: [...options.trustedProxies] } : {}),
    // Probes and scrapes come every few seconds: logging each would drown the requests that matter.
    logController: new LogController({
      disableRequestLogging: (request) => !options.logger || PROBES.has(request.url.split('?')[0]!),
    }),
  }) as unknown as FastifyInstance;
  app.setValidatorCompiler(validatorCompiler);
  registerHttpMetrics(app);
  acceptUtf8JsonOnly(app);
  const timeoutMs = options.serviceTimeoutMs ?? DEFAULT_SERVICE_TIMEOUT_MS;
  const mongoGate = new MongoGate(options.stores.db, timeoutMs);
  // Answers are sent as they are (the schemas document them); with checkResponses they must match.
  app.setSerializerCompiler(({ schema, method, url }) => (data) => {
    const json = JSON.stringify(data);
    if (options.checkResponses) {
      const checked = (schema as z.ZodType).safeParse(JSON.parse(json));
      if (!checked.success)
        throw new Error(
          `The answer of ${method} ${url} does not match its documented schema: ${z.prettifyError(checked.error)}`,
        );
    }
    return json;
  });
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    if (Array.isArray((error as Partial<SchemaFailure>).validation)) {
      const context = (error as SchemaFailure).validationContext ?? 'body';
      error = new ValidationError(SUBJECT_OF[context] ?? 'Request', schemaProblems(error as SchemaFailure));
    }
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
    if (error instanceof ReadinessError)
      return reply.status(503).send({ code: error.code, message: error.message, problems: error.problems });
    // MongoDB went away during the request (after the gate): 503 naming it, its address kept for the log.
    if (!(error instanceof SyncError) && isMongoUnavailable(error))
      error = mongoUnavailable(timeoutMs, error);
    if (error instanceof SyncError) {
      if (error.code === 'SERVICE_UNAVAILABLE')
        options.logger?.warn(
          { err: error.cause ?? error, url: request.url, answer: error.message },
          'API request: a dependency (MongoDB or Redis) is unavailable',
        );
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
      ready: () => mongoGate.ready(),
      ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
      ...(options.failedAuthLimit ? { failedAuthLimit: options.failedAuthLimit } : {}),
      accessByUrl: (url) =>
        isDocsRoute(url)
          ? 'public'
          : options.boardQueues?.length && isQueueBoardRoute(url)
            ? QUEUE_BOARD_ACCESS
            : undefined,
    }),
  );
  registerDocs(app);

  // The routes live in a plugin registered after the rate limiter, so its per-route hook reaches them.
  void app.register(async (api) => {
    registerTenantRoutes(api, options, timeoutMs, mongoGate);
    registerChangeRoutes(api, options.stores);
    const { syncQueue, triggerQueue, stores, settings } = options;
    if (syncQueue) {
      registerSyncRoutes(api, { stores, syncQueue, timeoutMs, ...(settings ? { settings } : {}) });
      registerQueueRoutes(api, { syncQueue, timeoutMs });
      // The operator console (api/console/): pages over the same stores, operations, roles and scopes.
      registerConsole(api, {
        stores,
        authentication: options.authentication,
        syncQueue,
        ...(triggerQueue ? { triggerQueue } : {}),
        timeoutMs,
        ...(settings ? { settings } : {}),
        ready: () => mongoGate.ready(),
        testConnection: (tenantId) =>
          testTenantConnection(
            {
              stores,
              settings: settings ?? DEFAULT_SETTINGS,
              ...(options.logger ? { logger: options.logger } : {}),
            },
            { tenant: tenantId },
          ),
      });
      if (triggerQueue)
        registerScheduleRoutes(api, {
          stores,
          triggerQueue,
          timeoutMs,
          ...(settings ? { settings } : {}),
        });
    }
    if ('tokens' in options.authentication) registerTokenRoutes(api, options.authentication.tokens);
    await registerWebhookRoutes(api, options.stores);
    if (options.boardQueues?.length) await registerQueueBoard(api, options.boardQueues);
  });

  return app;
}

function registerTenantRoutes(
  app: FastifyInstance,
  options: ApiOptions,
  timeoutMs: number,
  mongoGate: MongoGate,
): void {
  const api = app.withTypeProvider<ApiTypeProvider>();
  const { tenants } = options.stores;
  const open = { access: 'public' as const };
  const viewer = { access: { needs: 'viewer' as const } };
  const admin = { access: { needs: 'admin' as const } };

  // Liveness: the process answers. It waits on nothing (a MongoDB or Redis outage is /readyz's to
  // report: restarting the API does not bring them back).
  api.get(
    '/health',
    {
      config: open,
      schema: {
        tags: ['health'],
        security: [],
        description: 'Liveness: answers at once, whatever MongoDB and Redis do (see /readyz for them).',
        response: { 200: Health, '4xx': ErrorBody },
      },
    },
    async () => ({ status: 'ok' as const, checks: {} }),
  );

  // Readiness: MongoDB and Redis each answer within the service timeout; 503 names the failing ones.
  api.get(
    '/readyz',
    {
      config: open,
      schema: {
        tags: ['health'],
        security: [],
        description: 'MongoDB and Redis each answer within M365SYNC_API_SERVICE_TIMEOUT_MS (default 1 s).',
        response: { 200: Health, ...ERRORS },
      },
    },
    async () => {
      const { syncQueue } = options;
      const checks: Record<string, () => Promise<unknown>> = {
        mongodb: () => mongoGate.ready(),
        ...(syncQueue ? { redis: () => queueCall(syncQueue, timeoutMs, () => syncQueue.isPaused()) } : {}),
      };
      const results: Record<string, string> = {};
      await Promise.all(
        Object.entries(checks).map(async ([name, check]) => {
          results[name] = await within(check(), timeoutMs, () => new Error('timeout')).then(
            () => 'ok',
            (error: unknown) => readinessFailure(error, timeoutMs),
          );
        }),
      );
      const failing = Object.entries(results).filter(([, result]) => result !== 'ok');
      if (failing.length > 0)
        throw new ReadinessError(failing.map(([field, message]) => ({ field, message })));
      return { status: 'ready' as const, checks: results };
    },
  );

  api.get(
    '/metrics',
    {
      config: open,
      schema: {
        tags: ['health'],
        security: [],
        description: 'Prometheus metrics of this process (text exposition format).',
        response: { ...ERRORS },
      },
    },
    async (_request, reply) => {
      const text = (await registry.metrics()) + (options.extraMetrics ? await options.extraMetrics() : '');
      return reply.type(registry.contentType).send(text);
    },
  );

  api.get(
    '/tenants',
    {
      config: viewer,
      schema: {
        tags: ['tenants'],
        description:
          'Tenants within the caller’s scope (at `hierarchy` and below, when given), secrets masked.',
        querystring: z.object({ hierarchy: HierarchyQuery.optional() }),
        response: { 200: z.array(Tenant), ...ERRORS },
      },
    },
    async (request) => {
      const { hierarchy } = request.query;
      return tenants.list({ scope: callerOf(request).scope, ...(hierarchy ? { hierarchy } : {}) });
    },
  );
  api.get(
    '/tenants/:ref',
    {
      config: viewer,
      schema: { tags: ['tenants'], params: RefParams, response: { 200: Tenant, ...ERRORS } },
    },
    async (request) => tenants.show(request.params.ref, { scope: callerOf(request).scope }),
  );
  api.post(
    '/tenants',
    {
      config: admin,
      schema: { tags: ['tenants'], body: TenantBody, response: { 201: Tenant, ...ERRORS } },
    },
    async (request, reply) => {
      const added = await addTenant(options, { tenant: request.body, scope: callerOf(request).scope });
      return reply.status(201).send(added);
    },
  );
  api.patch(
    '/tenants/:ref',
    {
      config: admin,
      schema: {
        tags: ['tenants'],
        description: 'Changes the fields given; `********` for a secret keeps the stored one.',
        params: RefParams,
        body: TenantBody,
        response: { 200: Tenant, ...ERRORS },
      },
    },
    async (request) =>
      updateTenant(options, {
        ref: request.params.ref,
        changes: request.body,
        scope: callerOf(request).scope,
      }),
  );
  // `?data=purge` deletes the tenant's imported objects first (recorded as a purge run); the default
  // (`keep`) leaves them, as before.
  api.delete(
    '/tenants/:ref',
    {
      config: admin,
      schema: {
        tags: ['tenants'],
        params: RefParams,
        querystring: z.object({
          data: z
            .enum(['keep', 'purge'], { error: 'must be purge (delete its imported objects) or keep' })
            .optional(),
        }),
        response: { 200: Tenant, ...ERRORS },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const { removed } = await removeTenant(options, {
        ref: request.params.ref,
        data: request.query.data ?? 'keep',
        by: caller.name,
        scope: caller.scope,
      });
      return removed;
    },
  );
}

/** /readyz's 503: each failing check named as a problem. */
class ReadinessError extends SyncError {
  constructor(readonly problems: FieldProblem[]) {
    super('SERVICE_UNAVAILABLE', `Not ready: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}.`);
  }
}

/** What /readyz (public) says of a failing check: no address, no server message. */
function readinessFailure(error: unknown, timeoutMs: number): string {
  const e = error as { code?: unknown; message?: unknown; cause?: { code?: unknown } };
  if (e?.message === 'timeout' || (e instanceof SyncError && !e.cause))
    return `did not answer within ${timeoutMs} ms`;
  const code =
    typeof e?.code === 'string' ? e.code : typeof e?.cause?.code === 'string' ? e.cause.code : undefined;
  return code && code !== 'SERVICE_UNAVAILABLE' ? `is unavailable (${code})` : 'is unavailable';
}
