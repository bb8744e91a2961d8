/**
 * The Teams scripts: a full pull and a "Test connection". They run in their own powershell.exe (the
 * MicrosoftTeams and ExchangeOnlineManagement modules load conflicting MSAL assemblies in one
 * process). Every tenant value enters as a single-quoted literal (ps-quote.ts).
 */
import { SyncError } from '../../domain/errors.js';
import type { TenantConfig } from '../../domain/tenant.js';
import type { Cloud } from '../../domain/tenant-fields.js';
import { psGuid, psInteger, psLiteral, psLiteralArray, psThumbprint } from './ps-quote.js';
import { TEAMS_KINDS, type TeamsKind } from './records.js';
import { SCRIPT_DONE, SCRIPT_PRELUDE, credentialLines, kindBlock, pagedRead } from './script-common.js';
import { TEAMS_POLICY_TYPES } from '../../domain/entity-kinds.js';

export interface TeamsPageSizes {
  /** Get-CsCallQueue -First (the cmdlet returns only 100 when not paged). Default 100. */
  call_queues?: number;
  /** Get-CsAutoAttendant -First. Default 100. */
  auto_attendants?: number;
  /** Get-CsPhoneNumberAssignment -Top, at most 1000. Default 1000. */
  phone_numbers?: number;
}

export interface TeamsPullOptions {
  /** Which kinds to read (default: all Teams kinds), in the order given. */
  kinds?: readonly TeamsKind[];
  pageSizes?: TeamsPageSizes;
}

/** The Get-CsOnlineUser properties a full pull keeps (-Properties, module 6.9.0+; all otherwise). */
export const TEAMS_USER_PROPERTIES = [
  'Identity',
  'UserPrincipalName',
  'DisplayName',
  'Alias',
  'AccountEnabled',
  'AccountType',
  'SipAddress',
  'LineUri',
  'EnterpriseVoiceEnabled',
  'FeatureTypes',
  'UsageLocation',
  'Department',
  'TenantDialPlan',
  // A user's assigned policy of each type is a property named after the type.
  ...TEAMS_POLICY_TYPES,
  'WhenCreated',
  'WhenChanged',
  'SoftDeletionTimestamp',
] as const;

/** Connect-MicrosoftTeams -TeamsEnvironmentName per national cloud (none for worldwide). */
const TEAMS_ENVIRONMENT: Record<Cloud, string | undefined> = {
  global: undefined,
  usgov_high: 'TeamsGCCH',
  usgov_dod: 'TeamsDOD',
  china: 'TeamsChina',
};

const TEAMS_HELPERS = String.raw`
# Get-CsOnlineUser trimmed to the properties we keep where the module allows it (6.9.0 and later).
# The tenant's Teams users filter arrives as one single-quoted literal and is passed on as a value.
function Read-M365TeamsUser {
  param([string[]]$Properties, [string]$Filter)
  $arguments = @{}
  if ($Filter) { $arguments['Filter'] = $Filter }
  if ((Get-Command Get-CsOnlineUser).Parameters.ContainsKey('Properties')) {
    $arguments['Properties'] = $Properties
  }
  Get-CsOnlineUser @arguments
}

# All policy types share one collection: each policy carries its type and a key unique across types.
function Read-M365Policy {
  param([string]$PolicyType, [scriptblock]$Read)
  & $Read | ForEach-Object {
    $key = $PolicyType + ':' + [string]$_.Identity
    Add-Member -InputObject $_ -NotePropertyMembers @{ PolicyType = $PolicyType; PolicyKey = $key } -Force -PassThru
  }
}

# Get-CsOnlinePstnUsage returns one Global object holding every usage; one object per usage instead.
filter ConvertTo-M365PstnUsage {
  foreach ($usage in @($_.Usage)) { [pscustomobject]@{ Usage = [string]$usage } }
}

# The HTTP proxy configured on this server for this account (Internet Options or group policy,
# including automatic configuration), made the process default for .NET (MSAL and the Teams
# cmdlets use it), with the tenant's proxy credentials when given, else the account's own.
function Set-M365WebProxy {
  param([System.Management.Automation.PSCredential]$Credential)
  $proxy = [System.Net.WebRequest]::GetSystemWebProxy()
  if ($Credential) {
    $proxy.Credentials = $Credential.GetNetworkCredential()
  } else {
    $proxy.Credentials = [System.Net.CredentialCache]::DefaultNetworkCredentials
  }
  [System.Net.WebRequest]::DefaultWebProxy = $proxy
  if ($PSVersionTable.PSVersion.Major -ge 7) { [System.Net.Http.HttpClient]::DefaultProxy = $proxy }
}
`;

function proxyLines(tenant: TenantConfig): string[] {
  const proxy = tenant['Microsoft Teams HTTP Proxy'];
  if (!proxy?.use_proxy) return [];
  if (!proxy.use_http_proxy_auth) return ['Set-M365WebProxy'];
  if (!proxy.http_proxy_username || !proxy.http_proxy_password) {
    throw new SyncError(
      'CONFIGURATION',
      'Microsoft Teams HTTP Proxy.use_http_proxy_auth is on: give http_proxy_username and http_proxy_password',
    );
  }
  return [
    ...credentialLines('m365ProxyCredential', proxy.http_proxy_username, proxy.http_proxy_password),
    'Set-M365WebProxy -Credential $m365ProxyCredential',
  ];
}

