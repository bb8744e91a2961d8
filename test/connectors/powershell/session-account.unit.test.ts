import { describe, expect, it } from 'vitest';
import {
  powershellSessionAccount,
  powershellSessionsKey,
  sessionApplicationLabel,
} from '../../../connectors/powershell/session-account.js';
import { parseSettings } from '../../../domain/settings.js';
import { ValidationError } from '../../../domain/errors.js';
import { validateTenant, type TenantInput } from '../../../domain/tenant.js';
import { validTenantInput } from '../../../simulators/example-tenant.js';

const UPN = 'Teams-Admin@Contoso.example';
const CLIENT_ID = '11111111-2222-4333-8444-555555555555';
const TENANT_ID = '66666666-7777-4888-9999-000000000000';
const THUMBPRINT = 'A1B2C3D4E5F6A7B8C9D0A1B2C3D4E5F6A7B8C9D0';

const tenant = (overrides: TenantInput = {}) => validateTenant(validTenantInput(overrides));
const passwordAccount = tenant({ 'Microsoft Teams': { tenantUsername: UPN, tenantPassword: 'Teams-P4ss!' } });
const certificateAccount = tenant({
  'Microsoft Teams': { authentication: 'certificate', certificate_thumbprint: THUMBPRINT },
});
const exchange = tenant({
  'Microsoft Exchange': { enable_exchange: true, exchange_certificate_thumbprint: THUMBPRINT },
});

describe('the account a PowerShell session signs in with', () => {
  it('is the Teams service account, or the app in the tenant (always, for Exchange)', () => {
    expect(powershellSessionAccount('Microsoft Teams', passwordAccount)).toBe(
      `teams:user:${UPN.toLowerCase()}`,
    );
    expect(powershellSessionAccount('Microsoft Teams', certificateAccount)).toBe(
      `teams:app:${CLIENT_ID}@${TENANT_ID}`,
    );
    expect(powershellSessionAccount('Exchange Online', exchange)).toBe(
      `exchange:app:${CLIENT_ID}@${TENANT_ID}`,
    );
    expect(sessionApplicationLabel('Microsoft Teams')).toBe('teams');
    expect(sessionApplicationLabel('Exchange Online')).toBe('exchange');
  });

  it('tenants signing in with one account share one key; other accounts have their own', () => {
    const other = tenant({
      Tenant: { name: 'Fabrikam', description: 'another customer, same service account' },
      'Microsoft 365': { tenant_id: '77777777-7777-4888-9999-000000000000' },
      'Microsoft Teams': { tenantUsername: ` ${UPN.toUpperCase()} `, tenantPassword: 'Teams-P4ss!' },
    });
    const key = (t: typeof other, app: 'Microsoft Teams' | 'Exchange Online' = 'Microsoft Teams') =>
      powershellSessionsKey('m365sync', powershellSessionAccount(app, t)!);
    expect(key(other)).toBe(key(passwordAccount));
    expect(key(certificateAccount)).not.toBe(key(passwordAccount));
    expect(key(exchange, 'Exchange Online')).not.toBe(key(certificateAccount));
    expect(key(other, 'Exchange Online')).not.toBe(key(exchange, 'Exchange Online'));
  });

  it('the Redis key never holds the account name, an id or a secret: only its hash, under the prefix', () => {
    for (const [application, t] of [
      ['Microsoft Teams', passwordAccount],
      ['Microsoft Teams', certificateAccount],
      ['Exchange Online', exchange],
    ] as const) {
      const account = powershellSessionAccount(application, t)!;
      const key = powershellSessionsKey('m365sync', account);
      expect(key).toMatch(/^m365sync:powershell:sessions:[0-9a-f]{16}$/);
      const lower = key.toLowerCase();
      for (const part of [
        account,
        UPN,
        'teams-admin',
        'contoso',
        CLIENT_ID,
        TENANT_ID,
        THUMBPRINT,
        'Teams-P4ss!',
        'graph-secret-value',
        'Proxy-P4ss!',
      ])
        expect(lower).not.toContain(part.toLowerCase());
    }
  });

  it('names no account when the tenant gives none (its script then fails at sign-in)', () => {
    const t = tenant();
    delete (t['Microsoft Teams'] as { tenantUsername?: string }).tenantUsername;
    expect(powershellSessionAccount('Microsoft Teams', t)).toBeUndefined();
  });

  it('M365SYNC_POWERSHELL_SESSIONS_PER_ACCOUNT: 3 by default, at least 1', () => {
    expect(parseSettings({}).M365SYNC_POWERSHELL_SESSIONS_PER_ACCOUNT).toBe(3);
    expect(
      parseSettings({ M365SYNC_POWERSHELL_SESSIONS_PER_ACCOUNT: '1' })
        .M365SYNC_POWERSHELL_SESSIONS_PER_ACCOUNT,
    ).toBe(1);
    expect(() => parseSettings({ M365SYNC_POWERSHELL_SESSIONS_PER_ACCOUNT: '0' })).toThrow(ValidationError);
  });
});
