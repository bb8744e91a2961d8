import { ValidationError, type FieldProblem } from './errors.js';
import { validateGraphUsersFilter } from './odata-filter.js';
import { validateExchangeMailboxFilter, validateTeamsUsersFilter } from './powershell-filter.js';
import {
  TENANT_FIELDS,
  TENANT_GROUPS,
  PASSWORD_FIELDS,
  fieldPath,
  type Cloud,
  type TenantField,
  type TenantGroup,
} from './tenant-fields.js';

/** A tenant connection as stored and used: the model's groups plus its place in the customer hierarchy. */
export interface TenantConfig {
  /** Place in the customer hierarchy, e.g. `provider.reseller.customer`. */
  hierarchy: string;
  Tenant: { name: string; description?: string };
  'Microsoft Teams Powershell': { hostName: string; proxyUsername: string; proxyPassword: string };
  'Microsoft Teams HTTP Proxy': {
    use_proxy: boolean;
    use_http_proxy_auth: boolean;
    http_proxy_username?: string;
    http_proxy_password?: string;
  };
  'Microsoft Teams': {
    authentication: 'service_account' | 'certificate';
    tenantUsername?: string;
    tenantPassword?: string;
    certificate_thumbprint?: string;
  };
  'Microsoft 365': {
    client_id: string;
    tenant_id: string;
    client_secret?: string;
    graph_api_certificate_thumbprint?: string;
    certificate_bkey?: string;
    http_proxy?: string;
    https_proxy?: string;
    proxy_username?: string;
    proxy_password?: string;
    msol_user_api_page_size?: number;
    groups_api_page_size?: number;
    cloud: Cloud;
    graph_base_url?: string;
    authority_host?: string;
  };
  'Microsoft Exchange': { enable_exchange: boolean; exchange_certificate_thumbprint?: string };
  /** Optional: tenants stored before filters existed have no such group (read it with `?.`). */
  'Sync Filters'?: {
    graph_users_filter?: string;
    teams_users_filter?: string;
    exchange_mailbox_filter?: string;
    unmatched_teams_users?: 'flag' | 'skip';
  };
}

/** A stored tenant. */
export interface Tenant extends TenantConfig {
  id: string;
  createdAt: Date;
  updatedAt: Date;
}

/** What an operator hands in: groups of fields, any of them possibly strings from a flag or a file. */
export type TenantInput = { hierarchy?: unknown } & Partial<Record<TenantGroup, Record<string, unknown>>>;

export const HIERARCHY = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
export const DEFAULT_HIERARCHY = 'sys';
/** What the API and CLI show instead of a password that is set. */
export const MASK = '********';

function isBlank(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
}

function coerce(field: TenantField, raw: unknown, problems: FieldProblem[]): unknown {
  const name = fieldPath(field);
  // Say what is wrong without echoing a password back.
  const shown = field.password ? 'the value' : JSON.stringify(raw);
  switch (field.type) {
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === 'false') return raw === 'true';
      problems.push({ field: name, message: `must be true or false, not ${shown}` });
      return undefined;
    case 'integer': {
      const n =
        typeof raw === 'number'
          ? raw
          : typeof raw === 'string' && /^\s*-?\d+\s*$/.test(raw)
            ? Number(raw)
            : NaN;
      if (!Number.isInteger(n)) {
        problems.push({ field: name, message: `must be a whole number, not ${shown}` });
        return undefined;
      }
      if ((field.min !== undefined && n < field.min) || (field.max !== undefined && n > field.max)) {
        problems.push({
          field: name,
          message: `must be from ${field.min} to ${field.max} (blank means 999), not ${n}`,
        });
        return undefined;
      }
      return n;
    }
    case 'enum':
      if (typeof raw === 'string' && field.values?.includes(raw)) return raw;
      problems.push({ field: name, message: `must be one of ${field.values?.join(', ')}, not ${shown}` });
      return undefined;
    case 'string': {
      if (typeof raw !== 'string' && typeof raw !== 'number') {
        problems.push({ field: name, message: `must be text, not ${typeof raw}` });
        return undefined;
      }
      const s = String(raw).trim();
      if (field.maxLength !== undefined && s.length > field.maxLength) {
        problems.push({
          field: name,
          message: `must be at most ${field.maxLength} characters (it has ${s.length})`,
        });
        return undefined;
      }
      if (field.pattern && !field.pattern.test(s)) {
        problems.push({
          field: name,
          message: `must be ${field.patternHint ?? `like ${field.pattern}`}, not ${shown}`,
        });
        return undefined;
      }
      const problem = field.check?.(s);
      if (problem) {
        problems.push({ field: name, message: problem });
        return undefined;
      }
      return s;
    }
  }
}

