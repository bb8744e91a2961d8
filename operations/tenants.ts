/**
 * Adding, changing and removing a tenant connection (`m365sync tenants add|update|remove`,
 * `POST|PATCH|DELETE /tenants`). Each answer is the tenant as shown (secrets masked). Removing says
 * what happens to the tenant's imported objects: purged first (recorded as a purge run) or kept.
 */
import type { SyncRun } from '../domain/sync-run.js';
import type { Tenant, TenantInput } from '../domain/tenant.js';
import type { Uses } from './deps.js';
import { purgeTenant } from './purge-tenant.js';

/** The caller's scope (undefined: everything), as the tenant store checks it. */
interface Scoped {
  scope?: string;
}

function scopeOf(input: Scoped): Scoped {
  return input.scope === undefined ? {} : { scope: input.scope };
}

/** Adds a tenant from the fields given (checked, secrets encrypted); the new tenant as shown (masked). */
export async function addTenant(
  deps: Uses<'tenants'>,
  input: Scoped & { tenant: TenantInput },
): Promise<Tenant> {
  const added = await deps.stores.tenants.add(input.tenant, scopeOf(input));
  return deps.stores.tenants.show(added.id, scopeOf(input));
}

/** Changes the fields given (`********` for a secret keeps the stored one); the tenant as shown. */
export async function updateTenant(
  deps: Uses<'tenants'>,
  input: Scoped & { ref: string; changes: TenantInput },
): Promise<Tenant> {
  const updated = await deps.stores.tenants.update(input.ref, input.changes, scopeOf(input));
  return deps.stores.tenants.show(updated.id, scopeOf(input));
}

/**
 * Removes a tenant connection; `data: 'purge'` deletes its imported objects first (the purge run is
 * returned), `keep` leaves them.
 */
export async function removeTenant(
  deps: Parameters<typeof purgeTenant>[0] & Uses<'tenants'>,
  input: Scoped & { ref: string; data: 'purge' | 'keep'; by: string },
): Promise<{ removed: Tenant; purge?: SyncRun }> {
  const tenant = await deps.stores.tenants.show(input.ref, scopeOf(input));
  const purge =
    input.data === 'purge' ? await purgeTenant(deps, { tenant, requestedBy: input.by }) : undefined;
  const removed = await deps.stores.tenants.remove(tenant.id, scopeOf(input));
  return { removed, ...(purge ? { purge } : {}) };
}
