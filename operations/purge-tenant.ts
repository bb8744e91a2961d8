/**
 * "Purge a tenant": removes its imported objects (of every kind, or of some), under the tenant's
 * lease, recorded in `sync_runs` as a run with trigger `purge`.
 */
import type { TenantRef } from '../connectors/mongo/index.js';
import type { Uses } from './deps.js';
import { checkedActor } from '../domain/actor.js';
import { ENTITY_KIND_NAMES } from '../domain/entity-kinds.js';
import { resolveKinds } from '../domain/kind-lists.js';
import type { KindResult, SyncRun } from '../domain/sync-run.js';
import { underLease } from './under-lease.js';

/**
 * Removes a tenant's imported objects, of every kind or of `kinds`; the run's kinds hold the deleted
 * counts. An unknown kind is refused before anything is recorded or deleted.
 */
export async function purgeTenant(
  deps: Uses<'runs' | 'leases' | 'objects' | 'sweepRecords' | 'changes' | 'deltaStates'>,
  input: { tenant: TenantRef; kinds?: readonly string[]; requestedBy: string },
): Promise<SyncRun> {
  const { stores } = deps;
  const { tenant } = input;
  const requestedBy = checkedActor(input.requestedBy, 'requestedBy');
  const kinds = input.kinds ? resolveKinds(input.kinds) : ENTITY_KIND_NAMES;
  const { runs, objects, sweepRecords } = stores;
  return underLease(stores.leases, tenant.id, 'purge', async (lease) => {
    const run = await runs.start({
      tenantId: tenant.id,
      hierarchy: tenant.hierarchy,
      trigger: 'purge',
      requestedBy,
      jobId: `purge:${lease.token}:${Date.now()}`,
      attempt: 1,
      worker: 'cli',
      kindsRequested: [...kinds],
    });
    const results: Record<string, KindResult> = {};
    await sweepRecords.purge(tenant.id, kinds);
    await stores.changes.forgetBaselines(tenant.id, kinds);
    await stores.deltaStates.forget(tenant.id, kinds);
    for (const kind of kinds) {
      const started = Date.now();
      const deleted = await objects.purge(kind, tenant.id);
      results[kind] = {
        status: 'succeeded',
        created: 0,
        updated: 0,
        unchanged: 0,
        deleted,
        durationMs: Date.now() - started,
      };
    }
    return (await runs.finish(run.id, { status: 'succeeded', kinds: results })) ?? run;
  });
}
