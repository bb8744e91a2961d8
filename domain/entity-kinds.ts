/**
 * The kinds of object a full pull imports: where each comes from, which MongoDB collection holds it,
 * and which property identifies it within its tenant (the `externalId`).
 */

export type EntitySource = 'graph' | 'teams' | 'exchange';

export interface EntityKind {
  kind: string;
  source: EntitySource;
  /** MongoDB collection, one per kind. */
  collection: string;
  label: string;
  /** The property of the imported object that identifies it within its tenant. */
  idProperty: string;
}

export const ENTITY_KINDS = [
  { kind: 'users', source: 'graph', collection: 'users', label: 'Entra ID users', idProperty: 'id' },
  { kind: 'groups', source: 'graph', collection: 'groups', label: 'Entra ID groups', idProperty: 'id' },
  {
    kind: 'teams',
    source: 'graph',
    collection: 'teams',
    label: 'Teams (groups with a team)',
    idProperty: 'id',
  },
  {
    kind: 'licences',
    source: 'graph',
    collection: 'licences',
    label: 'Licences (subscribed SKUs)',
    idProperty: 'skuId',
  },

  {
    kind: 'teams_users',
    source: 'teams',
    collection: 'teams_users',
    label: 'Teams users',
    idProperty: 'Identity',
  },
  {
    kind: 'dial_plans',
    source: 'teams',
    collection: 'dial_plans',
    label: 'Tenant dial plans',
    idProperty: 'Identity',
  },
  // One collection for every policy type; the type is part of the key (`TeamsCallingPolicy:Tag:Sales`).
  {
    kind: 'policies',
    source: 'teams',
    collection: 'policies',
    label: 'Teams and voice policies',
    idProperty: 'PolicyKey',
  },
  {
    kind: 'pstn_usages',
    source: 'teams',
    collection: 'pstn_usages',
    label: 'PSTN usages',
    idProperty: 'Usage',
  },
  {
    kind: 'voice_routes',
    source: 'teams',
    collection: 'voice_routes',
    label: 'Voice routes',
    idProperty: 'Identity',
  },
  {
    kind: 'pstn_gateways',
    source: 'teams',
    collection: 'pstn_gateways',
    label: 'PSTN gateways',
    idProperty: 'Identity',
  },
  {
    kind: 'call_queues',
    source: 'teams',
    collection: 'call_queues',
    label: 'Call queues',
    idProperty: 'Identity',
  },
  {
    kind: 'auto_attendants',
    source: 'teams',
    collection: 'auto_attendants',
    label: 'Auto attendants',
    idProperty: 'Identity',
  },
  {
    kind: 'resource_accounts',
    source: 'teams',
    collection: 'resource_accounts',
    label: 'Resource accounts',
    idProperty: 'ObjectId',
  },
  {
    kind: 'phone_numbers',
    source: 'teams',
    collection: 'phone_numbers',
    label: 'Phone number assignments',
    idProperty: 'TelephoneNumber',
  },

  {
    kind: 'mailboxes',
    source: 'exchange',
    collection: 'mailboxes',
    label: 'Mailboxes',
    idProperty: 'ExternalDirectoryObjectId',
  },
  {
    kind: 'distribution_groups',
    source: 'exchange',
    collection: 'distribution_groups',
    label: 'Distribution groups',
    idProperty: 'ExternalDirectoryObjectId',
  },
] as const satisfies readonly EntityKind[];

export type EntityKindName = (typeof ENTITY_KINDS)[number]['kind'];

export const ENTITY_KIND_NAMES = ENTITY_KINDS.map((k) => k.kind) as EntityKindName[];

export function entityKind(kind: string): EntityKind {
  const found = ENTITY_KINDS.find((k) => k.kind === kind);
  if (!found) throw new Error(`Unknown entity kind "${kind}" (kinds: ${ENTITY_KIND_NAMES.join(', ')})`);
  return found;
}

export function kindsOfSource(source: EntitySource): EntityKind[] {
  return ENTITY_KINDS.filter((k) => k.source === source);
}

/** The Teams policy cmdlets a full pull reads, by policy type (the `PolicyType` of each policy document). */
export const TEAMS_POLICY_TYPES = [
  'OnlineVoiceRoutingPolicy',
  'TeamsCallingPolicy',
  'TeamsMeetingPolicy',
  'TeamsMessagingPolicy',
  'TeamsEmergencyCallingPolicy',
  'TeamsEmergencyCallRoutingPolicy',
  'OnlineVoicemailPolicy',
  'TeamsCallParkPolicy',
  'TeamsIPPhonePolicy',
  'CallingLineIdentity',
] as const;
export type TeamsPolicyType = (typeof TEAMS_POLICY_TYPES)[number];
