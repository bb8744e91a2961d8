/**
 * The account a PowerShell script signs in with, for the fleet-wide limit of concurrent sessions per
 * account (M365SYNC_POWERSHELL_SESSIONS_PER_ACCOUNT): Teams and Exchange Online refuse sessions past a
 * few per account. The Teams script signs in as the tenant's service account (tenantUsername) or, with
 * certificate authentication, as the app (client_id) in the tenant (tenant_id); the Exchange script
 * always as the app in the tenant (its -Organization is the tenant's initial domain, one per tenant).
 * Only the account's identity goes into the Redis key, hashed: never a UPN in clear, never a secret.
 */
import { createHash } from 'node:crypto';
import type { TenantConfig } from '../../domain/tenant.js';
import type { PowerShellApplication } from './script-output.js';

/** The short label of an application, for metrics (nothing tenant-identifying). */
export function sessionApplicationLabel(application: PowerShellApplication): 'teams' | 'exchange' {
  return application === 'Microsoft Teams' ? 'teams' : 'exchange';
}

/**
 * The identity a script of `application` signs in as, e.g. `teams:user:admin@contoso.com` or
 * `exchange:app:<client id>@<tenant id>` (lower case). Undefined when the tenant does not say (the
 * script itself then fails on its sign-in, and no slot is worth holding).
 */
export function powershellSessionAccount(
  application: PowerShellApplication,
  tenant: TenantConfig,
): string | undefined {
  const m365 = tenant['Microsoft 365'];
  const app = (prefix: string) =>
    m365?.client_id && m365.tenant_id
      ? `${prefix}:app:${m365.client_id}@${m365.tenant_id}`.toLowerCase()
      : undefined;
  if (application === 'Exchange Online') return app('exchange');
  const teams = tenant['Microsoft Teams'];
  if (teams?.authentication === 'certificate') return app('teams');
  return teams?.tenantUsername ? `teams:user:${teams.tenantUsername.trim()}`.toLowerCase() : undefined;
}

/**
 * The Redis key of one account's session slots (prefix as the shell slots' and the Graph limiter's):
 * the account hashed (sha256, 16 hex digits), so no UPN or tenant id is readable in Redis.
 */
export function powershellSessionsKey(prefix: string, account: string): string {
  const hash = createHash('sha256').update(account).digest('hex').slice(0, 16);
  return `${prefix}:powershell:sessions:${hash}`;
}
