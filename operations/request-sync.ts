/**
 * "Request a sync": the one way the CLI, the API, the console and the scheduler's trigger worker ask
 * for a full pull or a delta run. Resolves the kinds (kind names and kind lists, the operators' own
 * included), records the request's `queued` run, then adds its job, de-duplicated per tenant
 * (queues/sync-queue.ts addSyncJob). The record is written before the add, under the id that becomes
 * the job id, so a worker that takes the job at once finds it; once the add returned, the record says
 * what became of the request.
 */
import type { TenantRef } from '../connectors/mongo/index.js';
import type { EntityKindName } from '../domain/entity-kinds.js';
import type { SyncMode } from '../domain/delta.js';
import { SyncError } from '../domain/errors.js';
import { ignoreBecause } from '../domain/ignored-failure.js';
import {
  addSyncJob,
  markEnqueued,
  prepareSync,
  syncQueueSettings,
  type EnqueueResult,
  type SyncRequest,
} from '../queues/sync-queue.js';
import type { Uses } from './deps.js';

/** What requesting a sync uses: the runs, kind lists and tenants, the queue and the settings. */
export type SyncDeps = Uses<'runs' | 'kindLists' | 'tenants', 'queue' | 'settings'>;

/** A request for a sync of one tenant. */
export interface SyncRequestInput {
  tenant: TenantRef;
  trigger: SyncRequest['trigger'];
  requestedBy: string;
  /** Kinds or kind lists, e.g. `users,licences` or `licensing`; left out: the tenant's whole plan. */
  kinds?: string | readonly string[];
  /** `delta`: a delta run of the Entra kinds (docs/delta.md); left out: a full pull. */
  mode?: SyncMode;
}

/** The kinds a spec names (kind lists resolved); undefined when none is given: the whole plan. */
export async function syncKinds(
  deps: Uses<'kindLists'>,
  spec: string | readonly string[] | undefined,
): Promise<EntityKindName[] | undefined> {
  return spec === undefined ? undefined : deps.stores.kindLists.resolve(spec);
}

/** Requests a sync of one tenant: its `queued` run record first, then the de-duplicated job. */
export async function requestSync(
  deps: SyncDeps,
  input: SyncRequestInput,
): Promise<EnqueueResult & { kinds?: EntityKindName[] }> {
  refuseDisabledDelta(deps, input.mode);
  const kinds = await syncKinds(deps, input.kinds);
  const result = await enqueueFor(deps, input.tenant, input, kinds);
  return { ...result, ...(kinds ? { kinds } : {}) };
}

/**
 * Requests a sync of every tenant at a hierarchy place and below it (of all, without one): `sync
 * --all`, the plain-cron alternative to the job schedulers. Each request as requestSync makes it.
 */
export async function requestSyncOfAll(
  deps: SyncDeps,
  input: Omit<SyncRequestInput, 'tenant'> & { hierarchy?: string },
): Promise<(EnqueueResult & { tenantId: string })[]> {
  refuseDisabledDelta(deps, input.mode);
  const kinds = await syncKinds(deps, input.kinds);
  const results: (EnqueueResult & { tenantId: string })[] = [];
  for (const tenant of await deps.stores.tenants.refs(input.hierarchy))
    results.push({ tenantId: tenant.id, ...(await enqueueFor(deps, tenant, input, kinds)) });
  return results;
}

/**
 * Records a request's `queued` run, then adds its job. A failed add ends the record `failed` (no job
 * will ever take it); an add that joined a waiting job ends it `merged` into that job. A created or
 * follow-up record is left to its worker: it may be claimed at this very moment, and FerretDB v1
 * applies an update as a read-modify-write of the whole document, so any update here could write
 * `queued` back over the claim. That the add returned goes to Redis instead, for the run reaper.
 */
export async function enqueueRecorded(
  deps: Uses<'runs', 'queue' | 'settings'>,
  input: { request: SyncRequest; hierarchy: string },
): Promise<EnqueueResult> {
  const { queue, stores } = deps;
  const data = await prepareSync(queue, input.request);
  const runId = data.runId;
  await stores.runs.recordQueued({
    id: runId,
    tenantId: data.tenantId,
    hierarchy: input.hierarchy,
    trigger: data.trigger,
    requestedBy: data.requestedBy,
    jobId: runId,
    ...(data.kinds ? { kindsRequested: data.kinds } : {}),
    ...(data.mode ? { mode: data.mode } : {}),
  });
  let result: EnqueueResult;
  try {
    result = await addSyncJob(queue, data, syncQueueSettings(deps.settings));
  } catch (error) {
    await stores.runs
      .endQueued(runId, {
        status: 'failed',
        error: {
          code: 'QUEUE_UNAVAILABLE',
          message: `The queue did not accept the sync request (${(error as Error).message}); nothing was enqueued. Try again.`,
        },
      })
      .catch(
        ignoreBecause("the queue's error is the one to report; the run reaper ends a record left queued"),
      );
    throw error;
  }
  if (result.outcome === 'joined-waiting')
    await stores.runs.endQueued(runId, {
      status: 'merged',
      mergedInto: result.jobId,
      enqueueOutcome: result.outcome,
    });
  else await markEnqueued(queue, runId, result.outcome);
  return result;
}

function enqueueFor(
  deps: SyncDeps,
  tenant: TenantRef,
  input: Omit<SyncRequestInput, 'tenant'>,
  kinds: EntityKindName[] | undefined,
): Promise<EnqueueResult> {
  return enqueueRecorded(deps, {
    request: {
      tenantId: tenant.id,
      trigger: input.trigger,
      requestedBy: input.requestedBy,
      ...(kinds ? { kinds } : {}),
      ...(input.mode === 'delta' ? { mode: 'delta' as const } : {}),
    },
    hierarchy: tenant.hierarchy,
  });
}

function refuseDisabledDelta(deps: Pick<SyncDeps, 'settings'>, mode: SyncMode | undefined): void {
  if (mode === 'delta' && !deps.settings.M365SYNC_DELTA)
    throw new SyncError(
      'CONFIGURATION',
      'Delta sync is off for this installation (M365SYNC_DELTA=false); request a full sync instead.',
    );
}
