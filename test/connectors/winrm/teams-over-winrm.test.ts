import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { splitScriptOutput } from '../../../connectors/powershell/script-output.js';
import { buildTeamsPullScript } from '../../../connectors/powershell/teams-script.js';
import { proxyPoolForTenant, type ProxyPool } from '../../../connectors/winrm/proxy-pool.js';
import { validateTenant, type TenantConfig } from '../../../domain/tenant.js';
import { generateDataset, teamsUsers } from '../../../simulators/dataset.js';
import { createTenantScriptHost } from '../../../simulators/powershell/tenant-host.js';
import type { WinRmSimulator } from '../../../simulators/winrm/server.js';
import { validTenantInput } from '../../support/fixtures.js';
import { capturingLogger, expectNoShellLeft, simulator } from './support/simulated-proxy.js';

/**
 * The whole PowerShell path: a generated Teams full-pull script, sent by the pool over WinRM to the
 * simulated proxy, run by the simulated tenant, its JSON Lines decoded as they stream back.
 */
describe('a Teams full pull over WinRM', () => {
  const dataset = generateDataset({ seed: 7, users: 40 });
  const logs = capturingLogger();
  let sim: WinRmSimulator;
  let pool: ProxyPool;
  let tenant: TenantConfig;

  beforeAll(async () => {
    const input = validTenantInput({ 'Microsoft 365': { tenant_id: dataset.tenantId } });
    const teams = input['Microsoft Teams'] as { tenantUsername: string; tenantPassword: string };
    const proxy = input['Microsoft Teams Powershell'] as { proxyUsername: string; proxyPassword: string };
    sim = await simulator({
      accounts: [{ username: proxy.proxyUsername, password: proxy.proxyPassword }],
      scriptHost: createTenantScriptHost({
        dataset,
        teamsAccounts: [{ username: teams.tenantUsername, password: teams.tenantPassword }],
        // Multi-byte text in every object, so Receive chunks split characters.
        faults: { padBytes: 300 },
      }),
      streamChunkBytes: 1021,
    });
    tenant = validateTenant(
      validTenantInput({
        'Microsoft 365': { tenant_id: dataset.tenantId },
        'Microsoft Teams Powershell': { hostName: `127.0.0.1:${sim.port}` },
      }),
    );
    pool = proxyPoolForTenant(tenant, { scheme: 'http', affinityKey: 'worker-e2e' }, { logger: logs.logger });
  });

  afterAll(async () => {
    pool.close();
    expectNoShellLeft(sim);
    await sim.close();
  });

  it('streams every Teams kind back as records, with the users of the data set', async () => {
    const execution = pool.execute(buildTeamsPullScript(tenant), { deadlineMs: 60_000 });
    const output = splitScriptOutput(execution);
    const users: string[] = [];
    const ends = new Map<string, number>();
    for await (const record of output.records) {
      if (record.t === 'obj' && record.kind === 'teams_users')
        users.push(String((record as { o: { Identity?: unknown } }).o.Identity ?? ''));
      if (record.t === 'end') ends.set(record.kind, record.count);
    }
    expect(output.errors()).toEqual([]);
    expect((await execution.result).exitCode).toBe(0);
    expect(ends.get('teams_users')).toBe(users.length);
    expect(users.sort()).toEqual(
      teamsUsers(dataset)
        .map((u) => String(u.Identity))
        .sort(),
    );
    expect(users.length).toBeGreaterThan(0);
    expect(ends.size).toBeGreaterThan(5);
    expect(sim.counters.utf8SplitChunks).toBeGreaterThan(0);
  });
});
