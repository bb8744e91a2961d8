/**
 * Sync routes of the operator API, registered when the API is given the sync queue: enqueue a sync
 * (optionally limited to kinds or kind lists), list and show runs, approve held deletions, purge a
 * tenant's data, and the operator's kind lists and delete-protection settings.
 */
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { DeleteProtectionStore } from '../connectors/mongo/delete-protection.js';
import { KindLists } from '../connectors/mongo/kind-lists.js';
import { RUN_STATUSES, SyncRuns, type RunStatus } from '../connectors/mongo/sync-runs.js';
import { SyncError, ValidationError } from '../domain/errors.js';
import { enqueueSync, syncQueueSettings, type SyncJobData } from '../queues/sync-queue.js';
import type { Stores } from '../scripts/commands/context.js';
import { approveDeletes, purgeTenant } from '../workers/tenant-maintenance.js';

export interface SyncRouteOptions {
  stores: Stores;
  syncQueue: Queue<SyncJobData, unknown, string>;
  /** Global delete thresholds from the environment (DELETE_THRESHOLD_*); default process.env. */
  env?: NodeJS.ProcessEnv;
}

const KindsBody = z
  .object({
    kinds: z.union([z.string(), z.array(z.string())]).optional(),
    requestedBy: z.string().trim().min(1).max(200).optional(),
  })
  .strict();

function parse<T>(schema: z.ZodType<T>, body: unknown, subject: string): T {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success)
    throw new ValidationError(
      subject,
      parsed.error.issues.map((i) => ({ field: i.path.join('.') || 'body', message: i.message })),
    );
  return parsed.data;
}

export function registerSyncRoutes(app: FastifyInstance, options: SyncRouteOptions): void {
  const { db, tenants } = options.stores;
  const runs = new SyncRuns(db);
  const kindLists = new KindLists(db);

  app.post<{ Params: { ref: string } }>('/tenants/:ref/sync', async (request, reply) => {
    const body = parse(KindsBody, request.body, 'Sync request');
    const tenant = await tenants.show(request.params.ref);
    const kinds = body.kinds === undefined ? undefined : await kindLists.resolve(body.kinds);
    const result = await enqueueSync(
      options.syncQueue,
      {
        tenantId: tenant.id,
        trigger: 'api',
        requestedBy: body.requestedBy ?? 'api',
        ...(kinds ? { kinds } : {}),
      },
      { runs, hierarchy: tenant.hierarchy, settings: syncQueueSettings(options.env ?? process.env) },
    );
    return reply.status(202).send({ ...result, ...(kinds ? { kinds } : {}) });
  });

  app.get<{ Querystring: { tenant?: string; status?: string; limit?: string } }>('/runs', async (request) => {
    const { tenant, status, limit } = request.query;
    if (status !== undefined && !(RUN_STATUSES as readonly string[]).includes(status))
      throw new ValidationError('Runs query', [
        { field: 'status', message: `must be one of ${RUN_STATUSES.join(', ')}` },
      ]);
    const tenantId = tenant ? (await tenants.show(tenant)).id : undefined;
    return runs.list({
      ...(tenantId ? { tenantId } : {}),
      ...(status ? { status: status as RunStatus } : {}),
      limit: Math.min(500, Math.max(1, Number(limit ?? 50) || 50)),
    });
  });

  app.get<{ Params: { id: string } }>('/runs/:id', async (request) => {
    const run = await runs.get(request.params.id);
    if (!run) throw new SyncError('NOT_FOUND', `No sync run ${request.params.id}.`);
    return run;
  });

  app.post<{ Params: { id: string } }>('/runs/:id/approve-deletes', async (request) => {
    const body = parse(
      z.object({ approvedBy: z.string().trim().min(1).max(200).optional() }).strict(),
      request.body,
      'Approval',
    );
    return approveDeletes(db, request.params.id, body.approvedBy ?? 'api');
  });

  app.post<{ Params: { ref: string } }>('/tenants/:ref/purge', async (request) => {
    const body = parse(
      z
        .object({
          kinds: z.union([z.string(), z.array(z.string())]).optional(),
          confirm: z.literal(true, { error: "must be true: purging deletes the tenant's imported objects" }),
          requestedBy: z.string().trim().min(1).max(200).optional(),
        })
        .strict(),
      request.body,
      'Purge',
    );
    const tenant = await tenants.show(request.params.ref);
    const kinds = body.kinds === undefined ? undefined : await kindLists.resolve(body.kinds);
    return purgeTenant(db, tenant, { requestedBy: body.requestedBy ?? 'api', ...(kinds ? { kinds } : {}) });
  });

  app.get('/kind-lists', async () => kindLists.list());
  app.put<{ Params: { name: string } }>('/kind-lists/:name', async (request) => {
    const body = parse(
      z
        .object({
          kinds: z.union([z.string(), z.array(z.string())]),
          description: z.string().optional(),
        })
        .strict(),
      request.body,
      'Kind list',
    );
    return kindLists.set({ name: request.params.name, ...body });
  });
  app.delete<{ Params: { name: string } }>('/kind-lists/:name', async (request, reply) => {
    await kindLists.remove(request.params.name);
    return reply.status(204).send();
  });

  app.get('/delete-protection', async () =>
    new DeleteProtectionStore(db, options.env ?? process.env).settings(),
  );
}
