/**
 * A simulated Microsoft 365 tenant, generated from a seed and sizes. The Graph simulator and the
 * PowerShell proxy simulator serve the same data set, so Teams users and mailboxes join Graph users
 * by object id, as they do in a real tenant. Same seed and sizes, same data set, byte for byte.
 */
import { TEAMS_POLICY_TYPES, type TeamsPolicyType } from '../domain/entity-kinds.js';

export interface DatasetSizes {
  users: number;
  groups: number;
  /** Groups that have a team (counted within `groups`). */
  teams: number;
  dialPlans: number;
  /** Custom policies per policy type (each type also has its `Global` policy). */
  policiesPerType: number;
  callQueues: number;
  autoAttendants: number;
  distributionGroups: number;
  sharedMailboxes: number;
  roomMailboxes: number;
}

export interface DatasetOptions extends Partial<DatasetSizes> {
  seed?: number;
  /** The directory (tenant) id; also the Teams/Exchange organisation. */
  tenantId?: string;
  /** Verified domain, e.g. contoso.example (the default domain: users' addresses) */
  domain?: string;
  /** The initial domain Microsoft gave the tenant, e.g. contoso.onmicrosoft.com */
  initialDomain?: string;
}

export const DEFAULT_SIZES: DatasetSizes = {
  users: 250,
  groups: 40,
  teams: 12,
  dialPlans: 5,
  policiesPerType: 2,
  callQueues: 130,
  autoAttendants: 105,
  distributionGroups: 15,
  sharedMailboxes: 6,
  roomMailboxes: 4,
};

export interface SimUser {
  id: string;
  userPrincipalName: string;
  displayName: string;
  givenName: string;
  surname: string;
  mail: string;
  accountEnabled: boolean;
  usageLocation: string;
  jobTitle: string;
  department: string;
  createdDateTime: string;
  assignedLicenses: { skuId: string; disabledPlans: string[] }[];
  /** Teams voice: the phone number assigned, if any (E.164). */
  phoneNumber?: string;
}

export interface SimGroup {
  id: string;
  displayName: string;
  description: string;
  mail: string;
  mailNickname: string;
  mailEnabled: boolean;
  securityEnabled: boolean;
  groupTypes: string[];
  resourceProvisioningOptions: string[];
  visibility: string;
  createdDateTime: string;
  /**
   * Member user ids. Not a property Graph lists with /groups: only delta (`members@delta`) shows
   * them. A member that is not an active user (deleted, in the recycle bin) is not a member Graph
   * shows, so the simulated Graph shows only active ones.
   */
  members?: string[];
}

export interface SimSku {
  skuId: string;
  skuPartNumber: string;
  capabilityStatus: string;
  consumedUnits: number;
  prepaidUnits: { enabled: number; suspended: number; warning: number; lockedOut: number };
  servicePlans: {
    servicePlanId: string;
    servicePlanName: string;
    provisioningStatus: string;
    appliesTo: string;
  }[];
  appliesTo: string;
}

/** A PowerShell object as the Teams or Exchange module returns it: PascalCase properties. */
export type PsObject = Record<string, unknown>;

export interface Dataset {
  seed: number;
  tenantId: string;
  domain: string;
  /**
   * The tenant's initial `*.onmicrosoft.com` domain: Graph lists it in /organization verifiedDomains
   * (isInitial), and Connect-ExchangeOnline -Organization expects it for app-only sign-in.
   */
  initialDomain: string;
  users: SimUser[];
  groups: SimGroup[];
  skus: SimSku[];
  teams: {
    dialPlans: PsObject[];
    policies: PsObject[];
    pstnUsages: PsObject[];
    voiceRoutes: PsObject[];
    pstnGateways: PsObject[];
    callQueues: PsObject[];
    autoAttendants: PsObject[];
    resourceAccounts: PsObject[];
  };
  exchange: { distributionGroups: PsObject[]; sharedMailboxes: PsObject[]; roomMailboxes: PsObject[] };
  /**
   * The recycle bin (Entra's deleted items): users and groups deleted softly, restorable for 30 days.
   * Not listed by /users or /groups; delta reports them removed with reason `changed`. An object in
   * neither this nor the live lists is gone for good (reason `deleted`).
   */
  deletedItems?: { users: SimUser[]; groups: SimGroup[] };
}