/**
 * Checks a whole tenant and returns it normalised (defaults applied, strings trimmed, numbers and
 * booleans parsed). Every problem is listed, each with its field name; nothing is half-accepted.
 */
export function validateTenant(input: TenantInput): TenantConfig {
  // From an API body or a YAML file anything may come: say so rather than fail on `null` or `[…]`.
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ValidationError('Tenant', [
      {
        field: 'tenant',
        message: `must be an object of groups (${TENANT_GROUPS.join(', ')}), not ${
          input === null ? 'null' : Array.isArray(input) ? 'a list' : typeof input
        }`,
      },
    ]);
  }
  const problems: FieldProblem[] = [];
  const out: Record<string, Record<string, unknown>> = {};

  for (const key of Object.keys(input)) {
    if (key !== 'hierarchy' && !(TENANT_GROUPS as readonly string[]).includes(key)) {
      problems.push({
        // A blank key would name no field at all: show it quoted.
        field: key.trim() === '' ? JSON.stringify(key) : key,
        message: `is not a group of the tenant model (groups: ${TENANT_GROUPS.join(', ')})`,
      });
    }
  }
  for (const group of TENANT_GROUPS) {
    const given = input[group];
    out[group] = {};
    if (given !== undefined && (typeof given !== 'object' || given === null || Array.isArray(given))) {
      problems.push({ field: group, message: 'must be an object of fields' });
      continue;
    }
    for (const key of Object.keys(given ?? {})) {
      if (!TENANT_FIELDS.some((f) => f.group === group && f.name === key)) {
        problems.push({ field: `${group}.${key}`, message: 'is not a field of the tenant model' });
      }
    }
  }
  for (const field of TENANT_FIELDS) {
    const raw = input[field.group]?.[field.name];
    if (isBlank(raw)) {
      if (field.required) problems.push({ field: fieldPath(field), message: 'is required' });
      else if (field.default !== undefined) out[field.group]![field.name] = field.default;
      continue;
    }
    const value = coerce(field, raw, problems);
    if (value !== undefined) out[field.group]![field.name] = value;
  }

  const hierarchy = isBlank(input.hierarchy) ? DEFAULT_HIERARCHY : String(input.hierarchy).trim();
  if (!HIERARCHY.test(hierarchy)) {
    problems.push({
      field: 'hierarchy',
      message:
        'must be dot-separated places of letters, digits, "-" and "_" (e.g. provider.reseller.customer)',
    });
  }

  const config = { hierarchy, ...out } as unknown as TenantConfig;
  problems.push(...crossFieldProblems(config));
  problems.push(...normaliseFilters(config));
  if (problems.length > 0)
    throw new ValidationError(`Tenant ${JSON.stringify(config.Tenant?.name ?? '')}`, problems);
  return config;
}

/**
 * Checks the instance filters with their validators and stores each in its canonical form; an
 * invalid one is refused with the reason and the position.
 */
