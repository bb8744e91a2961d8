/**
 * "Request a sync": the one way the CLI, the API and the scheduler's trigger worker ask for a full
 * pull. Resolves the kinds (kind names and kind lists, the operators' own included), then records the
 * request's `queued` run and enqueues it, de-duplicated per tenant (queues/sync-queue.ts enqueueSync).
 */
import type { Queue } from 'bullmq';
import type { Stores, TenantRef } from '../connectors/mongo/index.js';
import type { EntityKindName } from '../domain/entity-kinds.js';
import type { SyncMode } from '../domain/delta.js';
import { SyncError } from '../domain/errors.js';
import {
  enqueueSync,
  type EnqueueResult,
  type SyncJobData,
  type SyncQueueSettings,
  type SyncRequest,
} from '../queues/sync-queue.js';

export interface SyncRequester {
  queue: Queue<SyncJobData, unknown, string>;
  stores: Pick<Stores, 'runs' | 'kindLists' | 'tenants'>;
  /** Delta sync is on for the installation (M365SYNC_DELTA; default on): else delta requests are refused. */
  deltaEnabled?: boolean;
  /** Attempts and backoff fixed in the job by whoever enqueues it (syncQueueSettings of its settings); default the defaults. */
  settings?: SyncQueueSettings;
}

export interface SyncAsk {
  trigger: SyncRequest['trigger'];
  requestedBy: string;
  /** Kinds or kind lists, e.g. `users,licences` or `licensing`; left out: the tenant's whole plan. */
  kinds?: string | readonly string[];
  /** `delta`: a delta run of the Entra kinds (docs/delta.md); left out: a full pull. */
  mode?: SyncMode;
}

/** The kinds a spec names (kind lists resolved); undefined when none is given: the whole plan. */
export async function syncKinds(
  stores: Pick<Stores, 'kindLists'>,
  spec: string | readonly string[] | undefined,
): Promise<EntityKindName[] | undefined> {
  return spec === undefined ? undefined : stores.kindLists.resolve(spec);
}

/** Requests a full pull of one tenant: its `queued` run record first, then the de-duplicated job. */
export async function requestSync(
  requester: SyncRequester,
  tenant: TenantRef,
  ask: SyncAsk,
): Promise<EnqueueResult & { kinds?: EntityKindName[] }> {
  refuseDisabledDelta(requester, ask);
  const kinds = await syncKinds(requester.stores, ask.kinds);
  const result = await enqueueFor(requester, tenant, ask, kinds);
  return { ...result, ...(kinds ? { kinds } : {}) };
}

/**
 * Requests a full pull of every tenant at a hierarchy place and below it (of all, without one): `sync
 * --all`, the plain-cron alternative to the job schedulers. Each request as requestSync makes it.
 */
export async function requestSyncOfAll(
  requester: SyncRequester,
  ask: SyncAsk & { hierarchy?: string },
): Promise<(EnqueueResult & { tenantId: string })[]> {
  refuseDisabledDelta(requester, ask);
  const kinds = await syncKinds(requester.stores, ask.kinds);
  const results: (EnqueueResult & { tenantId: string })[] = [];
  for (const tenant of await requester.stores.tenants.refs(ask.hierarchy))
    results.push({ tenantId: tenant.id, ...(await enqueueFor(requester, tenant, ask, kinds)) });
  return results;
}

function enqueueFor(
  requester: SyncRequester,
  tenant: TenantRef,
  ask: SyncAsk,
  kinds: EntityKindName[] | undefined,
): Promise<EnqueueResult> {
  return enqueueSync(
    requester.queue,
    {
      tenantId: tenant.id,
      trigger: ask.trigger,
      requestedBy: ask.requestedBy,
      ...(kinds ? { kinds } : {}),
      ...(ask.mode === 'delta' ? { mode: 'delta' as const } : {}),
    },
    {
      runs: requester.stores.runs,
      hierarchy: tenant.hierarchy,
      ...(requester.settings ? { settings: requester.settings } : {}),
    },
  );
}

function refuseDisabledDelta(requester: SyncRequester, ask: SyncAsk): void {
  if (ask.mode === 'delta' && requester.deltaEnabled === false)
    throw new SyncError(
      'CONFIGURATION',
      'Delta sync is off for this installation (M365SYNC_DELTA=false); request a full sync instead.',
    );
}
