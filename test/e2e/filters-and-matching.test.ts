/**
 * Instance filters, Teams-to-Entra matching and the licence view end to end: real Redis, the
 * MongoDB-wire server, the Graph simulator (which applies `$filter` and refuses an advanced query
 * without `ConsistencyLevel: eventual` and `$count=true`) and the simulated PowerShell tenant (which
 * applies `-Filter` and reports what it received).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeleteProtectionStore } from '../../connectors/mongo/delete-protection.js';
import { SyncRunStore } from '../../connectors/mongo/sync-runs.js';
import type { SyncRun } from '../../domain/sync-run.js';
import type { TenantStore } from '../../connectors/mongo/tenants.js';
import { ValidationError } from '../../domain/errors.js';
import { mailboxes, teamsUsers, type Dataset } from '../../simulators/dataset.js';
import type { SimulatedTenant } from '../../simulators/m365.js';
import { approveDeletes } from '../../operations/approve-deletes.js';
import type { TestMongo } from '../support/services.js';
import { startEngine, type Engine } from './support/engine.js';

const TEAMS_FILTER = "UsageLocation -ne 'JP' -and DisplayName -notlike '*O''Brien $(whoami)*'";

describe('instance filters and Teams-to-Entra matching end to end', { timeout: 180_000 }, () => {
  let engine: Engine;
  let sim: SimulatedTenant;
  let mongo: TestMongo;
  let tenants: TenantStore;
  let tenantId: string;
  let ds: Dataset;

  const stored = async (collection: string) =>
    mongo.db.collection(collection).find({ tenantId }).sort({ externalId: 1 }).toArray();
  const ids = async (collection: string) => (await stored(collection)).map((d) => String(d.externalId));
  const sorted = (values: string[]) => [...values].sort();
  const sync = (requestedBy: string): Promise<SyncRun> => engine.sync(tenantId, requestedBy);

  beforeAll(async () => {
    engine = await startEngine('e2e-filters', { dataset: { seed: 41, users: 100 }, enableExchange: true });
    ({ sim, mongo } = engine);
    ds = sim.dataset();
    const { stores } = engine;
    tenants = stores.tenants;
    tenantId = (
      await tenants.add({
        ...sim.tenantInput,
        'Microsoft 365': { ...sim.tenantInput['Microsoft 365'], msol_user_api_page_size: 10 },
        'Sync Filters': {
          graph_users_filter: "department ne 'Legal'", // advanced: ne
          teams_users_filter: TEAMS_FILTER,
          exchange_mailbox_filter: "RecipientTypeDetails -ne 'RoomMailbox'",
        },
      })
    ).id;
  }, 120_000);

  afterAll(async () => engine?.close());

  it('lands only matching objects, sends the advanced-query parameters on every page, and passes PowerShell filters as literals', async () => {
    const run = await sync('first');
    expect(run.status).toBe('succeeded');

    const graphUsers = ds.users.filter((u) => u.department !== 'Legal');
    expect(graphUsers.length).toBeLessThan(ds.users.length);
    expect(await ids('users')).toEqual(sorted(graphUsers.map((u) => u.id)));
    // Every page (10 users each) carried $count=true; the simulator refuses the page without the header.
    const pages = sim.graph.requests.filter((r) => r.path === '/v1.0/users' && r.status === 200);
    expect(pages.length).toBeGreaterThan(5);
    for (const page of pages) expect(page.search).toContain('$count=true');

    // The Teams filter arrived as one string, exactly as stored: quotes undoubled, $() not run.
    const received = sim.filtersReceived().filter((f) => f.command === 'Get-CsOnlineUser');
    expect(received.length).toBeGreaterThan(0);
    const storedFilter = (await tenants.getDecrypted(tenantId))['Sync Filters']?.teams_users_filter;
    expect(storedFilter).toContain("'*O''Brien $(whoami)*'");
    for (const f of received) expect(f.filter).toBe(storedFilter);
    const teamsExpected = teamsUsers(ds).filter((u) => u.UsageLocation !== 'JP');
    expect(await ids('teams_users')).toEqual(sorted(teamsExpected.map((u) => String(u.Identity))));

    const mailboxFilter = sim.filtersReceived().find((f) => f.command === 'Get-EXOMailbox');
    expect(mailboxFilter?.filter).toBe("RecipientTypeDetails -ne 'RoomMailbox'");
    expect(await ids('mailboxes')).toEqual(
      sorted(
        mailboxes(ds)
          .filter((m) => m.RecipientTypeDetails !== 'RoomMailbox')
          .map((m) => String(m.ExternalDirectoryObjectId)),
      ),
    );
  });

  it('links each Teams user to its Entra user, flags the rest and counts them; the licence view answers "who has MCOEV"', async () => {
    const inGraph = new Set(ds.users.filter((u) => u.department !== 'Legal').map((u) => u.id));
    const docs = await stored('teams_users');
    let matched = 0;
    for (const doc of docs) {
      const data = doc.data as { Identity: string; entraUserId: string | null; noEntraMatch: boolean };
      if (inGraph.has(data.Identity)) {
        expect(data).toMatchObject({ entraUserId: data.Identity.toLowerCase(), noEntraMatch: false });
        matched++;
      } else {
        expect(data).toMatchObject({ entraUserId: null, noEntraMatch: true });
      }
    }
    expect(matched).toBeGreaterThan(0);
    expect(docs.length - matched).toBeGreaterThan(0);
    const [run] = await new SyncRunStore(mongo.db).list({ tenantId, limit: 1 });
    expect(run!.kinds.teams_users?.entraMatch).toEqual({
      matched,
      unmatched: docs.length - matched,
      skipped: 0,
    });

    // Licence view: skuPartNumbers resolved from the tenant's subscribed SKUs.
    const mcoev = ds.skus.find((s) => s.skuPartNumber === 'MCOEV');
    expect(mcoev).toBeDefined();
    const withMcoev = ds.users.filter(
      (u) => u.department !== 'Legal' && u.assignedLicenses.some((l) => l.skuId === mcoev!.skuId),
    );
    const found = await mongo.db
      .collection('users')
      .find({ tenantId, 'data.skuPartNumbers': 'MCOEV' }, { projection: { externalId: 1 } })
      .toArray();
    expect(sorted(found.map((d) => String(d.externalId)))).toEqual(sorted(withMcoev.map((u) => u.id)));
  });

  it('refuses an invalid filter when saved, with the reason, and stores nothing', async () => {
    for (const [field, value] of [
      ['graph_users_filter', "department eq 'Sales' and"],
      ['graph_users_filter', "contains(displayName,'a')"],
      ['teams_users_filter', 'DisplayName -eq $(whoami)'],
      ['exchange_mailbox_filter', "Name -eq 'a'; Remove-Mailbox x"],
    ]) {
      const error = await tenants
        .update(tenantId, { 'Sync Filters': { [field!]: value } })
        .catch((e: unknown) => e);
      expect(error, value).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).problems).toEqual([
        { field: `Sync Filters.${field}`, message: expect.stringMatching(/^is not a valid .*filter/) },
      ]);
    }
    const tenant = await tenants.getDecrypted(tenantId);
    expect(tenant['Sync Filters']?.graph_users_filter).toBe("department ne 'Legal'");
  });

  it('narrowing a filter sweeps the rest, through delete protection', async () => {
    const protection = new DeleteProtectionStore(mongo.db);
    await protection.set({ tenantId }, 'graph', { percent: 30 });
    await tenants.update(tenantId, {
      'Sync Filters': { graph_users_filter: "department ne 'Legal' and department ne 'Sales'" },
    });
    const sales = ds.users.filter((u) => u.department === 'Sales').length;
    expect(sales).toBeGreaterThan(10); // more than the default would allow
    const run = await sync('narrower');
    expect(run.status).toBe('succeeded');
    expect(run.kinds.users).toMatchObject({ status: 'succeeded', deleted: sales });
    expect(await ids('users')).toEqual(
      sorted(ds.users.filter((u) => u.department !== 'Legal' && u.department !== 'Sales').map((u) => u.id)),
    );
    // Teams users of Sales are now unmatched: flagged, not deleted.
    expect(run.kinds.teams_users?.deleted).toBe(0);
  });

  it('with unmatched_teams_users=skip the unmatched leave through the sweep, which delete protection holds', async () => {
    await tenants.update(tenantId, { 'Sync Filters': { unmatched_teams_users: 'skip' } });
    const before = await ids('teams_users');
    const held = await sync('skip');
    expect(held.status).toBe('needs_review');
    const teams = held.kinds.teams_users!;
    expect(teams.status).toBe('needs_review');
    expect(teams.entraMatch?.skipped).toBe(teams.entraMatch?.unmatched);
    expect(teams.held?.wouldDelete).toBe(teams.entraMatch?.unmatched);
    expect(await ids('teams_users')).toEqual(before);
    await approveDeletes(engine, { runId: held.id, approvedBy: 'ops@test' });
    const left = await stored('teams_users');
    expect(left).toHaveLength(before.length - teams.entraMatch!.unmatched);
    for (const doc of left) expect((doc.data as { noEntraMatch: boolean }).noEntraMatch).toBe(false);
  });

  it('when the Graph users fail, Teams users are matched against the stored users, not all flagged', async () => {
    const storedUsers = new Set(await ids('users'));
    sim.graph.addFault({ kind: 'forbidden', path: '/users', times: 20 });
    try {
      const run = await sync('graph-down');
      expect(run.status).toBe('partial');
      expect(run.kinds.users?.status).toBe('failed');
      const teams = run.kinds.teams_users!;
      expect(teams.status).toBe('succeeded');
      const expected = teamsUsers(ds).filter(
        (u) => u.UsageLocation !== 'JP' && storedUsers.has(String(u.Identity)),
      ).length;
      expect(expected).toBeGreaterThan(0);
      expect(teams.entraMatch?.matched).toBe(expected);
      expect(teams.deleted).toBe(0);
      expect(await ids('users')).toEqual([...storedUsers].sort()); // a failed kind sweeps nothing
    } finally {
      sim.graph.setFaults([]);
    }
  });
});