function normaliseFilters(c: TenantConfig): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const filters = c['Sync Filters'];
  if (!filters) return problems;
  const check = (
    name: 'graph_users_filter' | 'teams_users_filter' | 'exchange_mailbox_filter',
    label: string,
    validate: (f: string) => { ok: true; normalised: string } | { ok: false; reason: string },
  ) => {
    const value = filters[name];
    if (value === undefined) return;
    const result = validate(value);
    if (result.ok) filters[name] = result.normalised;
    else
      problems.push({ field: `Sync Filters.${name}`, message: `is not a valid ${label}: ${result.reason}` });
  };
  check('graph_users_filter', 'Graph users filter (OData)', validateGraphUsersFilter);
  check('teams_users_filter', 'Teams users filter', validateTeamsUsersFilter);
  check('exchange_mailbox_filter', 'Exchange mailbox filter', validateExchangeMailboxFilter);
  return problems;
}

/** The rules that tie fields together, as the model's documentation states them. */
export function crossFieldProblems(c: TenantConfig): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const need = (group: TenantGroup, name: string, why: string) => {
    const value = (c[group] as Record<string, unknown> | undefined)?.[name];
    if (isBlank(value)) problems.push({ field: `${group}.${name}`, message: `is required when ${why}` });
  };

  const httpProxy = c['Microsoft Teams HTTP Proxy'];
  if (httpProxy?.use_http_proxy_auth) {
    need('Microsoft Teams HTTP Proxy', 'http_proxy_username', 'use_http_proxy_auth is on');
    need('Microsoft Teams HTTP Proxy', 'http_proxy_password', 'use_http_proxy_auth is on');
    if (!httpProxy.use_proxy) {
      problems.push({
        field: 'Microsoft Teams HTTP Proxy.use_proxy',
        message: 'must be on when use_http_proxy_auth is on',
      });
    }
  }

  const teams = c['Microsoft Teams'];
  if (teams?.authentication === 'certificate') {
    need('Microsoft Teams', 'certificate_thumbprint', 'authentication is certificate');
  } else {
    need('Microsoft Teams', 'tenantUsername', 'authentication is service_account');
    need('Microsoft Teams', 'tenantPassword', 'authentication is service_account');
  }

  const m365 = c['Microsoft 365'];
  if (m365 && isBlank(m365.client_secret)) {
    if (isBlank(m365.graph_api_certificate_thumbprint) || isBlank(m365.certificate_bkey)) {
      problems.push({
        field: 'Microsoft 365.client_secret',
        message:
          'is required unless graph_api_certificate_thumbprint and certificate_bkey (a stored certificate) are both given',
      });
    }
  }

  if (m365 && !m365.https_proxy && !m365.http_proxy) {
    for (const name of ['proxy_username', 'proxy_password'] as const) {
      if (!isBlank(m365[name]))
        problems.push({
          field: `Microsoft 365.${name}`,
          message: 'needs an outbound proxy (Microsoft 365.https_proxy or http_proxy)',
        });
    }
  }
  if (m365 && !isBlank(m365.proxy_password) && isBlank(m365.proxy_username)) {
    need('Microsoft 365', 'proxy_username', 'proxy_password is given');
  }

  if (c['Microsoft Exchange']?.enable_exchange) {
    need('Microsoft Exchange', 'exchange_certificate_thumbprint', 'enable_exchange is on');
  }
  return problems;
}

/**
 * Merges a partial change into a stored tenant. A password field left out or given as
 * the mask keeps its stored value, so `show` → edit → `update` never wipes a secret. `null` clears a field.
 */
export function mergeTenantInput(current: TenantConfig, change: TenantInput): TenantInput {
  const merged: TenantInput = { hierarchy: change.hierarchy ?? current.hierarchy };
  for (const key of Object.keys(change)) {
    if (key !== 'hierarchy' && !(TENANT_GROUPS as readonly string[]).includes(key)) {
      (merged as Record<string, unknown>)[key] = (change as Record<string, unknown>)[key];
    }
  }
  for (const group of TENANT_GROUPS) {
    const next: Record<string, unknown> = { ...(current[group] as Record<string, unknown>) };
    const given = change[group];
    if (given && typeof given === 'object') {
      for (const [name, value] of Object.entries(given)) {
        const isPassword = PASSWORD_FIELDS.some((f) => f.group === group && f.name === name);
        if (isPassword && value === MASK) continue;
        if (value === null) delete next[name];
        else next[name] = value;
      }
    } else if (given !== undefined) {
      (merged as Record<string, unknown>)[group] = given;
      continue;
    }
    (merged as Record<string, unknown>)[group] = next;
  }
  return merged;
}

