/**
 * Sync routes of the operator API, registered when the API is given the sync queue: enqueue a sync
 * (optionally limited to kinds or kind lists), list, show and cancel runs, approve held deletions, purge a
 * tenant's data, and the operator's kind lists and delete-protection settings. A run belongs to its
 * tenant: a caller sees it only while the tenant is within its scope. The actor recorded is always
 * the caller's token name; a body that names one is refused.
 */
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Stores } from '../connectors/mongo/index.js';
import { ALL_SCOPES, scopeCovers, type Caller } from '../domain/access.js';
import { globalDeleteThresholds, type DeleteProtectionSettings } from '../domain/delete-protection.js';
import { SyncError } from '../domain/errors.js';
import { DEFAULT_SETTINGS, type Settings } from '../domain/settings.js';
import { RUN_STATUSES } from '../domain/sync-run.js';
import { SYNC_MODES } from '../domain/delta.js';
import { approveDeletes, cancelRun, purgeTenant, requestSync, syncKinds } from '../operations/index.js';
import type { SyncJobData } from '../queues/sync-queue.js';
import { callerOf } from './access.js';
import { queueCall } from './redis-calls.js';
import {
  type ApiTypeProvider,
  DeleteProtection,
  ERRORS,
  IdParams,
  KindList,
  KindsSpec,
  NameParams,
  queryString,
  RefParams,
  Run,
} from './schemas.js';

export interface SyncRouteOptions {
  stores: Stores;
  syncQueue: Queue<SyncJobData, unknown, string>;
  /** How long a request waits for Redis before answering 503. */
  timeoutMs: number;
  /** The process settings: SYNC_ATTEMPTS and SYNC_BACKOFF_MS, DELETE_THRESHOLD_* (default: the defaults). */
  settings?: Settings;
}

const viewer = { access: { needs: 'viewer' as const } };
const operator = { access: { needs: 'operator' as const } };
const admin = { access: { needs: 'admin' as const } };
/** Settings that apply to every tenant: an admin whose scope is `*`. */
const globalAdmin = { access: { needs: 'admin' as const, allScopes: true } };

const Enqueued = z.object({
  jobId: z.string(),
  outcome: z
    .enum(['created', 'joined-waiting', 'follow-up'])
    .describe(
      'created: a new job; joined-waiting: a job of the tenant was waiting; follow-up: one run after the active one',
    ),
  runId: z.string().optional().describe("this request's run record"),
  kinds: z.array(z.string()).optional(),
});

