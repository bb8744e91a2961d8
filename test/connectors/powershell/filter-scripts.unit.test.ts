/**
 * The tenant's Teams users and Exchange mailbox filters in the generated scripts: one single-quoted
 * literal, whatever the filter holds, and the Graph users request with $filter (and, for an advanced
 * query, $count=true and ConsistencyLevel: eventual).
 */
import { describe, expect, it } from 'vitest';
import { collectionRequest } from '../../../connectors/graph/kinds.js';
import { buildExchangePullScript, buildTeamsPullScript } from '../../../connectors/powershell/index.js';
import { parseScript } from '../../../simulators/powershell/ps-parser.js';
import { tenantFor } from './support/tenant-host.js';

const TENANT = '11111111-2222-4333-8444-555555555555';

describe('filters in the pull', () => {
  it('passes the Teams users filter as one literal, quotes doubled, $() inert', () => {
    const filter = "DisplayName -like '*O''Brien $(Remove-Item C:\\x)*'";
    const tenant = tenantFor(TENANT, { 'Sync Filters': { teams_users_filter: filter } });
    const stored = tenant['Sync Filters']!.teams_users_filter!;
    const script = buildTeamsPullScript(tenant, { kinds: ['teams_users'] });
    expect(script).toContain(`-Filter '${stored.replaceAll("'", "''")}'`);
    expect(() => parseScript(script)).not.toThrow();
    // Without a filter, no -Filter at all.
    expect(buildTeamsPullScript(tenantFor(TENANT), { kinds: ['teams_users'] })).not.toMatch(
      /Read-M365TeamsUser[^\n]*-Filter/,
    );
  });

  it('passes the Exchange mailbox filter to Get-EXOMailbox only', () => {
    const tenant = tenantFor(TENANT, {
      'Sync Filters': { exchange_mailbox_filter: "RecipientTypeDetails -eq 'SharedMailbox'" },
    });
    const script = buildExchangePullScript(tenant, { organization: 'contoso.onmicrosoft.com' });
    expect(script).toMatch(/Get-EXOMailbox [^\n]*-Filter 'RecipientTypeDetails -eq ''SharedMailbox'''/);
    expect(script).not.toMatch(/Get-DistributionGroup [^\n]*-Filter/);
  });

  it('sends $filter on /users, with $count=true and ConsistencyLevel: eventual when advanced', () => {
    const simple = collectionRequest(
      'users',
      tenantFor(TENANT, { 'Sync Filters': { graph_users_filter: "startswith(department,'Sales')" } }),
    );
    expect(decodeURIComponent(simple.pathAndQuery)).toContain("$filter=startswith(department,'Sales')");
    expect(simple.pathAndQuery).not.toContain('$count');
    expect(simple.headers).toBeUndefined();

    const advanced = collectionRequest(
      'users',
      tenantFor(TENANT, { 'Sync Filters': { graph_users_filter: "department ne 'Sales'" } }),
    );
    expect(advanced.pathAndQuery).toContain('$count=true');
    expect(advanced.headers).toEqual({ ConsistencyLevel: 'eventual' });
    expect(collectionRequest('users', tenantFor(TENANT)).pathAndQuery).not.toContain('$filter');
  });
});
