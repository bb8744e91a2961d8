/**
 * The Graph collections the simulated tenant serves, shaped from the shared data set the way Graph
 * shapes them: users with Graph's default property set when no `$select` is given, groups, teams
 * (groups whose resourceProvisioningOptions include Team) and subscribed SKUs.
 */
import type { Dataset, SimGroup, SimSku, SimUser } from '../dataset.js';
import { compileUserFilter } from './user-filter.js';

export type GraphObject = Record<string, unknown>;

export interface Collection {
  /** Entity type named in errors and @odata.context, e.g. microsoft.graph.user. */
  type: string;
  /** The context fragment, e.g. `users`. */
  contextName: string;
  /** Permissions any one of which allows reading this collection. */
  permissions: string[];
  /** Properties returned when no $select is given. */
  defaultSelect?: string[];
  /** Whether the collection pages ($top, $skiptoken). subscribedSkus does not. */
  paged: boolean;
  size(ds: Dataset, filter: string | undefined): number;
  /** Objects `offset` to `offset + count`, shaped as Graph returns them. */
  slice(ds: Dataset, filter: string | undefined, offset: number, count: number): GraphObject[];
  /** Every property an object may have: `$select` of any other is a 400. */
  properties: ReadonlySet<string>;
}

export function graphUser(u: SimUser): GraphObject {
  return {
    id: u.id,
    businessPhones: [],
    displayName: u.displayName,
    givenName: u.givenName,
    jobTitle: u.jobTitle,
    mail: u.mail,
    mobilePhone: null,
    officeLocation: null,
    preferredLanguage: null,
    surname: u.surname,
    userPrincipalName: u.userPrincipalName,
    accountEnabled: u.accountEnabled,
    usageLocation: u.usageLocation,
    department: u.department,
    createdDateTime: u.createdDateTime,
    userType: 'Member',
    assignedLicenses: u.assignedLicenses,
    onPremisesSyncEnabled: null,
    onPremisesImmutableId: null,
  };
}

export function graphGroup(g: SimGroup): GraphObject {
  // Members are a relationship, not a property: /groups never lists them (delta shows members@delta).
  const { members: _members, ...group } = g;
  return group;
}

export function graphSku(ds: Dataset, s: SimSku): GraphObject {
  return { id: `${ds.tenantId}_${s.skuId}`, accountId: ds.tenantId, accountName: ds.domain, ...s };
}

/** The one `$filter` the simulator understands: Graph's usual way to list teams through /groups. */
export const TEAM_FILTER = /^resourceProvisioningOptions\/any\(x:\s*x eq 'Team'\)$/i;

const teamsCache = new WeakMap<Dataset, SimGroup[]>();
function groupsFor(ds: Dataset, filter: string | undefined): SimGroup[] {
  if (filter === undefined) return ds.groups;
  let teams = teamsCache.get(ds);
  if (!teams) {
    teams = ds.groups.filter((g) => g.resourceProvisioningOptions.includes('Team'));
    teamsCache.set(ds, teams);
  }
  return teams;
}

/** Users as Graph shapes them, narrowed by a `$filter` the server has already accepted. */
const usersCache = new WeakMap<Dataset, Map<string, GraphObject[]>>();
function usersFor(ds: Dataset, filter: string): GraphObject[] {
  let byFilter = usersCache.get(ds);
  if (!byFilter) usersCache.set(ds, (byFilter = new Map()));
  let users = byFilter.get(filter);
  if (!users) {
    const compiled = compileUserFilter(filter);
    users = ds.users.map(graphUser).filter((u) => compiled.ok && compiled.test(u));
    byFilter.set(filter, users);
  }
  return users;
}

export const SAMPLE_USER = graphUser({
  id: '',
  userPrincipalName: '',
  displayName: '',
  givenName: '',
  surname: '',
  mail: '',
  accountEnabled: true,
  usageLocation: '',
  jobTitle: '',
  department: '',
  createdDateTime: '',
  assignedLicenses: [],
});

export const GROUP_PROPERTIES = [
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

export const COLLECTIONS: Record<string, Collection> = {
  users: {
    type: 'microsoft.graph.user',
    contextName: 'users',
    permissions: ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All'],
    defaultSelect: [
      'businessPhones',
      'displayName',
      'givenName',
      'jobTitle',
      'mail',
      'mobilePhone',
      'officeLocation',
      'preferredLanguage',
      'surname',
      'userPrincipalName',
      'id',
    ],
    paged: true,
    size: (ds, f) => (f === undefined ? ds.users.length : usersFor(ds, f).length),
    slice: (ds, f, offset, count) =>
      f === undefined
        ? ds.users.slice(offset, offset + count).map(graphUser)
        : usersFor(ds, f).slice(offset, offset + count),
    properties: new Set(Object.keys(SAMPLE_USER)),
  },
  groups: {
    type: 'microsoft.graph.group',
    contextName: 'groups',
    permissions: ['Group.Read.All', 'Group.ReadWrite.All', 'Directory.Read.All'],
    paged: true,
    size: (ds, f) => groupsFor(ds, f).length,
    slice: (ds, f, offset, count) =>
      groupsFor(ds, f)
        .slice(offset, offset + count)
        .map(graphGroup),
    properties: new Set(GROUP_PROPERTIES),
  },
  subscribedSkus: {
    type: 'microsoft.graph.subscribedSku',
    contextName: 'subscribedSkus',
    permissions: ['Organization.Read.All', 'LicenseAssignment.Read.All', 'Directory.Read.All'],
    paged: false,
    size: (ds) => ds.skus.length,
    slice: (ds, _f, offset, count) => ds.skus.slice(offset, offset + count).map((s) => graphSku(ds, s)),
    properties: new Set([
      'id',
      'accountId',
      'accountName',
      'skuId',
      'skuPartNumber',
      'capabilityStatus',
      'consumedUnits',
      'prepaidUnits',
      'servicePlans',
      'appliesTo',
    ]),
  },
  organization: {
    type: 'microsoft.graph.organization',
    contextName: 'organization',
    permissions: ['Organization.Read.All', 'User.Read.All', 'Directory.Read.All'],
    paged: false,
    size: () => 1,
    slice: (ds, _f, offset) =>
      offset > 0
        ? []
        : [
            {
              id: ds.tenantId,
              displayName: `Simulated tenant ${ds.seed}`,
              // As Graph lists them: the initial *.onmicrosoft.com domain, and the default (vanity) one.
              verifiedDomains: [
                {
                  capabilities: 'Email, OfficeCommunicationsOnline',
                  isDefault: false,
                  isInitial: true,
                  name: ds.initialDomain,
                  type: 'Managed',
                },
                {
                  capabilities: 'Email, OfficeCommunicationsOnline',
                  isDefault: true,
                  isInitial: false,
                  name: ds.domain,
                  type: 'Managed',
                },
              ],
            },
          ],
    properties: new Set(['id', 'displayName', 'verifiedDomains']),
  },
};

export function project(obj: GraphObject, select: string[] | undefined): GraphObject {
  if (!select) return obj;
  const out: GraphObject = {};
  for (const p of select) if (p in obj) out[p] = obj[p];
  return out;
}
