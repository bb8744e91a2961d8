import { describe, expect, it } from 'vitest';
import {
  buildExchangePullScript,
  buildExchangeTestScript,
} from '../../../connectors/powershell/exchange-script.js';
import type { ObjectRecord, ScriptRecord } from '../../../connectors/powershell/records.js';
import { scriptFailure, splitScriptOutput } from '../../../connectors/powershell/script-output.js';
import { buildTeamsPullScript, buildTeamsTestScript } from '../../../connectors/powershell/teams-script.js';
import { tenantSecrets, type TenantConfig } from '../../../domain/tenant.js';
import {
  generateDataset,
  mailboxes,
  phoneNumberAssignments,
  teamsUsers,
} from '../../../simulators/dataset.js';
import {
  createTenantScriptHost,
  type TenantHostOptions,
} from '../../../simulators/powershell/tenant-host.js';
import {
  NASTY,
  EXCHANGE_THUMBPRINT,
  TEAMS_PASSWORD,
  TEAMS_THUMBPRINT,
  TEAMS_USER,
  rechunk,
  runScript,
  tenantFor,
  type RunResult,
} from './support/tenant-host.js';

const ds = generateDataset({ seed: 7, callQueues: 230, autoAttendants: 105 });

function host(options: Partial<TenantHostOptions> = {}) {
  return createTenantScriptHost({
    dataset: ds,
    teamsAccounts: [{ username: TEAMS_USER, password: TEAMS_PASSWORD }],
    certificateThumbprints: [TEAMS_THUMBPRINT, EXCHANGE_THUMBPRINT],
    ...options,
  });
}

interface Decoded {
  records: ScriptRecord[];
  errors: string[];
  byKind: Map<string, ObjectRecord[]>;
  ends: Map<string, number>;
  errs: Map<string, string>;
}

/** The output as the engine sees it: re-cut into small chunks, then decoded. */
async function decode(run: RunResult): Promise<Decoded> {
  const output = splitScriptOutput(rechunk(run.chunks));
  const records: ScriptRecord[] = [];
  for await (const r of output.records) records.push(r);
  const byKind = new Map<string, ObjectRecord[]>();
  const ends = new Map<string, number>();
  const errs = new Map<string, string>();
  for (const r of records) {
    if (r.t === 'obj') byKind.set(r.kind, [...(byKind.get(r.kind) ?? []), r]);
    if (r.t === 'end') ends.set(r.kind, r.count);
    if (r.t === 'err') errs.set(r.kind, r.message);
  }
  return { records, errors: output.errors(), byKind, ends, errs };
}

const tenant = tenantFor(ds.tenantId);

