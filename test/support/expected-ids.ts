/**
 * What each imported collection must hold for a simulated data set: each kind's ids, sorted, by the
 * property the engine keys it by. Shared by the end-to-end tests and the fault suite.
 */
import { mailboxes, phoneNumberAssignments, teamsUsers, type Dataset } from '../../simulators/dataset.js';

export type Ids = Record<string, string[]>;

/** Each kind's ids in a data set, sorted, by the property the engine keys it by. */
export function expectedIds(ds: Dataset, options: { exchange?: boolean } = {}): Ids {
  const ids = (objects: readonly unknown[], key: string) =>
    objects.map((o) => String((o as Record<string, unknown>)[key])).sort();
  const out: Ids = {
    users: ids(ds.users, 'id'),
    groups: ids(ds.groups, 'id'),
    teams: ids(
      ds.groups.filter((g) => g.resourceProvisioningOptions.includes('Team')),
      'id',
    ),
    licences: ids(ds.skus, 'skuId'),
    teams_users: ids(teamsUsers(ds), 'Identity'),
    dial_plans: ids(ds.teams.dialPlans, 'Identity'),
    policies: ids(ds.teams.policies, 'PolicyKey'),
    pstn_usages: ids(ds.teams.pstnUsages, 'Usage'),
    voice_routes: ids(ds.teams.voiceRoutes, 'Identity'),
    pstn_gateways: ids(ds.teams.pstnGateways, 'Identity'),
    call_queues: ids(ds.teams.callQueues, 'Identity'),
    auto_attendants: ids(ds.teams.autoAttendants, 'Identity'),
    resource_accounts: ids(ds.teams.resourceAccounts, 'ObjectId'),
    phone_numbers: ids(phoneNumberAssignments(ds), 'TelephoneNumber'),
  };
  if (options.exchange) {
    out.mailboxes = ids(mailboxes(ds), 'ExternalDirectoryObjectId');
    out.distribution_groups = ids(ds.exchange.distributionGroups, 'ExternalDirectoryObjectId');
  }
  return out;
}
