/**
 * What the connector reads from Graph for each kind: path, query and the application permission it needs.
 * `$select` keeps payloads small and costs one resource unit less per request (Graph throttling docs).
 */
import { isAdvancedQuery } from '../../domain/odata-filter.js';
import { groupPageSize, userPageSize, type TenantConfig } from '../../domain/tenant.js';

export const GRAPH_KINDS = ['users', 'groups', 'teams', 'licences'] as const;
export type GraphKind = (typeof GRAPH_KINDS)[number];

/** User properties kept: identity, licences and what Teams voice and reporting need. */
export const USER_SELECT = [
  'id',
  'userPrincipalName',
  'displayName',
  'givenName',
  'surname',
  'mail',
  'accountEnabled',
  'assignedLicenses',
  'usageLocation',
  'jobTitle',
  'department',
  'userType',
  'createdDateTime',
  'onPremisesSyncEnabled',
];

export const GROUP_SELECT = [
  'id',
  'displayName',
  'description',
  'mail',
  'mailNickname',
  'mailEnabled',
  'securityEnabled',
  'groupTypes',
  'resourceProvisioningOptions',
  'visibility',
  'createdDateTime',
];

/** Teams are groups with a team; /teams returns only id, displayName and description, so list via /groups. */
export const TEAM_SELECT = [
  'id',
  'displayName',
  'description',
  'mail',
  'mailNickname',
  'visibility',
  'createdDateTime',
];

export const LICENCE_SELECT = [
  'id',
  'skuId',
  'skuPartNumber',
  'capabilityStatus',
  'consumedUnits',
  'prepaidUnits',
  'servicePlans',
  'appliesTo',
];

export const TEAM_FILTER = "resourceProvisioningOptions/Any(x:x eq 'Team')";

export interface CollectionRequest {
  kind: GraphKind;
  /** Normalised path for metrics and messages, e.g. /users (never a tenant, never a query). */
  endpoint: string;
  /** Path and query after the version, e.g. /users?$top=999&$select=id,... */
  pathAndQuery: string;
  /** The application permission an operator grants when Graph answers 403. */
  permission: string;
  /** `$top` sent, if the collection pages. */
  top?: number;
  /** Headers sent with every page (`ConsistencyLevel: eventual` for an advanced query). */
  headers?: Record<string, string>;
}

function query(params: [string, string][]): string {
  // Graph accepts `$` and `,` unencoded; the filter's quotes and spaces are encoded.
  return params.map(([k, v]) => `${k}=${encodeURIComponent(v).replace(/%2C/g, ',')}`).join('&');
}

export function collectionRequest(kind: GraphKind, tenant: TenantConfig): CollectionRequest {
  switch (kind) {
    case 'users': {
      const top = userPageSize(tenant);
      // The tenant's users filter (validated and stored canonical when saved). An advanced query
      // needs `ConsistencyLevel: eventual` and `$count=true`, on every page: Graph's nextLink keeps
      // the query, the header we send again each time.
      const filter = tenant['Sync Filters']?.graph_users_filter;
      const advanced = filter ? isAdvancedQuery(filter) : false;
      const params: [string, string][] = [];
      if (filter) params.push(['$filter', filter]);
      if (advanced) params.push(['$count', 'true']);
      params.push(['$top', String(top)], ['$select', USER_SELECT.join(',')]);
      return {
        kind,
        endpoint: '/users',
        pathAndQuery: `/users?${query(params)}`,
        permission: 'User.Read.All',
        top,
        ...(advanced ? { headers: { ConsistencyLevel: 'eventual' } } : {}),
      };
    }
    case 'groups': {
      const top = groupPageSize(tenant);
      return {
        kind,
        endpoint: '/groups',
        pathAndQuery: `/groups?${query([
          ['$top', String(top)],
          ['$select', GROUP_SELECT.join(',')],
        ])}`,
        permission: 'Group.Read.All',
        top,
      };
    }
    case 'teams': {
      const top = groupPageSize(tenant);
      return {
        kind,
        endpoint: '/groups',
        pathAndQuery: `/groups?${query([
          ['$filter', TEAM_FILTER],
          ['$top', String(top)],
          ['$select', TEAM_SELECT.join(',')],
        ])}`,
        permission: 'Group.Read.All',
        top,
      };
    }
    case 'licences':
      // subscribedSkus supports only $select: no $top, no paging documented.
      return {
        kind,
        endpoint: '/subscribedSkus',
        pathAndQuery: `/subscribedSkus?${query([['$select', LICENCE_SELECT.join(',')]])}`,
        permission: 'Organization.Read.All',
      };
  }
}

/** The permission to name when a path answers 403. */
export function permissionFor(endpoint: string): string {
  if (endpoint.startsWith('/users')) return 'User.Read.All';
  if (endpoint.startsWith('/groups') || endpoint.startsWith('/teams')) return 'Group.Read.All';
  return 'Organization.Read.All';
}