describe('a Teams full pull against the simulated tenant', () => {
  it('returns every kind with the counts of the data set, each confirmed by its end line', async () => {
    const run = await runScript(host({ faults: { progressRecords: 2 } }), buildTeamsPullScript(tenant));
    expect(run.exitCode).toBe(0);
    const out = await decode(run);
    const expected: Record<string, number> = {
      teams_users: teamsUsers(ds).length,
      dial_plans: ds.teams.dialPlans.length,
      policies: ds.teams.policies.length,
      pstn_usages: ds.teams.pstnUsages.length,
      voice_routes: ds.teams.voiceRoutes.length,
      pstn_gateways: ds.teams.pstnGateways.length,
      call_queues: 230,
      auto_attendants: 105,
      resource_accounts: ds.teams.resourceAccounts.length,
      phone_numbers: phoneNumberAssignments(ds).length,
    };
    expect(Object.fromEntries(out.ends)).toEqual(expected);
    for (const [kind, count] of Object.entries(expected))
      expect(out.byKind.get(kind) ?? []).toHaveLength(count);
    expect(out.records.at(-1)).toEqual({ t: 'done' });
    expect(out.errors).toEqual([]); // the progress records were dropped
    expect(run.stderr).toContain('Preparing modules for first use.');
  });

  it('delivers objects as the data set holds them: dates and enums normalised, non-ASCII intact', async () => {
    const out = await decode(await runScript(host(), buildTeamsPullScript(tenant)));
    const user = out.byKind.get('teams_users')![0]!.o;
    const source = teamsUsers(ds)[0]!;
    expect(user.Identity).toBe(source.Identity);
    expect(user.DisplayName).toBe(source.DisplayName);
    expect(user.WhenCreated).toBe(new Date(String(source.WhenCreated)).toISOString());
    const queues = out.byKind.get('call_queues')!.map((r) => r.o);
    expect(queues.map((q) => q.Identity)).toEqual(ds.teams.callQueues.map((q) => q.Identity));
    expect(queues.map((q) => q.RoutingMethod)).toEqual(ds.teams.callQueues.map((q) => q.RoutingMethod));
    const names = out.byKind.get('teams_users')!.map((r) => r.o.DisplayName);
    expect(names).toEqual(teamsUsers(ds).map((u) => u.DisplayName));
    expect(names.some((n) => [...String(n)].some((c) => c.charCodeAt(0) > 127))).toBe(true);
  });

  it('tags each policy with its type and a key unique across types', async () => {
    const out = await decode(await runScript(host(), buildTeamsPullScript(tenant, { kinds: ['policies'] })));
    const keys = out.byKind.get('policies')!.map((r) => r.o.PolicyKey);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.sort()).toEqual(ds.teams.policies.map((p) => p.PolicyKey).sort());
  });

  it('the WinRM engineer gets raw stdout: JSON with \\/Date()\\/ as Windows PowerShell 5.1 writes it', async () => {
    const run = await runScript(host(), buildTeamsPullScript(tenant, { kinds: ['teams_users'] }));
    expect(run.stdout).toMatch(/"WhenCreated":"\\\/Date\(\d+\)\\\/"/);
    const run7 = await runScript(
      host({ psVersion: '7' }),
      buildTeamsPullScript(tenant, { kinds: ['teams_users'] }),
    );
    expect(run7.stdout).toMatch(/"WhenCreated":"\d{4}-\d\d-\d\dT/);
  });
});

describe('paging is honoured', () => {
  it('Get-CsCallQueue without -First returns only 100, as the real cmdlet does', async () => {
    const script = buildTeamsPullScript(tenant, { kinds: ['call_queues'] }).replace(
      /Read-M365Pages .*Get-CsCallQueue.*$/m,
      'Get-CsCallQueue',
    );
    const out = await decode(await runScript(host(), script));
    expect(out.ends.get('call_queues')).toBe(100);
  });

  it('any page size reads every call queue, auto attendant and number exactly once', async () => {
    for (const size of [1, 7, 100, 229, 230, 1000]) {
      const out = await decode(
        await runScript(
          host(),
          buildTeamsPullScript(tenant, {
            kinds: ['call_queues', 'auto_attendants', 'phone_numbers'],
            pageSizes: { call_queues: size, auto_attendants: size, phone_numbers: size },
          }),
        ),
      );
      const ids = out.byKind.get('call_queues')!.map((r) => r.o.Identity);
      expect(new Set(ids).size).toBe(230);
      expect(ids).toHaveLength(230);
      expect(out.ends.get('auto_attendants')).toBe(105);
      expect(out.ends.get('phone_numbers')).toBe(phoneNumberAssignments(ds).length);
    }
  });

  it('Get-CsPhoneNumberAssignment -Top above 1000 fails that kind only', async () => {
    const script = buildTeamsPullScript(tenant, { kinds: ['phone_numbers', 'dial_plans'] }).replace(
      '-PageSize 1000',
      '-PageSize 1001',
    );
    const out = await decode(await runScript(host(), script));
    expect(out.errs.get('phone_numbers')).toMatch(/at most 1000/);
    expect(out.ends.get('dial_plans')).toBe(ds.teams.dialPlans.length);
  });

  it('Get-EXOMailbox without -ResultSize Unlimited stops at 1000 with a warning', async () => {
    const big = generateDataset({ seed: 9, users: 2000 });
    const t = tenantFor(big.tenantId);
    const script = buildExchangePullScript(t, {
      kinds: ['mailboxes'],
      organization: big.initialDomain,
    }).replace('-ResultSize Unlimited ', '');
    const run = await runScript(host({ dataset: big }), script);
    const out = await decode(run);
    expect(mailboxes(big).length).toBeGreaterThan(1000);
    expect(out.ends.get('mailboxes')).toBe(1000);
    expect(run.stderr).toContain('There are more results available');
  });
});

