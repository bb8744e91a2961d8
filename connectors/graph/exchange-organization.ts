/**
 * The organization Connect-ExchangeOnline signs in to. Microsoft documents `-Organization` for app-only
 * (certificate) sign-in as the tenant's primary (initial) `*.onmicrosoft.com` domain, which the tenant
 * connection does not hold. Graph knows it (/organization, verifiedDomains with isInitial; permission
 * Organization.Read.All), so each sync with Exchange kinds reads it before the Exchange script and keeps
 * it with the tenant's sync state (`tenant_sync_state`). When Graph cannot say, the value an earlier
 * sync kept is used; with neither, the Exchange kinds fail with what is missing and what to do.
 */
import type { Logger } from 'pino';
import { SyncError } from '../../domain/errors.js';
import type { TenantConfig } from '../../domain/tenant.js';
import type { GraphConnector } from './connector.js';

/** Where a sync keeps the domain between runs (connectors/mongo/sync-state.ts TenantSyncStateStore). */
export interface KeptOrganizations {
  get(tenantId: string): Promise<{ exchangeOrganization?: string } | null>;
  setExchangeOrganization(tenantId: string, domain: string): Promise<void>;
}

export interface ExchangeOrganizationInput {
  tenantId: string;
  tenant: TenantConfig;
  /** The tenant's Graph connector (created on demand; creating it may fail, e.g. no certificate). */
  graph: () => Promise<GraphConnector>;
  /** Where the domain is kept between syncs; test-connection reads Graph only. */
  states?: KeptOrganizations;
  signal?: AbortSignal;
  logger?: Logger;
}

export async function exchangeOrganization(input: ExchangeOrganizationInput): Promise<string> {
  let reason: string;
  let retryable = false;
  try {
    const org = await (await input.graph()).organization({ signal: input.signal });
    if (org.initialDomain) {
      await input.states?.setExchangeOrganization(input.tenantId, org.initialDomain);
      return org.initialDomain;
    }
    reason = 'Graph /organization lists no initial (isInitial) domain';
  } catch (error) {
    if (input.signal?.aborted) throw error;
    reason =
      error instanceof SyncError
        ? `${error.code}: ${error.message}`
        : `${(error as Error)?.message ?? error}`;
    retryable = error instanceof SyncError ? error.retryable : true;
  }
  const kept = (await input.states?.get(input.tenantId))?.exchangeOrganization;
  if (kept) {
    input.logger?.warn(
      { tenantId: input.tenantId, organization: kept, reason },
      'Graph did not give the initial domain; using the one kept from an earlier sync',
    );
    return kept;
  }
  const m365 = input.tenant['Microsoft 365'];
  throw new SyncError(
    'CONFIGURATION',
    "Exchange Online needs the tenant's initial *.onmicrosoft.com domain for Connect-ExchangeOnline -Organization, " +
      `and it is not known: Graph did not give it (${reason})${input.states ? ' and no earlier sync kept it' : ''}. ` +
      `Grant app ${m365.client_id} the application permission Organization.Read.All with admin consent in tenant ${m365.tenant_id} ` +
      '(and check the Graph settings), then sync again.',
    { retryable },
  );
}