/** mulberry32: small, fast, and the same on every machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function guidFrom(random: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
}

const GIVEN = [
  'Ada',
  'Björn',
  'Chloé',
  'Dmitri',
  'Eva',
  'François',
  'Grace',
  'Hiro',
  'Inès',
  'José',
  'Kai',
  'Lena',
  'Małgorzata',
  'Noah',
  'Olivia',
  'Priya',
  'Quentin',
  'Rosa',
  'Søren',
  'Tomás',
  'Uma',
  'Viktor',
  'Wen',
  'Xavier',
  'Yusuf',
  'Zoë',
];
const SURNAMES = [
  'Andersson',
  'Brown',
  'Čapek',
  'Dubois',
  'Evans',
  'Fischer',
  'García',
  'Hansen',
  'Ivanova',
  'Jensen',
  'Kowalski',
  'López',
  'Müller',
  'Nakamura',
  "O'Brien",
  'Petrov',
  'Quinn',
  'Rossi',
  'Schmidt',
  'Tanaka',
  'Ünal',
  'Virtanen',
  'Wang',
  'Yılmaz',
  'Zhang',
];
const DEPARTMENTS = ['Sales', 'Support', 'Finance', 'Engineering', 'Operations', 'Marketing', 'Legal'];
const LOCATIONS = ['GB', 'US', 'DE', 'FR', 'NL', 'SE', 'JP'];

/** Licences a UC service provider typically sees; MCOEV is Teams Phone. */
const SKU_CATALOGUE: { part: string; plans: string[]; share: number }[] = [
  { part: 'SPE_E5', plans: ['MCOEV', 'TEAMS1', 'EXCHANGE_S_ENTERPRISE', 'MCOMEETADV'], share: 0.3 },
  { part: 'SPE_E3', plans: ['TEAMS1', 'EXCHANGE_S_ENTERPRISE', 'MCOSTANDARD'], share: 0.5 },
  { part: 'MCOEV', plans: ['MCOEV'], share: 0.25 },
  { part: 'MCOPSTN1', plans: ['MCOPSTN1'], share: 0.1 },
  { part: 'PHONESYSTEM_VIRTUALUSER', plans: ['MCOEV_VIRTUALUSER'], share: 0 },
  { part: 'Microsoft_Teams_Rooms_Pro', plans: ['MCOEV', 'TEAMS1'], share: 0 },
];