describe('an Exchange full pull', () => {
  it('returns user, shared and room mailboxes and distribution groups', async () => {
    const run = await runScript(host(), buildExchangePullScript(tenant, { organization: ds.initialDomain }));
    expect(run.exitCode).toBe(0);
    const out = await decode(run);
    expect(out.ends.get('mailboxes')).toBe(mailboxes(ds).length);
    expect(out.ends.get('distribution_groups')).toBe(ds.exchange.distributionGroups.length);
    const types = new Set(out.byKind.get('mailboxes')!.map((r) => r.o.RecipientTypeDetails));
    expect(types).toEqual(new Set(['UserMailbox', 'SharedMailbox', 'RoomMailbox']));
    expect(run.stdout).toMatch(/"RecipientTypeDetails":4[,}]/); // numbers on the wire, names after decoding
  });

  it('accepts the initial domain as the organisation, as Microsoft documents it, and refuses anything else', async () => {
    expect(ds.initialDomain).toMatch(/\.onmicrosoft\.com$/);
    expect(
      (await runScript(host(), buildExchangeTestScript(tenant, { organization: ds.initialDomain }))).exitCode,
    ).toBe(0);
    for (const wrong of ['other.onmicrosoft.com', ds.domain]) {
      const run = await runScript(host(), buildExchangeTestScript(tenant, { organization: wrong }));
      expect(run.exitCode, wrong).toBe(1);
      expect((await decode(run)).errors[0]).toMatch(/AADSTS90002/);
    }
    // The tenant id, as the engine used to pass it: refused, naming what -Organization must be.
    const script = buildExchangeTestScript(tenant, { organization: ds.initialDomain }).replace(
      `-Organization '${ds.initialDomain}'`,
      `-Organization '${ds.tenantId}'`,
    );
    expect(script).toContain(`-Organization '${ds.tenantId}'`);
    const run = await runScript(host(), script);
    expect(run.exitCode).toBe(1);
    expect((await decode(run)).errors[0]).toMatch(
      /is a tenant id: .*initial domain, such as contoso\.onmicrosoft\.com/,
    );
  });

  it('refuses an unknown certificate', async () => {
    const run = await runScript(
      host({ certificateThumbprints: [TEAMS_THUMBPRINT] }),
      buildExchangePullScript(tenant, { organization: ds.initialDomain }),
    );
    expect(run.exitCode).toBe(1);
    const out = await decode(run);
    expect(out.records.filter((r) => r.t === 'obj')).toHaveLength(0);
    expect(scriptFailure('Exchange Online', run.exitCode, out.errors, tenantSecrets(tenant))!.code).toBe(
      'AUTHENTICATION',
    );
  });
});

