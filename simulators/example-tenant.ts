/**
 * An example tenant connection that passes validation, with made-up hosts and credentials: the tests
 * change one thing at a time from it, the benchmarks point it at a simulator. No simulator accepts it
 * as it is (simulators/m365.ts gives the connection that reaches the simulated tenant).
 */
import type { TenantInput } from '../domain/tenant.js';

/** A valid tenant input; tests change one thing at a time from here. */
export function validTenantInput(overrides: TenantInput = {}): TenantInput {
  const base: TenantInput = {
    hierarchy: 'provider.reseller.customer',
    Tenant: { name: 'Contoso UK', description: 'Demo customer' },
    'Microsoft Teams Powershell': {
      hostName: 'ps1.example.net',
      proxyUsername: 'svc-proxy',
      proxyPassword: 'Proxy-P4ss!',
    },
    'Microsoft Teams HTTP Proxy': { use_proxy: false, use_http_proxy_auth: false },
    'Microsoft Teams': { tenantUsername: 'teams-admin@contoso.example', tenantPassword: 'Teams-P4ss!' },
    'Microsoft 365': {
      client_id: '11111111-2222-4333-8444-555555555555',
      tenant_id: '66666666-7777-4888-9999-000000000000',
      client_secret: 'graph-secret-value',
    },
    'Microsoft Exchange': { enable_exchange: false },
  };
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    const current = merged[key];
    merged[key] =
      value && typeof value === 'object' && current && typeof current === 'object'
        ? { ...current, ...value }
        : value;
  }
  return merged as TenantInput;
}

/** The allow-list entries `validTenantInput` needs: its PowerShell proxy and outbound proxy hosts. */
export const FIXTURE_DESTINATIONS = [
  { kind: 'powershell', entry: 'ps1.example.net' },
  { kind: 'http_proxy', entry: 'proxy.example' },
] as const;
