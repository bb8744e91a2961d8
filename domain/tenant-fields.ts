import { originProblem } from './destinations.js';

/**
 * The fields of the `relation/MicrosoftTenant` model (VOSS Automate), with their groups and names
 * exactly as operators know them. This table is the one source for validation, masking, encryption
 * at rest and the CLI's `--set Group.field=value` flags.
 */

export const TENANT_GROUPS = [
  'Tenant',
  'Microsoft Teams Powershell',
  'Microsoft Teams HTTP Proxy',
  'Microsoft Teams',
  'Microsoft 365',
  'Microsoft Exchange',
  'Sync Filters',
] as const;
export type TenantGroup = (typeof TENANT_GROUPS)[number];

export type FieldType = 'string' | 'boolean' | 'integer' | 'enum';

export interface TenantField {
  group: TenantGroup;
  name: string;
  type: FieldType;
  description: string;
  required?: boolean;
  default?: string | boolean | number;
  maxLength?: number;
  pattern?: RegExp;
  /** What the pattern means, for the error message. */
  patternHint?: string;
  /** A check beyond the pattern (URLs are parsed with `URL`): the problem, or undefined. */
  check?: (value: string) => string | undefined;
  values?: readonly string[];
  min?: number;
  max?: number;
  /** "Is Password": never returned, logged, put in a job, a metric label or an error. */
  password?: boolean;
  /** "Store Encrypted": encrypted at rest. */
  encrypted?: boolean;
}

export const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
export const THUMBPRINT = /^[0-9a-fA-F]{40}$/;
const HOST = String.raw`(?:\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*)`;
const HOST_PORT = `${HOST}(?::[0-9]{1,5})?`;
/** One PowerShell proxy, or a comma-separated list of them, each with an optional port. */
export const HOST_LIST = new RegExp(`^\\s*${HOST_PORT}(?:\\s*,\\s*${HOST_PORT})*\\s*$`);
const PROXY_CREDENTIALS_HINT =
  'must not hold a user or password: give them in Microsoft 365.proxy_username and proxy_password';
const proxyUrl = (value: string) => originProblem(value, ['http:', 'https:'], PROXY_CREDENTIALS_HINT);
const endpointUrl = (value: string) => originProblem(value, ['https:']);

export const CLOUDS = ['global', 'usgov_high', 'usgov_dod', 'china'] as const;
export type Cloud = (typeof CLOUDS)[number];

export const TEAMS_AUTHENTICATION = ['service_account', 'certificate'] as const;