describe('sign-in', () => {
  it('Test connection succeeds with the right service account', async () => {
    const run = await runScript(host(), buildTeamsTestScript(tenant));
    expect(run.exitCode).toBe(0);
    const out = await decode(run);
    expect(out.ends.get('teams_users')).toBe(1);
  });

  it('a wrong password gives the Teams sign-in error as CLIXML, exit 1, and no data', async () => {
    const wrong = tenantFor(ds.tenantId, { 'Microsoft Teams': { tenantPassword: `${TEAMS_PASSWORD}x` } });
    const run = await runScript(host(), buildTeamsPullScript(wrong));
    expect(run.exitCode).toBe(1);
    expect(run.stderr.startsWith('#< CLIXML')).toBe(true);
    const out = await decode(run);
    expect(out.records).toEqual([]);
    expect(out.errors[0]).toMatch(/^Connect-MicrosoftTeams : .*AADSTS50126: Error validating credentials/);
    const failure = scriptFailure('Microsoft Teams', run.exitCode, out.errors, tenantSecrets(wrong))!;
    expect(failure.code).toBe('AUTHENTICATION');
    for (const secret of tenantSecrets(wrong)) {
      expect(run.stderr).not.toContain(secret);
      expect(failure.message).not.toContain(secret);
    }
  });

  it('an MFA-enforced account is refused with AADSTS50076', async () => {
    const run = await runScript(host({ faults: { signIn: 'mfa_required' } }), buildTeamsTestScript(tenant));
    expect(run.exitCode).toBe(1);
    expect((await decode(run)).errors[0]).toMatch(/AADSTS50076/);
  });

  it('app-only certificate sign-in works with a known thumbprint and fails with another', async () => {
    const cert = (thumbprint: string) =>
      tenantFor(ds.tenantId, {
        'Microsoft Teams': { authentication: 'certificate', certificate_thumbprint: thumbprint },
      });
    expect((await runScript(host(), buildTeamsTestScript(cert(TEAMS_THUMBPRINT)))).exitCode).toBe(0);
    const run = await runScript(host(), buildTeamsTestScript(cert('1'.repeat(40))));
    expect(run.exitCode).toBe(1);
    expect((await decode(run)).errors[0]).toMatch(/Certificate with thumbprint/);
  });

  it.each(NASTY.filter((v) => v.trim() === v && v.length > 0))(
    'a password like %j arrives as exactly that literal',
    async (nasty) => {
      const password = `pw${nasty}`;
      const withPassword = tenantFor(ds.tenantId, { 'Microsoft Teams': { tenantPassword: password } });
      const ok = host({ teamsAccounts: [{ username: TEAMS_USER, password }] });
      expect((await runScript(ok, buildTeamsTestScript(withPassword))).exitCode).toBe(0);
      // One character different and the same script fails: the literal is compared, not a prefix.
      const other = host({ teamsAccounts: [{ username: TEAMS_USER, password: `${password}!` }] });
      expect((await runScript(other, buildTeamsTestScript(withPassword))).exitCode).toBe(1);
    },
  );

  it('HTTP proxy credentials arrive intact; wrong ones give a 407', async () => {
    const proxyPassword = "p'r\u2019o$(x)`;\ny";
    const withProxy = (password: string): TenantConfig =>
      tenantFor(ds.tenantId, {
        'Microsoft Teams HTTP Proxy': {
          use_proxy: true,
          use_http_proxy_auth: true,
          http_proxy_username: 'proxy"user',
          http_proxy_password: password,
        },
      });
    const proxied = host({ proxyCredentials: [{ username: 'proxy"user', password: proxyPassword }] });
    expect((await runScript(proxied, buildTeamsTestScript(withProxy(proxyPassword)))).exitCode).toBe(0);
    const run = await runScript(proxied, buildTeamsTestScript(withProxy('nope')));
    expect(run.exitCode).toBe(1);
    expect((await decode(run)).errors[0]).toMatch(/407/);
    expect(run.stderr).not.toContain(proxyPassword);
  });

  it('Teams and Exchange cannot share one process (conflicting MSAL assemblies)', async () => {
    const script = buildTeamsTestScript(tenant).replace(
      'Import-Module MicrosoftTeams',
      'Import-Module MicrosoftTeams\nImport-Module ExchangeOnlineManagement',
    );
    const run = await runScript(host(), script);
    expect(run.exitCode).toBe(1);
    expect((await decode(run)).errors[0]).toMatch(/Microsoft\.Identity\.Client/);
  });
});

