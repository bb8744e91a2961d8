/**
 * The sync queue as a whole, for a maintenance window: `POST /queue/pause` stops workers from taking
 * new sync jobs (runs already going finish; new and scheduled requests wait in the queue, still one
 * per tenant), `POST /queue/resume` lets them go on, `GET /queue` says which (BullMQ `pause()`,
 * `resume()`, `isPaused()`). Pausing changes every tenant's syncs, so it needs an admin whose scope is
 * `*`; the job counts, which are of every tenant, are shown only to callers whose scope is `*`.
 */
import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ALL_SCOPES } from '../domain/access.js';
import { pauseSyncs } from '../operations/index.js';
import { queueState } from '../queues/queue-state.js';
import type { SyncJobData } from '../queues/sync-queue.js';
import { callerOf } from './access.js';
import { queueCall } from './redis-calls.js';
import { type ApiTypeProvider, ERRORS } from './schemas.js';

export interface QueueRouteOptions {
  syncQueue: Queue<SyncJobData, unknown, string>;
  /** How long a request waits for Redis before answering 503. */
  timeoutMs: number;
}

const QueueState = z.object({
  paused: z.boolean().describe('workers take no new sync jobs while true'),
  jobs: z
    .record(z.string(), z.number())
    .optional()
    .describe('sync jobs by state, for callers whose scope is *'),
});

export function registerQueueRoutes(app: FastifyInstance, options: QueueRouteOptions): void {
  const api = app.withTypeProvider<ApiTypeProvider>();
  const { syncQueue: queue, timeoutMs } = options;
  const state = (request: FastifyRequest) =>
    queueCall(queue, timeoutMs, () => queueState(queue, { jobs: callerOf(request).scope === ALL_SCOPES }));
  const response = { 200: QueueState, ...ERRORS };

  api.get(
    '/queue',
    { config: { access: { needs: 'viewer' } }, schema: { tags: ['queue'], response } },
    async (request) => state(request),
  );
  const globalAdmin = { access: { needs: 'admin' as const, allScopes: true } };
  api.post(
    '/queue/pause',
    {
      config: globalAdmin,
      schema: {
        tags: ['queue'],
        description: 'Workers take no new sync jobs; running syncs finish; requests wait until resumed.',
        body: z.object({}).strict(),
        response,
      },
    },
    async (request) => {
      const by = callerOf(request).name;
      await queueCall(queue, timeoutMs, () =>
        pauseSyncs({ queue, logger: request.log }, { paused: true, by }),
      );
      return state(request);
    },
  );
  api.post(
    '/queue/resume',
    {
      config: globalAdmin,
      schema: { tags: ['queue'], body: z.object({}).strict(), response },
    },
    async (request) => {
      const by = callerOf(request).name;
      await queueCall(queue, timeoutMs, () =>
        pauseSyncs({ queue, logger: request.log }, { paused: false, by }),
      );
      return state(request);
    },
  );
}