/** Import-Module and Connect-MicrosoftTeams, by service account or app-only certificate. */
function signInLines(tenant: TenantConfig): string[] {
  const teams = tenant['Microsoft Teams'];
  const m365 = tenant['Microsoft 365'];
  const tenantId = psGuid(m365?.tenant_id, 'Microsoft 365.tenant_id');
  const environment = TEAMS_ENVIRONMENT[m365?.cloud ?? 'global'];
  const envArg = environment ? ` -TeamsEnvironmentName ${psLiteral(environment)}` : '';
  const lines = ['Import-Module MicrosoftTeams'];
  if (teams?.authentication === 'certificate') {
    const thumbprint = psThumbprint(teams.certificate_thumbprint, 'Microsoft Teams.certificate_thumbprint');
    const appId = psGuid(m365?.client_id, 'Microsoft 365.client_id');
    lines.push(
      `$null = Connect-MicrosoftTeams -CertificateThumbprint ${thumbprint} -ApplicationId ${appId} -TenantId ${tenantId}${envArg}`,
    );
  } else {
    if (!teams?.tenantUsername || !teams.tenantPassword) {
      throw new SyncError(
        'CONFIGURATION',
        'Microsoft Teams.authentication is service_account: give tenantUsername and tenantPassword (or use certificate authentication)',
      );
    }
    // The password sits on its own line, never on the Connect line PowerShell echoes in an error.
    lines.push(...credentialLines('m365TeamsCredential', teams.tenantUsername, teams.tenantPassword));
    lines.push(
      `$null = Connect-MicrosoftTeams -Credential $m365TeamsCredential -TenantId ${tenantId}${envArg}`,
    );
  }
  return lines;
}

const POLICY_CMDLETS: Record<(typeof TEAMS_POLICY_TYPES)[number], string> = {
  OnlineVoiceRoutingPolicy: 'Get-CsOnlineVoiceRoutingPolicy',
  TeamsCallingPolicy: 'Get-CsTeamsCallingPolicy',
  TeamsMeetingPolicy: 'Get-CsTeamsMeetingPolicy',
  TeamsMessagingPolicy: 'Get-CsTeamsMessagingPolicy',
  TeamsEmergencyCallingPolicy: 'Get-CsTeamsEmergencyCallingPolicy',
  TeamsEmergencyCallRoutingPolicy: 'Get-CsTeamsEmergencyCallRoutingPolicy',
  OnlineVoicemailPolicy: 'Get-CsOnlineVoicemailPolicy',
  TeamsCallParkPolicy: 'Get-CsTeamsCallParkPolicy',
  TeamsIPPhonePolicy: 'Get-CsTeamsIPPhonePolicy',
  CallingLineIdentity: 'Get-CsCallingLineIdentity',
};

function readFor(kind: TeamsKind, pageSizes: TeamsPageSizes, usersFilter: string | undefined): string {
  switch (kind) {
    case 'teams_users':
      // The filter is a value (psLiteral: one single-quoted string), never spliced into code.
      return `Read-M365TeamsUser -Properties ${psLiteralArray(TEAMS_USER_PROPERTIES)}${usersFilter ? ` -Filter ${psLiteral(usersFilter)}` : ''}`;
    case 'dial_plans':
      return 'Get-CsTenantDialPlan';
    case 'policies':
      return TEAMS_POLICY_TYPES.map(
        (type) => `Read-M365Policy -PolicyType ${psLiteral(type)} -Read { ${POLICY_CMDLETS[type]} }`,
      ).join('\n');
    case 'pstn_usages':
      return 'Get-CsOnlinePstnUsage | ConvertTo-M365PstnUsage';
    case 'voice_routes':
      return 'Get-CsOnlineVoiceRoute';
    case 'pstn_gateways':
      return 'Get-CsOnlinePSTNGateway';
    case 'call_queues':
      return pagedRead(
        psInteger(pageSizes.call_queues ?? 100, 'call queue page size', 1, 1000),
        'Get-CsCallQueue -First $First -Skip $Skip',
      );
    case 'auto_attendants':
      return pagedRead(
        psInteger(pageSizes.auto_attendants ?? 100, 'auto attendant page size', 1, 1000),
        'Get-CsAutoAttendant -First $First -Skip $Skip',
      );
    case 'resource_accounts':
      return 'Get-CsOnlineApplicationInstance';
    case 'phone_numbers':
      return pagedRead(
        psInteger(pageSizes.phone_numbers ?? 1000, 'phone number page size', 1, 1000),
        'Get-CsPhoneNumberAssignment -Top $First -Skip $Skip',
      );
    default:
      throw new SyncError(
        'CONFIGURATION',
        `"${String(kind)}" is not a Teams entity kind (${TEAMS_KINDS.join(', ')})`,
      );
  }
}

function teamsScript(tenant: TenantConfig, body: string[]): string {
  return [
    '# m365sync: Microsoft Teams (generated; every tenant value is a single-quoted literal)',
    SCRIPT_PRELUDE,
    TEAMS_HELPERS,
    ...proxyLines(tenant),
    ...signInLines(tenant),
    '',
    ...body,
    SCRIPT_DONE,
    '',
  ].join('\n');
}

/** The Teams full pull: each kind in its own try/catch, streamed as JSON Lines. */
export function buildTeamsPullScript(tenant: TenantConfig, options: TeamsPullOptions = {}): string {
  const kinds = options.kinds ?? TEAMS_KINDS;
  for (const kind of kinds) {
    if (!TEAMS_KINDS.includes(kind)) {
      throw new SyncError(
        'CONFIGURATION',
        `"${kind}" is not a Teams entity kind (${TEAMS_KINDS.join(', ')})`,
      );
    }
  }
  return teamsScript(
    tenant,
    kinds.map((kind) =>
      kindBlock(kind, readFor(kind, options.pageSizes ?? {}, tenant['Sync Filters']?.teams_users_filter)),
    ),
  );
}

/** "Test connection": sign in and read one user. */
export function buildTeamsTestScript(tenant: TenantConfig): string {
  return teamsScript(tenant, [kindBlock('teams_users', 'Get-CsOnlineUser -ResultSize 1')]);
}