describe('faults on demand', () => {
  it('a kind that fails after N objects writes an err line; the other kinds go on', async () => {
    const run = await runScript(
      host({ faults: { failKinds: { call_queues: { afterObjects: 40, message: 'Service unavailable' } } } }),
      buildTeamsPullScript(tenant),
    );
    expect(run.exitCode).toBe(0);
    const out = await decode(run);
    expect(out.byKind.get('call_queues')).toHaveLength(40);
    expect(out.ends.has('call_queues')).toBe(false);
    expect(out.errs.get('call_queues')).toBe('Service unavailable');
    expect(out.records.find((r) => r.t === 'err')).toMatchObject({ count: 40 });
    expect(out.ends.get('auto_attendants')).toBe(105);
    expect(out.records.at(-1)).toEqual({ t: 'done' });
  });

  it('a crash mid-way: some output, CLIXML on stderr, exit 1, no done line', async () => {
    const run = await runScript(host({ faults: { crashAfterObjects: 300 } }), buildTeamsPullScript(tenant));
    expect(run.exitCode).toBe(1);
    const out = await decode(run);
    expect(out.records.filter((r) => r.t === 'obj')).toHaveLength(300);
    expect(out.records.some((r) => r.t === 'done')).toBe(false);
    expect(out.errors[0]).toMatch(/OutOfMemoryException/);
    expect(scriptFailure('Microsoft Teams', run.exitCode, out.errors, [])!.code).toBe('POWERSHELL_ERROR');
  });

  it('huge output: padding in multi-byte text survives small chunks intact', async () => {
    const run = await runScript(
      host({ faults: { padBytes: 20_000, repeatObjects: 3 } }),
      buildTeamsPullScript(tenant, { kinds: ['dial_plans'] }),
    );
    expect(Buffer.byteLength(run.stdout)).toBeGreaterThan(5 * 3 * 15_000);
    const out = await decode(run);
    expect(out.ends.get('dial_plans')).toBe(15);
    for (const r of out.byKind.get('dial_plans')!)
      expect(String(r.o.Padding)).toMatch(/^(Zoë 日本語 Ünal 😀 )+$/);
  });

  it('slow output and a terminate signal end the script early', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const stdout: string[] = [];
    // Terminate once the script's output has begun (the signal arrives mid-run, whatever the load).
    const exitCode = await host({ latencyMs: 20 })(
      buildTeamsPullScript(tenant),
      {
        stdout: async (text) => {
          stdout.push(text);
          controller.abort();
        },
        stderr: async () => {},
      },
      { proxyUser: 'svc-proxy', signal: controller.signal },
    );
    expect(exitCode).not.toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    const lines = stdout.join('').split('\r\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.length).toBeLessThan(50);
  });

  it('reads the data set afresh for every script, and shows each script to logScripts', async () => {
    let current = ds;
    const seen: string[] = [];
    const h = host({ dataset: () => current, logScripts: (s) => seen.push(s) });
    const script = buildTeamsPullScript(tenant, { kinds: ['policies'] });
    const before = (await decode(await runScript(h, script))).ends.get('policies');
    current = { ...ds, teams: { ...ds.teams, policies: ds.teams.policies.slice(0, 3) } };
    const after = (await decode(await runScript(h, script))).ends.get('policies');
    expect([before, after]).toEqual([ds.teams.policies.length, 3]);
    expect(seen).toEqual([script, script]);
  });

  it('refuses what it cannot interpret instead of skipping it', async () => {
    const run = await runScript(
      host(),
      buildTeamsTestScript(tenant).replace('Import-Module MicrosoftTeams', 'if ($true) { Remove-Item C:\\ }'),
    );
    expect(run.exitCode).toBe(1);
    expect((await decode(run)).errors[0]).toMatch(/does not interpret/);
    const missing = await runScript(
      host(),
      "Invoke-M365Kind -Kind 'dial_plans' -Read { Get-CsTenantDialPlan }",
    );
    expect((await decode(missing)).errors[0]).toMatch(/The term 'Invoke-M365Kind' is not recognized/);
  });
});