/**
 * Tenants stored before the proxy user and password had fields of their own carry them inside
 * `https_proxy` / `http_proxy` (`https://user:password@host:port/`). Moves them out, in memory (the
 * store does this on every read; `tenants reencrypt` and any update store the result). Returns
 * whether anything moved. Fields already set keep their values.
 */
export function migrateProxyCredentials(c: TenantConfig): boolean {
  const m365 = c['Microsoft 365'];
  if (!m365) return false;
  let moved = false;
  for (const name of ['https_proxy', 'http_proxy'] as const) {
    const value = m365[name];
    if (!value) continue;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      continue;
    }
    if (!url.username && !url.password) continue;
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    if (name === 'https_proxy' || !m365.https_proxy) {
      // The credentials of the proxy Graph uses (https_proxy before http_proxy).
      if (user && !m365.proxy_username) m365.proxy_username = user;
      if (password && !m365.proxy_password) m365.proxy_password = password;
    }
    url.username = '';
    url.password = '';
    m365[name] = `${url.origin}/`;
    moved = true;
  }
  return moved;
}

/** `https://user:secret@host:port/` → `https://user:********@host:port/`. */
export function maskProxyUrl(url: string): string {
  return url.replace(/^(https?:\/\/[^:@/]+):[^@/]*@/, `$1:${MASK}@`);
}

/** A copy fit to show or log: passwords masked, proxy credentials masked. */
export function maskTenant<T extends TenantConfig>(tenant: T): T {
  const copy = structuredClone(tenant);
  for (const field of PASSWORD_FIELDS) {
    const group = copy[field.group] as Record<string, unknown> | undefined;
    if (group && !isBlank(group[field.name])) group[field.name] = MASK;
  }
  const m365 = copy['Microsoft 365'];
  if (m365?.https_proxy) m365.https_proxy = maskProxyUrl(m365.https_proxy);
  if (m365?.http_proxy) m365.http_proxy = maskProxyUrl(m365.http_proxy);
  return copy;
}

/** Values a tenant holds that must never appear in a log, a job, a metric label or an error. */
export function tenantSecrets(c: TenantConfig): string[] {
  const secrets: string[] = [];
  for (const field of PASSWORD_FIELDS) {
    const value = (c[field.group] as Record<string, unknown> | undefined)?.[field.name];
    if (typeof value === 'string' && value !== '') secrets.push(value);
  }
  for (const url of [c['Microsoft 365']?.https_proxy, c['Microsoft 365']?.http_proxy]) {
    const password = url?.match(/^https?:\/\/[^:@/]+:([^@/]+)@/)?.[1];
    if (password) secrets.push(password, decodeURIComponent(password));
  }
  return secrets;
}

/** Blank page sizes mean 999, the largest `$top` Graph accepts for users and groups. */
export const DEFAULT_PAGE_SIZE = 999;

export function userPageSize(c: TenantConfig): number {
  return c['Microsoft 365'].msol_user_api_page_size ?? DEFAULT_PAGE_SIZE;
}

export function groupPageSize(c: TenantConfig): number {
  return c['Microsoft 365'].groups_api_page_size ?? DEFAULT_PAGE_SIZE;
}

/** A tenant's place and the places above it, most specific first: `a.b.c` → `a.b.c`, `a.b`, `a`. */
export function hierarchyPlaces(hierarchy: string): string[] {
  const parts = hierarchy.split('.');
  return parts.map((_, i) => parts.slice(0, parts.length - i).join('.'));
}
