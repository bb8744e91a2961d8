import { describe, expect, it } from 'vitest';
import { SyncError } from '../../../domain/errors.js';
import {
  buildExchangePullScript,
  buildExchangeTestScript,
} from '../../../connectors/powershell/exchange-script.js';
import { TEAMS_KINDS } from '../../../connectors/powershell/records.js';
import { buildTeamsPullScript, buildTeamsTestScript } from '../../../connectors/powershell/teams-script.js';
import { parseScript } from '../../../simulators/powershell/ps-parser.js';
import { EXCHANGE_THUMBPRINT, TEAMS_THUMBPRINT, tenantFor } from './support/tenant-host.js';

const TENANT_ID = '66666666-7777-4888-9999-000000000000';
const CLIENT_ID = '11111111-2222-4333-8444-555555555555';
const ORGANIZATION = 'contoso.onmicrosoft.com';

function lines(script: string): string[] {
  return script.split('\n').map((l) => l.trim());
}

describe('the script prelude', () => {
  it('stops on errors, silences progress and writes UTF-8, before anything else runs', () => {
    for (const script of [
      buildTeamsPullScript(tenantFor(TENANT_ID)),
      buildExchangePullScript(tenantFor(TENANT_ID), { organization: ORGANIZATION }),
    ]) {
      const l = lines(script);
      const first = (text: string) => l.findIndex((x) => x.startsWith(text));
      expect(first("$ErrorActionPreference = 'Stop'")).toBeGreaterThan(-1);
      expect(first("$ProgressPreference = 'SilentlyContinue'")).toBeGreaterThan(-1);
      expect(first('[Console]::OutputEncoding = [System.Text.UTF8Encoding]::new($false)')).toBeGreaterThan(
        -1,
      );
      expect(first("$ErrorActionPreference = 'Stop'")).toBeLessThan(first('Import-Module'));
      expect(l.at(-2)).toBe(`Write-M365Line '{"t":"done"}'`);
      expect(() => parseScript(script)).not.toThrow();
    }
  });

  it('emits each object with ConvertTo-Json -Compress -Depth 10 inside a per-kind try/catch', () => {
    const script = buildTeamsPullScript(tenantFor(TENANT_ID));
    expect(script).toContain('ConvertTo-Json -InputObject $_ -Compress -Depth 10');
    expect(script).toMatch(/try \{[\s\S]*"t":"end"[\s\S]*\} catch \{[\s\S]*"t":"err"/);
  });
});

describe('Teams sign-in', () => {
  it('uses the service account as a PSCredential by default', () => {
    const script = buildTeamsPullScript(tenantFor(TENANT_ID));
    expect(script).toContain("$m365TeamsCredentialUser = 'teams-admin@contoso.example'");
    expect(script).toContain("ConvertTo-SecureString -String 'Teams-P4ss!' -AsPlainText -Force");
    expect(script).toContain(
      `$null = Connect-MicrosoftTeams -Credential $m365TeamsCredential -TenantId '${TENANT_ID}'`,
    );
    expect(script).not.toContain('-CertificateThumbprint');
  });

  it('uses app-only certificate sign-in when the tenant says so, without service-account fields', () => {
    const tenant = tenantFor(TENANT_ID, {
      'Microsoft Teams': {
        authentication: 'certificate',
        certificate_thumbprint: TEAMS_THUMBPRINT.toLowerCase(),
        tenantUsername: undefined,
        tenantPassword: undefined,
      },
    });
    const script = buildTeamsPullScript(tenant);
    expect(script).toContain(
      `$null = Connect-MicrosoftTeams -CertificateThumbprint '${TEAMS_THUMBPRINT}' -ApplicationId '${CLIENT_ID}' -TenantId '${TENANT_ID}'`,
    );
    expect(script).not.toContain('PSCredential -ArgumentList $m365TeamsCredential');
  });

  it('names the national cloud environment', () => {
    const script = buildTeamsTestScript(tenantFor(TENANT_ID, { 'Microsoft 365': { cloud: 'usgov_high' } }));
    expect(script).toContain("-TeamsEnvironmentName 'TeamsGCCH'");
    const exchange = buildExchangeTestScript(
      tenantFor(TENANT_ID, { 'Microsoft 365': { cloud: 'usgov_dod' } }),
      { organization: ORGANIZATION },
    );
    expect(exchange).toContain("-ExchangeEnvironmentName 'O365USGovDoD'");
  });
});

describe('Teams HTTP proxy', () => {
  it('leaves the process proxy alone without use_proxy', () => {
    expect(buildTeamsPullScript(tenantFor(TENANT_ID))).not.toMatch(/^Set-M365WebProxy/m);
  });

  it('uses the server proxy with use_proxy, and adds the tenant proxy credentials with use_http_proxy_auth', () => {
    const plain = buildTeamsPullScript(
      tenantFor(TENANT_ID, { 'Microsoft Teams HTTP Proxy': { use_proxy: true } }),
    );
    expect(plain).toMatch(/^Set-M365WebProxy$/m);
    const auth = buildTeamsPullScript(
      tenantFor(TENANT_ID, {
        'Microsoft Teams HTTP Proxy': {
          use_proxy: true,
          use_http_proxy_auth: true,
          http_proxy_username: 'proxy-user',
          http_proxy_password: 'proxy-pw',
        },
      }),
    );
    expect(auth).toContain("$m365ProxyCredentialUser = 'proxy-user'");
    expect(auth).toContain("ConvertTo-SecureString -String 'proxy-pw' -AsPlainText -Force");
    expect(auth).toMatch(/^Set-M365WebProxy -Credential \$m365ProxyCredential$/m);
    // The proxy is set before sign-in, which is the first request to go through it.
    expect(auth.indexOf('Set-M365WebProxy -Credential')).toBeLessThan(
      auth.indexOf('Connect-MicrosoftTeams -'),
    );
    expect(auth).toContain('[System.Net.WebRequest]::DefaultWebProxy = $proxy');
  });
});

describe('what a Teams full pull reads', () => {
  it('reads every Teams kind by default, each in its own Invoke-M365Kind', () => {
    const script = buildTeamsPullScript(tenantFor(TENANT_ID));
    const kinds = [...script.matchAll(/^Invoke-M365Kind -Kind '(\w+)'/gm)].map((m) => m[1]);
    expect(kinds).toEqual(TEAMS_KINDS);
    for (const cmdlet of [
      'Get-CsTenantDialPlan',
      'Get-CsOnlineVoiceRoutingPolicy',
      'Get-CsTeamsCallingPolicy',
      'Get-CsTeamsMeetingPolicy',
      'Get-CsTeamsMessagingPolicy',
      'Get-CsTeamsEmergencyCallingPolicy',
      'Get-CsTeamsEmergencyCallRoutingPolicy',
      'Get-CsOnlineVoicemailPolicy',
      'Get-CsTeamsCallParkPolicy',
      'Get-CsTeamsIPPhonePolicy',
      'Get-CsCallingLineIdentity',
      'Get-CsOnlinePstnUsage',
      'Get-CsOnlineVoiceRoute',
      'Get-CsOnlinePSTNGateway',
      'Get-CsOnlineApplicationInstance',
    ]) {
      expect(script).toContain(cmdlet);
    }
    expect(script).toContain("Read-M365TeamsUser -Properties @('Identity','UserPrincipalName'");
    expect(script).toContain(".Parameters.ContainsKey('Properties')");
  });

  it('pages call queues, auto attendants and phone numbers, with page sizes from the options', () => {
    const defaults = buildTeamsPullScript(tenantFor(TENANT_ID));
    expect(defaults).toContain(
      'Read-M365Pages -PageSize 100 -Page { param($First, $Skip) Get-CsCallQueue -First $First -Skip $Skip }',
    );
    expect(defaults).toContain(
      'Read-M365Pages -PageSize 100 -Page { param($First, $Skip) Get-CsAutoAttendant -First $First -Skip $Skip }',
    );
    expect(defaults).toContain(
      'Read-M365Pages -PageSize 1000 -Page { param($First, $Skip) Get-CsPhoneNumberAssignment -Top $First -Skip $Skip }',
    );
    const custom = buildTeamsPullScript(tenantFor(TENANT_ID), {
      kinds: ['call_queues', 'phone_numbers'],
      pageSizes: { call_queues: 25, phone_numbers: 250 },
    });
    expect([...custom.matchAll(/^Invoke-M365Kind -Kind '(\w+)'/gm)].map((m) => m[1])).toEqual([
      'call_queues',
      'phone_numbers',
    ]);
    expect(custom).toContain('-PageSize 25 ');
    expect(custom).toContain('-PageSize 250 ');
    expect(() => buildTeamsPullScript(tenantFor(TENANT_ID), { pageSizes: { phone_numbers: 1001 } })).toThrow(
      /1 to 1000/,
    );
    expect(() => buildTeamsPullScript(tenantFor(TENANT_ID), { kinds: ['mailboxes' as never] })).toThrow(
      /not a Teams entity kind/,
    );
  });

  it('the test script signs in and reads one user', () => {
    const script = buildTeamsTestScript(tenantFor(TENANT_ID));
    expect(script).toContain(
      "Invoke-M365Kind -Kind 'teams_users' -Read {\n  Get-CsOnlineUser -ResultSize 1\n}",
    );
    expect(script).not.toContain('Get-CsCallQueue');
  });
});

describe('Exchange', () => {
  it('signs in app-only with the Exchange certificate, client id and the initial domain as organisation', () => {
    const script = buildExchangePullScript(tenantFor(TENANT_ID), { organization: 'Contoso.onmicrosoft.com' });
    expect(script).toContain(
      `$null = Connect-ExchangeOnline -CertificateThumbprint '${EXCHANGE_THUMBPRINT}' -AppId '${CLIENT_ID}' -Organization 'contoso.onmicrosoft.com' -ShowBanner:$false`,
    );
    expect(script).not.toContain('MicrosoftTeams');
    expect(script).not.toContain(TENANT_ID);
    expect(() => buildExchangePullScript(tenantFor(TENANT_ID), { organization: "x'; exit" })).toThrow(
      /domain/,
    );
  });

  it('refuses to sign in without the initial domain (never the tenant id)', () => {
    for (const organization of ['', undefined as unknown as string]) {
      const error = (() => {
        try {
          buildExchangePullScript(tenantFor(TENANT_ID), { organization });
        } catch (e) {
          return e;
        }
      })() as SyncError;
      expect(error).toBeInstanceOf(SyncError);
      expect(error.code).toBe('CONFIGURATION');
      expect(error.message).toMatch(/initial \*\.onmicrosoft\.com domain as -Organization/);
    }
  });

  it('reads user, shared and room mailboxes and distribution groups without a size limit', () => {
    const script = buildExchangePullScript(tenantFor(TENANT_ID), { organization: ORGANIZATION });
    expect(script).toContain(
      'Get-EXOMailbox -ResultSize Unlimited -RecipientTypeDetails UserMailbox,SharedMailbox,RoomMailbox',
    );
    expect(script).toContain('Get-DistributionGroup -ResultSize Unlimited');
    expect(buildExchangeTestScript(tenantFor(TENANT_ID), { organization: ORGANIZATION })).toContain(
      'Get-EXOMailbox -ResultSize 1',
    );
  });

  it('refuses when Exchange is not enabled', () => {
    const tenant = tenantFor(TENANT_ID, {
      'Microsoft Exchange': { enable_exchange: false, exchange_certificate_thumbprint: undefined },
    });
    expect(() => buildExchangePullScript(tenant, { organization: ORGANIZATION })).toThrow(/enable_exchange/);
  });
});
