/**
 * Exchange signs in to the tenant's initial *.onmicrosoft.com domain, read from Graph during the sync
 * and kept with the tenant's sync state; the simulated proxy accepts only that domain as -Organization,
 * as Microsoft documents the parameter. Without it, the Exchange kinds fail saying what is missing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantSyncStateStore } from '../../connectors/mongo/sync-state.js';
import { startEngine, type Engine } from './support/engine.js';

const EXCHANGE = ['mailboxes', 'distribution_groups'];

describe('the Exchange organization', { timeout: 180_000 }, () => {
  let engine: Engine;
  let states: TenantSyncStateStore;

  beforeAll(async () => {
    engine = await startEngine('e2e-exchange-org', {
      dataset: { seed: 51, users: 30 },
      enableExchange: true,
    });
    states = new TenantSyncStateStore(engine.mongo.db);
  }, 120_000);

  afterAll(async () => engine?.close());

  const addTenant = async (name: string) => {
    const input = structuredClone(engine.sim.tenantInput);
    input.Tenant = { name };
    return (await engine.stores.tenants.add(input)).id;
  };

  it('is the initial domain read from Graph, kept with the sync state, and used when Graph cannot say', async () => {
    const tenantId = await addTenant('Initial domain');
    const initial = engine.sim.dataset().initialDomain;
    expect(initial).toMatch(/\.onmicrosoft\.com$/);
    expect(await states.get(tenantId)).toBeNull();

    const first = await engine.sync(tenantId, 'org-test');
    expect(first.status).toBe('succeeded');
    for (const kind of EXCHANGE) {
      expect(first.kinds[kind]?.status, kind).toBe('succeeded');
      expect(first.kinds[kind]?.created, kind).toBeGreaterThan(0);
    }
    expect(await states.get(tenantId)).toMatchObject({ exchangeOrganization: initial });
    // The operator's connection is not where it is kept.
    expect(
      JSON.stringify(
        await engine.mongo.db.collection('tenants').findOne({ Tenant: { name: 'Initial domain' } }),
      ),
    ).not.toContain(initial);

    // Graph refuses /organization this time: the kept domain signs Exchange in.
    engine.sim.graph.setFaults([{ kind: 'forbidden', path: '/organization' }]);
    try {
      const second = await engine.sync(tenantId, 'org-test', EXCHANGE);
      expect(engine.sim.graph.pendingFaults()).toBe(0);
      expect(second.status).toBe('succeeded');
      for (const kind of EXCHANGE) expect(second.kinds[kind]?.status, kind).toBe('succeeded');
    } finally {
      engine.sim.graph.setFaults([]);
    }
  });

  it('unknown, fails the Exchange kinds naming what is missing and what to do; the rest syncs', async () => {
    const tenantId = await addTenant('No initial domain');
    engine.sim.graph.setFaults([{ kind: 'forbidden', path: '/organization' }]);
    try {
      const run = await engine.sync(tenantId, 'org-test');
      expect(engine.sim.graph.pendingFaults()).toBe(0);
      expect(run.status).toBe('partial');
      for (const kind of EXCHANGE) {
        expect(run.kinds[kind], kind).toMatchObject({ status: 'failed', error: { code: 'CONFIGURATION' } });
        const message = run.kinds[kind]!.error!.message;
        expect(message).toMatch(
          /initial \*\.onmicrosoft\.com domain for Connect-ExchangeOnline -Organization/,
        );
        expect(message).toContain('PERMISSION: Graph returned 403 for /organization');
        expect(message).toContain('Organization.Read.All');
        expect(message).toContain('no earlier sync kept it');
      }
      for (const kind of ['users', 'groups', 'teams_users'])
        expect(run.kinds[kind]?.status, kind).toBe('succeeded');
      expect(await states.get(tenantId)).toBeNull();
    } finally {
      engine.sim.graph.setFaults([]);
    }
  });
});
