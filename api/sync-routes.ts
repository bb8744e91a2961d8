/**
 * Sync routes of the operator API, registered when the API is given the sync queue: enqueue a sync
 * (optionally limited to kinds or kind lists), list and show runs, approve held deletions, purge a
 * tenant's data, and the operator's kind lists and delete-protection settings. A run belongs to its
 * tenant: a caller sees it only while the tenant is within its scope. The actor recorded is always
 * the caller's token name; a body that names one is refused.
 */
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { RUN_STATUSES, type RunStatus } from '../domain/sync-run.js';
import { ALL_SCOPES, scopeCovers, type Caller } from '../domain/access.js';
import { globalDeleteThresholds, type DeleteProtectionSettings } from '../domain/delete-protection.js';
import { DEFAULT_SETTINGS, type Settings } from '../domain/settings.js';
import { SyncError, ValidationError } from '../domain/errors.js';
import { syncQueueSettings, type SyncJobData } from '../queues/sync-queue.js';
import type { Stores } from '../connectors/mongo/stores.js';
import { approveDeletes } from '../operations/approve-deletes.js';
import { purgeTenant } from '../operations/purge-tenant.js';
import { requestSync, syncKinds } from '../operations/request-sync.js';
import { callerOf } from './access.js';
import { queryValue } from './query.js';

export interface SyncRouteOptions {
  stores: Stores;
  syncQueue: Queue<SyncJobData, unknown, string>;
  /** The process settings: SYNC_ATTEMPTS and SYNC_BACKOFF_MS, DELETE_THRESHOLD_* (default: the defaults). */
  settings?: Settings;
}

const KindsBody = z
  .object({
    kinds: z.union([z.string(), z.array(z.string())]).optional(),
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

const viewer = { config: { access: { needs: 'viewer' as const } } };
const operator = { config: { access: { needs: 'operator' as const } } };
const admin = { config: { access: { needs: 'admin' as const } } };
/** Settings that apply to every tenant: an admin whose scope is `*`. */
const globalAdmin = { config: { access: { needs: 'admin' as const, allScopes: true } } };

export function registerSyncRoutes(app: FastifyInstance, options: SyncRouteOptions): void {
  const { stores } = options;
  const { tenants, runs, kindLists } = stores;
  const settings = options.settings ?? DEFAULT_SETTINGS;
  const queueSettings = syncQueueSettings(settings);
  // The API's own global thresholds when it was given settings; else those its stores were built with.
  const deleteThresholds = options.settings ? globalDeleteThresholds(options.settings) : undefined;

  /** A run the caller may see: its tenant is within the caller's scope (else "no such run"). */
  const runInScope = async (caller: Caller, runId: string) => {
    const run = await runs.get(runId);
    const visible =
      run &&
      (caller.scope === ALL_SCOPES ||
        (await tenants.show(run.tenantId, { scope: caller.scope }).then(
          () => true,
          (error: unknown) => {
            if (error instanceof SyncError && error.code === 'NOT_FOUND') return false;
            throw error;
          },
        )));
    if (!run || !visible) throw new SyncError('NOT_FOUND', `No sync run ${runId}.`);
    return run;
  };

  app.post<{ Params: { ref: string } }>('/tenants/:ref/sync', operator, async (request, reply) => {
    const caller = callerOf(request);
    const body = parse(KindsBody, request.body, 'Sync request');
    const tenant = await tenants.show(request.params.ref, { scope: caller.scope });
    const result = await requestSync({ queue: options.syncQueue, stores, settings: queueSettings }, tenant, {
      trigger: 'api',
      requestedBy: caller.name,
      ...(body.kinds === undefined ? {} : { kinds: body.kinds }),
    });
    return reply.status(202).send(result);
  });

  app.get('/runs', viewer, async (request) => {
    const caller = callerOf(request);
    const tenant = queryValue(request.query, 'tenant');
    const status = queryValue(request.query, 'status');
    const limit = queryValue(request.query, 'limit');
    if (status !== undefined && !(RUN_STATUSES as readonly string[]).includes(status))
      throw new ValidationError('Runs query', [
        { field: 'status', message: `must be one of ${RUN_STATUSES.join(', ')}` },
      ]);
    const tenantId = tenant ? (await tenants.show(tenant, { scope: caller.scope })).id : undefined;
    const tenantIds =
      tenantId || caller.scope === ALL_SCOPES ? undefined : await tenants.idsInScope(caller.scope);
    return runs.list({
      ...(tenantId ? { tenantId } : {}),
      ...(tenantIds ? { tenantIds } : {}),
      ...(status ? { status: status as RunStatus } : {}),
      limit: Math.min(500, Math.max(1, Number(limit ?? 50) || 50)),
    });
  });

  app.get<{ Params: { id: string } }>('/runs/:id', viewer, async (request) =>
    runInScope(callerOf(request), request.params.id),
  );

  app.post<{ Params: { id: string } }>('/runs/:id/approve-deletes', operator, async (request) => {
    const caller = callerOf(request);
    parse(z.object({}).strict(), request.body, 'Approval');
    await runInScope(caller, request.params.id);
    return approveDeletes(stores, request.params.id, caller.name);
  });

  app.post<{ Params: { ref: string } }>('/tenants/:ref/purge', admin, async (request) => {
    const caller = callerOf(request);
    const body = parse(
      z
        .object({
          kinds: z.union([z.string(), z.array(z.string())]).optional(),
          confirm: z.literal(true, { error: "must be true: purging deletes the tenant's imported objects" }),
        })
        .strict(),
      request.body,
      'Purge',
    );
    const tenant = await tenants.show(request.params.ref, { scope: caller.scope });
    const kinds = await syncKinds(stores, body.kinds);
    return purgeTenant(stores, tenant, { requestedBy: caller.name, ...(kinds ? { kinds } : {}) });
  });

  app.get('/kind-lists', viewer, async () => kindLists.list());
  app.put<{ Params: { name: string } }>('/kind-lists/:name', globalAdmin, async (request) => {
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
    return kindLists.set({ name: request.params.name, ...body }, callerOf(request).name);
  });
  app.delete<{ Params: { name: string } }>('/kind-lists/:name', globalAdmin, async (request, reply) => {
    await kindLists.remove(request.params.name);
    return reply.status(204).send();
  });

  app.get('/delete-protection', viewer, async (request) => {
    const caller = callerOf(request);
    const settings = await stores.deleteProtection.settings(deleteThresholds);
    if (caller.scope === ALL_SCOPES) return settings;
    return withinScope(settings, caller.scope, new Set(await tenants.idsInScope(caller.scope)));
  });
}

/**
 * The thresholds a scoped caller may see: the global ones, those of its place, the places above it
 * (they apply to its tenants) and under it, and those of its tenants; nothing of other customers.
 */
function withinScope(
  settings: DeleteProtectionSettings,
  scope: string,
  tenantIds: Set<string>,
): DeleteProtectionSettings {
  const visible: DeleteProtectionSettings = { ...(settings.global ? { global: settings.global } : {}) };
  for (const [place, thresholds] of Object.entries(settings.hierarchy ?? {}))
    if (scopeCovers(scope, place) || scopeCovers(place, scope))
      (visible.hierarchy ??= {})[place] = thresholds;
  for (const [tenantId, thresholds] of Object.entries(settings.tenants ?? {}))
    if (tenantIds.has(tenantId)) (visible.tenants ??= {})[tenantId] = thresholds;
  return visible;
}