export const TENANT_FIELDS: readonly TenantField[] = [
  {
    group: 'Tenant',
    name: 'name',
    type: 'string',
    required: true,
    maxLength: 255,
    pattern: /^[a-zA-Z0-9-_. ]+$/,
    patternHint: 'letters, digits, space, "-", "_" and "." only',
    description: 'Name of the tenant, unique within its hierarchy place',
  },
  { group: 'Tenant', name: 'description', type: 'string', maxLength: 255, description: 'Free text' },

  {
    group: 'Microsoft Teams Powershell',
    name: 'hostName',
    type: 'string',
    required: true,
    maxLength: 255,
    pattern: HOST_LIST,
    patternHint: 'a host name or IP address, or a comma-separated list of them, each with an optional :port',
    description: 'PowerShell proxy host(s) reached over WinRM',
  },
  {
    group: 'Microsoft Teams Powershell',
    name: 'proxyUsername',
    type: 'string',
    required: true,
    maxLength: 255,
    description: 'Local account on the PowerShell proxy (WinRM Basic authentication)',
  },
  {
    group: 'Microsoft Teams Powershell',
    name: 'proxyPassword',
    type: 'string',
    required: true,
    maxLength: 255,
    password: true,
    encrypted: true,
    description: 'Password of the PowerShell proxy account',
  },

  {
    group: 'Microsoft Teams HTTP Proxy',
    name: 'use_proxy',
    type: 'boolean',
    default: false,
    description: 'Teams PowerShell uses the HTTP proxy configured on the PowerShell proxy server',
  },
  {
    group: 'Microsoft Teams HTTP Proxy',
    name: 'use_http_proxy_auth',
    type: 'boolean',
    default: false,
    description: 'The HTTP proxy requires authentication',
  },
  {
    group: 'Microsoft Teams HTTP Proxy',
    name: 'http_proxy_username',
    type: 'string',
    maxLength: 255,
    description: 'HTTP proxy user name',
  },
  {
    group: 'Microsoft Teams HTTP Proxy',
    name: 'http_proxy_password',
    type: 'string',
    maxLength: 255,
    password: true,
    encrypted: true,
    description: 'HTTP proxy password',
  },

  {
    group: 'Microsoft Teams',
    name: 'authentication',
    type: 'enum',
    values: TEAMS_AUTHENTICATION,
    default: 'service_account',
    description:
      'How Teams PowerShell signs in: the service account below, or app-only with a certificate (client_id, tenant_id, certificate_thumbprint)',
  },
  {
    group: 'Microsoft Teams',
    name: 'tenantUsername',
    type: 'string',
    maxLength: 255,
    description: 'Teams service account (required with service_account authentication)',
  },
  {
    group: 'Microsoft Teams',
    name: 'tenantPassword',
    type: 'string',
    maxLength: 255,
    password: true,
    encrypted: true,
    description: 'Teams service account password (required with service_account authentication)',
  },
  {
    group: 'Microsoft Teams',
    name: 'certificate_thumbprint',
    type: 'string',
    pattern: THUMBPRINT,
    patternHint: '40 hexadecimal digits',
    description:
      'Thumbprint of the certificate installed on the PowerShell proxy (required with certificate authentication)',
  },

  {
    group: 'Microsoft 365',
    name: 'client_id',
    type: 'string',
    required: true,
    pattern: GUID,
    patternHint: 'a GUID',
    description: 'Application (client) ID of the app registration',
  },
  {
    group: 'Microsoft 365',
    name: 'tenant_id',
    type: 'string',
    required: true,
    pattern: GUID,
    patternHint: 'a GUID',
    description: 'Directory (tenant) ID',
  },
  {
    group: 'Microsoft 365',
    name: 'client_secret',
    type: 'string',
    maxLength: 255,
    password: true,
    encrypted: true,
    description: 'Client secret of the app registration',
  },
  {
    group: 'Microsoft 365',
    name: 'graph_api_certificate_thumbprint',
    type: 'string',
    pattern: THUMBPRINT,
    patternHint: '40 hexadecimal digits',
    description: 'Thumbprint of the certificate Graph authenticates with when there is no client secret',
  },
  {
    group: 'Microsoft 365',
    name: 'certificate_bkey',
    type: 'string',
    maxLength: 255,
    description: 'Name of the stored certificate (data/Certificate) holding the private key',
  },
  {
    group: 'Microsoft 365',
    name: 'http_proxy',
    type: 'string',
    maxLength: 255,
    check: proxyUrl,
    encrypted: true,
    description: 'Outbound proxy for Graph, a URL like http://host:port/ (used when https_proxy is blank)',
  },
  {
    group: 'Microsoft 365',
    name: 'https_proxy',
    type: 'string',
    maxLength: 255,
    check: proxyUrl,
    encrypted: true,
    description: 'Outbound proxy for Graph, a URL like https://host:port/ (its user and password go below)',
  },
  {
    group: 'Microsoft 365',
    name: 'proxy_username',
    type: 'string',
    maxLength: 255,
    description: 'User name for the outbound proxy (https_proxy, else http_proxy)',
  },
  {
    group: 'Microsoft 365',
    name: 'proxy_password',
    type: 'string',
    maxLength: 255,
    password: true,
    encrypted: true,
    description: 'Password for the outbound proxy; sent only to that proxy',
  },
  {
    group: 'Microsoft 365',
    name: 'msol_user_api_page_size',
    type: 'integer',
    min: 1,
    max: 999,
    description: 'Max page size for MsolUser ($top of /users; blank means 999)',
  },
  {
    group: 'Microsoft 365',
    name: 'groups_api_page_size',
    type: 'integer',
    min: 1,
    max: 999,
    description: 'Max page size for Groups ($top of /groups; blank means 999)',
  },
  {
    group: 'Microsoft 365',
    name: 'cloud',
    type: 'enum',
    values: CLOUDS,
    default: 'global',
    description: 'National cloud: global (worldwide), usgov_high (GCC High), usgov_dod (DoD) or china',
  },
  {
    group: 'Microsoft 365',
    name: 'graph_base_url',
    type: 'string',
    maxLength: 255,
    check: endpointUrl,
    description: 'Overrides the Graph base URL of the cloud',
  },
  {
    group: 'Microsoft 365',
    name: 'authority_host',
    type: 'string',
    maxLength: 255,
    check: endpointUrl,
    description: 'Overrides the login authority host of the cloud',
  },

  {
    group: 'Microsoft Exchange',
    name: 'enable_exchange',
    type: 'boolean',
    default: false,
    description: 'Also pull mailboxes and distribution groups from Exchange Online',
  },
  {
    group: 'Microsoft Exchange',
    name: 'exchange_certificate_thumbprint',
    type: 'string',
    pattern: THUMBPRINT,
    patternHint: '40 hexadecimal digits',
    password: true,
    encrypted: true,
    description: 'Thumbprint of the certificate Exchange Online app-only authentication uses',
  },

  // Which objects a sync brings in (docs/controls.md). Checked when saved (domain/tenant.ts) and
  // stored in canonical form; objects that fall out of a filter leave through the normal sweep.
  {
    group: 'Sync Filters',
    name: 'graph_users_filter',
    type: 'string',
    maxLength: 2048,
    description: "OData $filter for Graph /users, e.g. startswith(department,'Sales')",
  },
  {
    group: 'Sync Filters',
    name: 'teams_users_filter',
    type: 'string',
    maxLength: 2048,
    description: "Get-CsOnlineUser -Filter, e.g. Department -eq 'Sales' (passed as a literal)",
  },
  {
    group: 'Sync Filters',
    name: 'exchange_mailbox_filter',
    type: 'string',
    maxLength: 2048,
    description: "Get-EXOMailbox -Filter, e.g. RecipientTypeDetails -eq 'UserMailbox' (passed as a literal)",
  },
  {
    group: 'Sync Filters',
    name: 'unmatched_teams_users',
    type: 'enum',
    values: ['flag', 'skip'],
    default: 'flag',
    description: 'Teams users with no Entra user: flag (keep, noEntraMatch: true) or skip (leave out)',
  },
];

export function fieldPath(field: TenantField): string {
  return `${field.group}.${field.name}`;
}

export const PASSWORD_FIELDS = TENANT_FIELDS.filter((f) => f.password);
export const ENCRYPTED_FIELDS = TENANT_FIELDS.filter((f) => f.encrypted);