function isoDate(random: () => number): string {
  const ms = Date.UTC(2019, 0, 1) + Math.floor(random() * 6 * 365 * 86_400_000);
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export function generateDataset(options: DatasetOptions = {}): Dataset {
  const seed = options.seed ?? 1;
  const sizes: DatasetSizes = { ...DEFAULT_SIZES, ...stripUndefined(options) };
  const random = prng(seed);
  const tenantId = options.tenantId ?? guidFrom(prng(seed ^ 0x5eed));
  const domain = options.domain ?? `tenant${seed}.example`;
  const initialDomain = options.initialDomain ?? `tenant${seed}.onmicrosoft.com`;

  const skus: SimSku[] = SKU_CATALOGUE.map((s) => ({
    skuId: guidFrom(random),
    skuPartNumber: s.part,
    capabilityStatus: 'Enabled',
    consumedUnits: 0,
    prepaidUnits: { enabled: 0, suspended: 0, warning: 0, lockedOut: 0 },
    servicePlans: s.plans.map((p) => ({
      servicePlanId: guidFrom(random),
      servicePlanName: p,
      provisioningStatus: 'Success',
      appliesTo: 'User',
    })),
    appliesTo: 'User',
  }));

  const users: SimUser[] = [];
  for (let i = 0; i < sizes.users; i++) users.push(makeUser(random, domain, i, skus));
  for (const sku of skus) {
    sku.consumedUnits = users.filter((u) => u.assignedLicenses.some((l) => l.skuId === sku.skuId)).length;
    sku.prepaidUnits.enabled = sku.consumedUnits + 10;
  }

  const groups: SimGroup[] = [];
  for (let i = 0; i < sizes.groups; i++) {
    const isTeam = i < sizes.teams;
    const name = `${DEPARTMENTS[i % DEPARTMENTS.length]} ${isTeam ? 'Team' : 'Group'} ${i + 1}`;
    const nick = name.toLowerCase().replace(/[^a-z0-9]/g, '');
    groups.push({
      id: guidFrom(random),
      displayName: name,
      description: `${name} (simulated)`,
      mail: `${nick}@${domain}`,
      mailNickname: nick,
      mailEnabled: isTeam || i % 3 === 0,
      securityEnabled: !isTeam,
      groupTypes: isTeam || i % 3 === 0 ? ['Unified'] : [],
      resourceProvisioningOptions: isTeam ? ['Team'] : [],
      members: [],
      visibility: isTeam ? 'Private' : 'Public',
      createdDateTime: isoDate(random),
    });
  }
  // Each user is a member of one group, by position: no draw from `random`, so the rest of the data
  // set is the same as before groups had members.
  if (groups.length > 0) users.forEach((u, k) => groups[k % groups.length]!.members!.push(u.id));

  return {
    seed,
    tenantId,
    domain,
    initialDomain,
    users,
    groups,
    skus,
    teams: makeTeamsObjects(random, domain, sizes),
    exchange: makeExchangeObjects(random, domain, sizes),
  };
}

function makeUser(random: () => number, domain: string, i: number, skus: SimSku[]): SimUser {
  const given = GIVEN[Math.floor(random() * GIVEN.length)]!;
  const surname = SURNAMES[Math.floor(random() * SURNAMES.length)]!;
  const alias = `${asciiAlias(given)}.${asciiAlias(surname)}${i + 1}`;
  const assignedLicenses: SimUser['assignedLicenses'] = [];
  SKU_CATALOGUE.forEach((s, k) => {
    if (random() < s.share) assignedLicenses.push({ skuId: skus[k]!.skuId, disabledPlans: [] });
  });
  const voice = assignedLicenses.some((l) => {
    const part = skus.find((s) => s.skuId === l.skuId)?.skuPartNumber;
    return part === 'SPE_E5' || part === 'MCOEV';
  });
  return {
    id: guidFrom(random),
    userPrincipalName: `${alias}@${domain}`,
    displayName: `${given} ${surname}`,
    givenName: given,
    surname,
    mail: `${alias}@${domain}`,
    accountEnabled: random() > 0.05,
    usageLocation: LOCATIONS[Math.floor(random() * LOCATIONS.length)]!,
    jobTitle: random() > 0.5 ? 'Agent' : 'Manager',
    department: DEPARTMENTS[Math.floor(random() * DEPARTMENTS.length)]!,
    createdDateTime: isoDate(random),
    assignedLicenses,
    ...(voice ? { phoneNumber: `+4420${String(7946_0000 + i).padStart(8, '0')}` } : {}),
  };
}

function asciiAlias(name: string): string {
  return name
    .normalize('NFD')
    .replace(/[^A-Za-z]/g, '')
    .toLowerCase();
}

function makeTeamsObjects(random: () => number, domain: string, sizes: DatasetSizes): Dataset['teams'] {
  const dialPlans: PsObject[] = [];
  for (let i = 0; i < sizes.dialPlans; i++) {
    const name = `DP-${['London', 'Berlin', 'Paris', 'Stockholm', 'Tokyo'][i % 5]}-${i + 1}`;
    dialPlans.push({
      Identity: `Tag:${name}`,
      SimpleName: name,
      Description: `Dial plan ${name}`,
      ExternalAccessPrefix: null,
      OptimizeDeviceDialing: false,
      NormalizationRules: [
        { Name: `${name}-Intl`, Pattern: '^00(\\d+)$', Translation: '+$1', IsInternalExtension: false },
        { Name: `${name}-Ext`, Pattern: '^(\\d{4})$', Translation: '+44207946$1', IsInternalExtension: true },
      ],
    });
  }

  const policies: PsObject[] = [];
  for (const type of TEAMS_POLICY_TYPES) {
    policies.push(policy(type, 'Global'));
    for (let i = 0; i < sizes.policiesPerType; i++)
      policies.push(policy(type, `Tag:${type}-Custom-${i + 1}`));
  }

  const pstnUsages: PsObject[] = ['Local', 'National', 'International', 'Emergency'].map((u) => ({
    Usage: u,
  }));
  const pstnGateways: PsObject[] = [1, 2].map((n) => ({
    Identity: `sbc${n}.${domain}`,
    Fqdn: `sbc${n}.${domain}`,
    SipSignalingPort: 5061,
    Enabled: true,
    MaxConcurrentSessions: 100 * n,
    MediaBypass: n === 1,
  }));
  const voiceRoutes: PsObject[] = ['Local', 'National', 'International'].map((u, i) => ({
    Identity: `Route-${u}`,
    Name: `Route-${u}`,
    NumberPattern: ['^\\+44(20\\d{8})$', '^\\+44(\\d{10})$', '^\\+(\\d+)$'][i],
    OnlinePstnUsages: [u],
    OnlinePstnGatewayList: pstnGateways.map((g) => g.Identity),
    Priority: i,
  }));

  const resourceAccounts: PsObject[] = [];
  const callQueues: PsObject[] = [];
  for (let i = 0; i < sizes.callQueues; i++) {
    const ra = resourceAccount(random, domain, `cq${i + 1}`, '11cd3e2e-fccb-42ad-ad00-878b93575e07');
    resourceAccounts.push(ra);
    callQueues.push({
      Identity: guidFrom(random),
      Name: `Queue ${i + 1}`,
      RoutingMethod: ['Attendant', 'Serial', 'RoundRobin', 'LongestIdle'][i % 4],
      AgentAlertTime: 30,
      AllowOptOut: true,
      ConferenceMode: true,
      ApplicationInstances: [ra.ObjectId],
      LanguageId: 'en-GB',
    });
  }
  const autoAttendants: PsObject[] = [];
  for (let i = 0; i < sizes.autoAttendants; i++) {
    const ra = resourceAccount(random, domain, `aa${i + 1}`, 'ce933385-9390-45d1-9512-c8d228074e07');
    resourceAccounts.push(ra);
    autoAttendants.push({
      Identity: guidFrom(random),
      Name: `Attendant ${i + 1}`,
      LanguageId: 'en-GB',
      TimeZoneId: 'GMT Standard Time',
      ApplicationInstances: [ra.ObjectId],
      VoiceResponseEnabled: i % 2 === 0,
    });
  }
  return {
    dialPlans,
    policies,
    pstnUsages,
    voiceRoutes,
    pstnGateways,
    callQueues,
    autoAttendants,
    resourceAccounts,
  };
}

function policy(type: TeamsPolicyType, identity: string): PsObject {
  return {
    PolicyType: type,
    Identity: identity,
    PolicyKey: `${type}:${identity}`,
    Description: identity === 'Global' ? `Default ${type}` : `Custom ${type}`,
    ...(type === 'OnlineVoiceRoutingPolicy' ? { OnlinePstnUsages: ['Local', 'National'] } : {}),
    ...(type === 'TeamsCallingPolicy' ? { AllowPrivateCalling: true, AllowVoicemail: 'UserOverride' } : {}),
  };
}

function resourceAccount(
  random: () => number,
  domain: string,
  alias: string,
  applicationId: string,
): PsObject {
  return {
    ObjectId: guidFrom(random),
    UserPrincipalName: `ra_${alias}@${domain}`,
    DisplayName: `Resource ${alias}`,
    ApplicationId: applicationId,
    PhoneNumber: null,
  };
}

function makeExchangeObjects(random: () => number, domain: string, sizes: DatasetSizes): Dataset['exchange'] {
  const mailbox = (kind: 'SharedMailbox' | 'RoomMailbox', i: number): PsObject => {
    const alias = `${kind === 'SharedMailbox' ? 'shared' : 'room'}${i + 1}`;
    return {
      ExternalDirectoryObjectId: guidFrom(random),
      Guid: guidFrom(random),
      Alias: alias,
      DisplayName: `${kind === 'SharedMailbox' ? 'Shared' : 'Room'} ${i + 1}`,
      PrimarySmtpAddress: `${alias}@${domain}`,
      UserPrincipalName: `${alias}@${domain}`,
      RecipientTypeDetails: kind,
    };
  };
  return {
    sharedMailboxes: Array.from({ length: sizes.sharedMailboxes }, (_, i) => mailbox('SharedMailbox', i)),
    roomMailboxes: Array.from({ length: sizes.roomMailboxes }, (_, i) => mailbox('RoomMailbox', i)),
    distributionGroups: Array.from({ length: sizes.distributionGroups }, (_, i) => ({
      ExternalDirectoryObjectId: guidFrom(random),
      Guid: guidFrom(random),
      Name: `DL-${i + 1}`,
      DisplayName: `Distribution list ${i + 1}`,
      PrimarySmtpAddress: `dl${i + 1}@${domain}`,
      GroupType: 'Universal',
      RecipientTypeDetails: 'MailUniversalDistributionGroup',
    })),
  };
}

/** Teams users: the Graph users licensed for Teams, joined by object id (CsOnlineUser.Identity). */
export function teamsUsers(ds: Dataset): PsObject[] {
  const teamsSkus = new Set(
    ds.skus
      .filter((s) =>
        s.servicePlans.some((p) => p.servicePlanName === 'TEAMS1' || p.servicePlanName === 'MCOEV'),
      )
      .map((s) => s.skuId),
  );
  return ds.users
    .filter((u) => u.assignedLicenses.some((l) => teamsSkus.has(l.skuId)))
    .map((u) => ({
      Identity: u.id,
      UserPrincipalName: u.userPrincipalName,
      DisplayName: u.displayName,
      SipAddress: `sip:${u.userPrincipalName}`,
      LineUri: u.phoneNumber ? `tel:${u.phoneNumber}` : null,
      EnterpriseVoiceEnabled: u.phoneNumber !== undefined,
      UsageLocation: u.usageLocation,
      AccountEnabled: u.accountEnabled,
      TenantDialPlan: null,
      OnlineVoiceRoutingPolicy: u.phoneNumber ? 'OnlineVoiceRoutingPolicy-Custom-1' : null,
      TeamsCallingPolicy: null,
      WhenCreated: u.createdDateTime,
    }));
}

/** Phone number assignments: users' numbers plus resource accounts' (none in the default set). */
export function phoneNumberAssignments(ds: Dataset): PsObject[] {
  return ds.users
    .filter((u) => u.phoneNumber)
    .map((u) => ({
      TelephoneNumber: u.phoneNumber,
      AssignedPstnTargetId: u.id,
      NumberType: 'DirectRouting',
      ActivationState: 'Activated',
      PstnAssignmentStatus: 'UserAssigned',
      Capability: ['UserAssignment'],
      City: 'London',
      IsoCountryCode: 'GB',
    }));
}

/** User mailboxes for licensed users with mail, then shared and room mailboxes. */
export function mailboxes(ds: Dataset): PsObject[] {
  const exchangeSkus = new Set(
    ds.skus
      .filter((s) => s.servicePlans.some((p) => p.servicePlanName === 'EXCHANGE_S_ENTERPRISE'))
      .map((s) => s.skuId),
  );
  const userMailboxes = ds.users
    .filter((u) => u.assignedLicenses.some((l) => exchangeSkus.has(l.skuId)))
    .map((u) => ({
      ExternalDirectoryObjectId: u.id,
      Guid: u.id,
      Alias: u.mail.split('@')[0],
      DisplayName: u.displayName,
      PrimarySmtpAddress: u.mail,
      UserPrincipalName: u.userPrincipalName,
      RecipientTypeDetails: 'UserMailbox',
    }));
  return [...userMailboxes, ...ds.exchange.sharedMailboxes, ...ds.exchange.roomMailboxes];
}

export interface DatasetChange {
  addUsers?: number;
  /** Users deleted for good (hard), from the end of the list. */
  removeUsers?: number;
  /** Display names changed, from the start of the list. */
  renameUsers?: number;
  /** Removes custom policies (never a Global one), by count. */
  removePolicies?: number;
  /** Users moved to the recycle bin (soft-deleted, restorable), from the end, after `removeUsers`. */
  softDeleteUsers?: number;
  /** Users taken back out of the recycle bin (restored), the longest deleted first. */
  restoreUsers?: number;
  /** Users removed from the recycle bin (deleted for good after a soft delete), the longest deleted first. */
  purgeDeletedUsers?: number;
  /** Users given Teams Phone (the MCOEV SKU), from the first user without it after the renamed ones. */
  licenseUsers?: number;
  /** Users that lose their first licence, from the first licensed user after the newly licensed ones. */
  unlicenseUsers?: number;
  /** New groups, each with a few existing users as members. */
  addGroups?: number;
  /** Groups deleted for good, from the end of the list. */
  removeGroups?: number;
  /** Groups moved to the recycle bin, from the end, after `removeGroups`. */
  softDeleteGroups?: number;
  /** Group display names changed, from the start of the list. */
  renameGroups?: number;
  /** Memberships added: a user joins a group it is not in. */
  addMembers?: number;
  /** Memberships removed. */
  removeMembers?: number;
}

/**
 * Changes a data set the way a tenant changes between two nights, deterministically: users added
 * (unlicensed for voice), removed (from the end), renamed (display name), policies removed; users and
 * groups soft-deleted, restored, purged, licensed and unlicensed; groups added, renamed, removed and
 * their memberships changed. Changes to distinct objects: no user is both renamed and licensed.
 */
export function changeDataset(ds: Dataset, change: DatasetChange, seed = ds.seed + 1): Dataset {
  const random = prng(seed * 7919);
  const next: Dataset = structuredClone(ds);
  if (change.removeUsers) next.users.splice(Math.max(0, next.users.length - change.removeUsers));
  for (let i = 0; i < (change.renameUsers ?? 0) && i < next.users.length; i++) {
    next.users[i]!.displayName = `${next.users[i]!.displayName} (renamed)`;
  }
  for (let i = 0; i < (change.addUsers ?? 0); i++) {
    next.users.push(makeUser(random, next.domain, 1_000_000 + seed * 1000 + i, next.skus));
  }
  if (change.removePolicies) {
    let left = change.removePolicies;
    next.teams.policies = next.teams.policies.filter((p) => !(p.Identity !== 'Global' && left-- > 0));
  }
  changeDirectory(next, change, random, seed);
  return next;
}

/** The recycle bin, licences, groups and memberships part of changeDataset. */
function changeDirectory(next: Dataset, change: DatasetChange, random: () => number, seed: number): void {
  const bin = next.deletedItems ?? { users: [], groups: [] };
  if (change.softDeleteUsers) {
    const from = Math.max(0, next.users.length - (change.addUsers ?? 0) - change.softDeleteUsers);
    bin.users.push(...next.users.splice(from, change.softDeleteUsers));
  }
  if (change.restoreUsers) next.users.push(...bin.users.splice(0, change.restoreUsers));
  if (change.purgeDeletedUsers) bin.users.splice(0, change.purgeDeletedUsers);
  if (change.removeGroups) next.groups.splice(Math.max(0, next.groups.length - change.removeGroups));
  if (change.softDeleteGroups) {
    bin.groups.push(...next.groups.splice(Math.max(0, next.groups.length - change.softDeleteGroups)));
  }
  if (next.deletedItems || bin.users.length > 0 || bin.groups.length > 0) next.deletedItems = bin;

  const phone = next.skus.find((s) => s.skuPartNumber === 'MCOEV');
  let at = change.renameUsers ?? 0;
  for (let left = change.licenseUsers ?? 0; left > 0 && phone && at < next.users.length; at++) {
    const u = next.users[at]!;
    if (u.assignedLicenses.some((l) => l.skuId === phone.skuId)) continue;
    u.assignedLicenses.push({ skuId: phone.skuId, disabledPlans: [] });
    left--;
  }
  for (let left = change.unlicenseUsers ?? 0; left > 0 && at < next.users.length; at++) {
    const u = next.users[at]!;
    if (u.assignedLicenses.length === 0) continue;
    u.assignedLicenses.shift();
    left--;
  }
  for (const sku of change.licenseUsers || change.unlicenseUsers ? next.skus : []) {
    sku.consumedUnits = next.users.filter((u) =>
      u.assignedLicenses.some((l) => l.skuId === sku.skuId),
    ).length;
  }

  for (let i = 0; i < (change.renameGroups ?? 0) && i < next.groups.length; i++) {
    next.groups[i]!.displayName = `${next.groups[i]!.displayName} (renamed)`;
  }
  for (let i = 0; i < (change.addGroups ?? 0); i++) {
    const name = `Project ${seed}-${i + 1}`;
    const nick = name.toLowerCase().replace(/[^a-z0-9]/g, '');
    const members = new Set<string>();
    for (let k = 0; k < 3 && next.users.length > 0; k++) {
      members.add(next.users[Math.floor(random() * next.users.length)]!.id);
    }
    next.groups.push({
      id: guidFrom(random),
      displayName: name,
      description: `${name} (simulated)`,
      mail: `${nick}@${next.domain}`,
      mailNickname: nick,
      mailEnabled: true,
      securityEnabled: false,
      groupTypes: ['Unified'],
      resourceProvisioningOptions: [],
      members: [...members],
      visibility: 'Private',
      createdDateTime: new Date(Date.UTC(2025, 0, 1) + seed * 60_000).toISOString().replace('.000Z', 'Z'),
    });
  }
  if (next.groups.length === 0 || next.users.length === 0) return;
  for (let left = change.addMembers ?? 0, tries = 0; left > 0 && tries < left * 100; tries++) {
    const g = next.groups[Math.floor(random() * next.groups.length)]!;
    const u = next.users[Math.floor(random() * next.users.length)]!;
    const members = (g.members ??= []);
    if (members.includes(u.id)) continue;
    members.push(u.id);
    left--;
  }
  for (let left = change.removeMembers ?? 0, tries = 0; left > 0 && tries < left * 100; tries++) {
    const g = next.groups[Math.floor(random() * next.groups.length)]!;
    if (!g.members?.length) continue;
    g.members.splice(Math.floor(random() * g.members.length), 1);
    left--;
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
