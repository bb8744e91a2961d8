/**
 * Read a tenant's change feed (docs/engine.md, "The change feed"): one page of its committed changes
 * after a cursor, or the changes of one run, filtered by kinds and operations. For the API's
 * `GET /tenants/:ref/changes` and `m365sync changes`; the tenant is looked up within the caller's
 * scope (outside it: not found).
 */
import type { ChangePage } from '../connectors/mongo/index.js';
import type { Uses } from './deps.js';
import { parseChangeQuery } from '../domain/changes.js';
import { SyncError } from '../domain/errors.js';

export interface ListChangesRequest {
  /** Tenant id, <hierarchy>/<name>, or a name unique within the scope. */
  tenant: string;
  /** The caller's scope (undefined: everything). */
  scope?: string;
  after?: string;
  /** Only this run's changes (still after `after`). */
  runId?: string;
  kinds?: string | string[];
  ops?: string | string[];
  limit?: string | number;
}

export async function listChanges(
  deps: Uses<'tenants' | 'runs' | 'changes'>,
  request: ListChangesRequest,
): Promise<ChangePage & { tenantId: string }> {
  const { stores } = deps;
  const query = parseChangeQuery(request);
  const tenant = await stores.tenants.show(request.tenant, request.scope ? { scope: request.scope } : {});
  if (request.runId === undefined)
    return { tenantId: tenant.id, ...(await stores.changes.page(tenant.id, query)) };
  const run = await stores.runs.get(request.runId);
  if (!run || run.tenantId !== tenant.id)
    throw new SyncError('NOT_FOUND', `No sync run ${request.runId} of tenant ${request.tenant}.`);
  return { tenantId: tenant.id, ...(await stores.changes.ofRun(tenant.id, run.id, query)) };
}