export function registerSyncRoutes(app: FastifyInstance, options: SyncRouteOptions): void {
  const api = app.withTypeProvider<ApiTypeProvider>();
  const { stores, syncQueue, timeoutMs } = options;
  const { tenants, runs, kindLists } = stores;
  const settings = options.settings ?? DEFAULT_SETTINGS;
  const deps = { stores, queue: syncQueue, settings };
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

  api.post(
    '/tenants/:ref/sync',
    {
      config: operator,
      schema: {
        tags: ['syncs'],
        description:
          'Enqueues a sync of the tenant (de-duplicated per tenant); the actor is the token’s name.',
        params: RefParams,
        body: z
          .object({
            kinds: KindsSpec.optional(),
            mode: z
              .enum(SYNC_MODES, { error: `must be one of ${SYNC_MODES.join(', ')}` })
              .optional()
              .describe(
                'delta: a delta run of users, groups, teams and licences (docs/delta.md); refused (409) while a full pull of the tenant runs or waits. Default full',
              ),
          })
          .strict(),
        response: { 202: Enqueued, ...ERRORS },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const tenant = await tenants.show(request.params.ref, { scope: caller.scope });
      const { kinds, mode } = request.body;
      const result = await queueCall(syncQueue, timeoutMs, () =>
        requestSync(deps, {
          tenant,
          trigger: 'api',
          requestedBy: caller.name,
          ...(kinds === undefined ? {} : { kinds }),
          ...(mode ? { mode } : {}),
        }),
      );
      return reply.status(202).send(result);
    },
  );

  api.get(
    '/runs',
    {
      config: viewer,
      schema: {
        tags: ['runs'],
        description: 'Runs of the tenants within the caller’s scope, newest first.',
        querystring: z.object({
          tenant: queryString().optional(),
          status: z.enum(RUN_STATUSES, { error: `must be one of ${RUN_STATUSES.join(', ')}` }).optional(),
          limit: z.coerce
            .number({ error: 'must be a whole number from 1 to 500' })
            .int('must be a whole number from 1 to 500')
            .min(1, 'must be a whole number from 1 to 500')
            .max(500, 'must be a whole number from 1 to 500')
            .default(50),
        }),
        response: { 200: z.array(Run), ...ERRORS },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const { tenant, status, limit } = request.query;
      const tenantId = tenant ? (await tenants.show(tenant, { scope: caller.scope })).id : undefined;
      const tenantIds =
        tenantId || caller.scope === ALL_SCOPES ? undefined : await tenants.idsInScope(caller.scope);
      return runs.list({
        ...(tenantId ? { tenantId } : {}),
        ...(tenantIds ? { tenantIds } : {}),
        ...(status ? { status } : {}),
        limit,
      });
    },
  );

  api.get(
    '/runs/:id',
    { config: viewer, schema: { tags: ['runs'], params: IdParams, response: { 200: Run, ...ERRORS } } },
    async (request) => runInScope(callerOf(request), request.params.id),
  );

  api.delete(
    '/runs/:id',
    {
      config: operator,
      schema: {
        tags: ['runs'],
        description:
          'Cancels a run. Queued: its job leaves the queue and the run is `cancelled` (200). Running: its ' +
          'worker stops at its next page, sweeps nothing more and records `cancelled` (202; GET the run ' +
          'to see it end). Ended: 409.',
        params: IdParams,
        response: {
          200: z.object({ outcome: z.literal('cancelled'), run: Run }),
          202: z.object({ outcome: z.literal('cancel-requested'), run: Run }),
          ...ERRORS,
        },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      await runInScope(caller, request.params.id);
      const result = await queueCall(syncQueue, timeoutMs, () =>
        cancelRun(deps, { runId: request.params.id, by: caller.name }),
      );
      return reply.status(result.outcome === 'cancelled' ? 200 : 202).send(result);
    },
  );

  api.post(
    '/runs/:id/approve-deletes',
    {
      config: operator,
      schema: {
        tags: ['runs'],
        description: 'Deletes what delete protection held back in a needs_review run (and is still unseen).',
        params: IdParams,
        body: z.object({}).strict(),
        response: {
          200: z.object({ run: Run, deleted: z.record(z.string(), z.number()) }),
          ...ERRORS,
        },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      await runInScope(caller, request.params.id);
      return approveDeletes(deps, { runId: request.params.id, approvedBy: caller.name });
    },
  );

  api.post(
    '/tenants/:ref/purge',
    {
      config: admin,
      schema: {
        tags: ['tenants'],
        description: "Deletes the tenant's imported objects (of some kinds), recorded as a purge run.",
        params: RefParams,
        body: z
          .object({
            kinds: KindsSpec.optional(),
            confirm: z.literal(true, {
              error: "must be true: purging deletes the tenant's imported objects",
            }),
          })
          .strict(),
        response: { 200: Run, ...ERRORS },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const tenant = await tenants.show(request.params.ref, { scope: caller.scope });
      const { kinds: spec } = request.body;
      const kinds = await syncKinds(deps, spec);
      return purgeTenant(deps, { tenant, requestedBy: caller.name, ...(kinds ? { kinds } : {}) });
    },
  );

  api.get(
    '/kind-lists',
    { config: viewer, schema: { tags: ['settings'], response: { 200: z.array(KindList), ...ERRORS } } },
    async () => kindLists.list(),
  );
  api.put(
    '/kind-lists/:name',
    {
      config: globalAdmin,
      schema: {
        tags: ['settings'],
        params: NameParams,
        body: z.object({ kinds: KindsSpec, description: z.string().optional() }).strict(),
        response: { 200: KindList, ...ERRORS },
      },
    },
    async (request) => kindLists.set({ name: request.params.name, ...request.body }, callerOf(request).name),
  );
  api.delete(
    '/kind-lists/:name',
    { config: globalAdmin, schema: { tags: ['settings'], params: NameParams, response: { ...ERRORS } } },
    async (request, reply) => {
      await kindLists.remove(request.params.name);
      return reply.status(204).send();
    },
  );

  api.get(
    '/delete-protection',
    {
      config: viewer,
      schema: {
        tags: ['settings'],
        description: 'Mass-delete thresholds (environment included) that apply within the caller’s scope.',
        response: { 200: DeleteProtection, ...ERRORS },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const settings = await stores.deleteProtection.settings(deleteThresholds);
      if (caller.scope === ALL_SCOPES) return settings;
      return withinScope(settings, caller.scope, new Set(await tenants.idsInScope(caller.scope)));
    },
  );
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
