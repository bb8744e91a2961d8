/**
 * The Exchange Online scripts: a full pull (mailboxes, distribution groups) and a "Test connection".
 * App-only certificate sign-in (the only unattended way Exchange Online PowerShell supports), in its
 * own powershell.exe, apart from Teams.
 */
import { SyncError } from '../../domain/errors.js';
import type { EntityKindName } from '../../domain/entity-kinds.js';
import type { TenantConfig } from '../../domain/tenant.js';
import type { Cloud } from '../../domain/tenant-fields.js';
import { psGuid, psLiteral, psThumbprint } from './ps-quote.js';
import { EXCHANGE_KINDS } from './records.js';
import { SCRIPT_DONE, SCRIPT_PRELUDE, kindBlock } from './script-common.js';

export type ExchangeKind = 'mailboxes' | 'distribution_groups';

export interface ExchangeScriptOptions {
  kinds?: readonly ExchangeKind[];
  /**
   * Connect-ExchangeOnline -Organization: Microsoft documents the tenant's primary (initial)
   * `*.onmicrosoft.com` domain for app-only sign-in. The tenant model holds only the tenant id, so the
   * sync reads the initial domain from Graph (/organization, verifiedDomains isInitial) and keeps it
   * with the tenant's sync state (connectors/graph/exchange-organization.ts). Required: never the tenant id.
   */
  organization: string;
}

const DOMAIN =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/i;

/** Connect-ExchangeOnline -ExchangeEnvironmentName per national cloud (none for worldwide). */
const EXCHANGE_ENVIRONMENT: Record<Cloud, string | undefined> = {
  global: undefined,
  usgov_high: 'O365USGovGCCHigh',
  usgov_dod: 'O365USGovDoD',
  china: 'O365China',
};

const READS: Record<ExchangeKind, string> = {
  mailboxes:
    'Get-EXOMailbox -ResultSize Unlimited -RecipientTypeDetails UserMailbox,SharedMailbox,RoomMailbox -PropertySets Minimum',
  distribution_groups: 'Get-DistributionGroup -ResultSize Unlimited',
};

/** A kind's read; the tenant's mailbox filter goes in as one single-quoted literal (psLiteral). */
function readFor(kind: ExchangeKind, tenant: TenantConfig): string {
  const filter = tenant['Sync Filters']?.exchange_mailbox_filter;
  return kind === 'mailboxes' && filter ? `${READS[kind]} -Filter ${psLiteral(filter)}` : READS[kind];
}

function organizationLiteral(organization: string | undefined): string {
  if (!organization) {
    throw new SyncError(
      'CONFIGURATION',
      "Connect-ExchangeOnline needs the tenant's initial *.onmicrosoft.com domain as -Organization, and it is not known",
    );
  }
  if (!DOMAIN.test(organization)) {
    throw new SyncError(
      'CONFIGURATION',
      'The Exchange organization must be a domain such as contoso.onmicrosoft.com',
    );
  }
  return psLiteral(organization.toLowerCase());
}

function exchangeScript(tenant: TenantConfig, organization: string | undefined, body: string[]): string {
  const exchange = tenant['Microsoft Exchange'];
  const m365 = tenant['Microsoft 365'];
  if (!exchange?.enable_exchange) {
    throw new SyncError(
      'CONFIGURATION',
      'Exchange is not enabled for this tenant (Microsoft Exchange.enable_exchange)',
    );
  }
  const thumbprint = psThumbprint(
    exchange.exchange_certificate_thumbprint,
    'Microsoft Exchange.exchange_certificate_thumbprint',
  );
  const appId = psGuid(m365?.client_id, 'Microsoft 365.client_id');
  const environment = EXCHANGE_ENVIRONMENT[m365?.cloud ?? 'global'];
  const envArg = environment ? ` -ExchangeEnvironmentName ${psLiteral(environment)}` : '';
  return [
    '# m365sync: Exchange Online (generated; every tenant value is a single-quoted literal)',
    SCRIPT_PRELUDE,
    'Import-Module ExchangeOnlineManagement',
    `$null = Connect-ExchangeOnline -CertificateThumbprint ${thumbprint} -AppId ${appId} -Organization ${organizationLiteral(organization)}${envArg} -ShowBanner:$false -SkipLoadingFormatData -CommandName @('Get-EXOMailbox','Get-DistributionGroup','Disconnect-ExchangeOnline')`,
    '',
    ...body,
    'Disconnect-ExchangeOnline -Confirm:$false',
    SCRIPT_DONE,
    '',
  ].join('\n');
}

/** The Exchange full pull. */
export function buildExchangePullScript(tenant: TenantConfig, options: ExchangeScriptOptions): string {
  const kinds = options.kinds ?? (EXCHANGE_KINDS as ExchangeKind[]);
  for (const kind of kinds) {
    if (!(kind in READS)) {
      throw new SyncError(
        'CONFIGURATION',
        `"${kind}" is not an Exchange entity kind (${EXCHANGE_KINDS.join(', ')})`,
      );
    }
  }
  return exchangeScript(
    tenant,
    options.organization,
    kinds.map((kind) => kindBlock(kind as EntityKindName, readFor(kind, tenant))),
  );
}

/** "Test connection": sign in and read one mailbox. */
export function buildExchangeTestScript(tenant: TenantConfig, options: { organization: string }): string {
  return exchangeScript(tenant, options.organization, [
    kindBlock('mailboxes', 'Get-EXOMailbox -ResultSize 1'),
  ]);
}
