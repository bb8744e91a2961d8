/**
 * What the engine learns about a tenant while syncing it and needs again later (collection
 * `tenant_sync_state`, `_id` = tenant id): kept apart from the operator-edited connection in `tenants`,
 * which the engine never writes. Holds the tenant's initial `*.onmicrosoft.com` domain, read from Graph
 * for Connect-ExchangeOnline -Organization, so a sync whose Graph read fails can still use it.
 */
import type { Collection, Db } from 'mongodb';

export interface TenantSyncState {
  /** The initial domain (Graph /organization verifiedDomains isInitial), e.g. contoso.onmicrosoft.com. */
  exchangeOrganization?: string;
  /** When it was last read from Graph. */
  exchangeOrganizationReadAt?: Date;
}

interface TenantSyncStateDocument extends TenantSyncState {
  _id: string;
}

export class TenantSyncStateStore {
  readonly collection: Collection<TenantSyncStateDocument>;

  constructor(db: Db) {
    this.collection = db.collection<TenantSyncStateDocument>('tenant_sync_state');
  }

  async get(tenantId: string): Promise<TenantSyncState | null> {
    const doc = await this.collection.findOne({ _id: tenantId });
    if (!doc) return null;
    const { _id: _ignored, ...state } = doc;
    return state;
  }

  async setExchangeOrganization(tenantId: string, domain: string): Promise<void> {
    await this.collection.updateOne(
      { _id: tenantId },
      { $set: { exchangeOrganization: domain, exchangeOrganizationReadAt: new Date() } },
      { upsert: true },
    );
  }
}
