import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGraphConnector } from '../../../connectors/graph/index.js';
import type { GraphSimulator } from '../../../simulators/graph/server.js';
import { FAST, pullAll, startTenant, tenantFor } from './support/simulated-graph.js';

describe('Graph paging against the simulated tenant (real HTTPS)', () => {
  let sim: GraphSimulator;
  beforeAll(async () => {
    sim = await startTenant({ users: 1234, groups: 60, teams: 17 });
  });
  afterAll(async () => {
    await sim.close();
  });

  it.each([1, 7, 100, 999, undefined])('every user arrives exactly once with page size %s', async (size) => {
    const tenant = tenantFor(sim, size === undefined ? {} : { msol_user_api_page_size: size });
    const connector = createGraphConnector({ tenant, ca: sim.ca, limiter: FAST });
    sim.clearLog();
    try {
      const { items, pageSizes } = await pullAll(connector.pages('users'));
      const expected = sim.dataset().users.map((u) => u.id);
      const ids = items.map((u) => u.id as string);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.sort()).toEqual([...expected].sort());
      const top = size ?? 999;
      expect(pageSizes.every((n) => n <= top)).toBe(true);
      expect(pageSizes.length).toBe(Math.ceil(expected.length / top));
      const graphRequests = sim.requests.filter((r) => r.kind === 'graph');
      expect(graphRequests.length).toBe(pageSizes.length);
      expect(graphRequests.every((r) => r.top === String(top) && r.status === 200)).toBe(true);
      // kept fields only, and no OData annotations
      expect(Object.keys(items[0]!).sort()).toContain('assignedLicenses');
      expect(Object.keys(items[0]!).some((k) => k.includes('@'))).toBe(false);
    } finally {
      await connector.close();
    }
  });

  it('groups, teams and licences arrive exactly once with the groups page size', async () => {
    const tenant = tenantFor(sim, { groups_api_page_size: 7 });
    const connector = createGraphConnector({ tenant, ca: sim.ca, limiter: FAST });
    sim.clearLog();
    try {
      const groups = await pullAll(connector.pages('groups'));
      expect(groups.items.map((g) => g.id).sort()).toEqual(
        sim
          .dataset()
          .groups.map((g) => g.id)
          .sort(),
      );
      const teams = await pullAll(connector.pages('teams'));
      const expectedTeams = sim
        .dataset()
        .groups.filter((g) => g.resourceProvisioningOptions.includes('Team'));
      expect(expectedTeams.length).toBe(17);
      expect(teams.items.map((g) => g.id).sort()).toEqual(expectedTeams.map((g) => g.id).sort());
      const licences = await pullAll(connector.pages('licences'));
      expect(licences.items.map((s) => s.skuId).sort()).toEqual(
        sim
          .dataset()
          .skus.map((s) => s.skuId)
          .sort(),
      );
      expect(licences.items[0]).toHaveProperty('servicePlans');
      const groupRequests = sim.requests.filter((r) => r.path === '/v1.0/groups');
      expect(groupRequests.every((r) => r.top === '7')).toBe(true);
      expect(sim.requests.find((r) => r.path === '/v1.0/subscribedSkus')?.top).toBeUndefined();
    } finally {
      await connector.close();
    }
  });

  it('follows empty pages to the end', async () => {
    const connector = createGraphConnector({
      tenant: tenantFor(sim, { msol_user_api_page_size: 500 }),
      ca: sim.ca,
      limiter: FAST,
    });
    sim.setFaults([{ kind: 'emptyPage', path: '/users', times: 3 }]);
    try {
      const { items, pageSizes } = await pullAll(connector.pages('users'));
      expect(pageSizes.filter((n) => n === 0).length).toBe(3);
      expect(new Set(items.map((u) => u.id)).size).toBe(1234);
      expect(items.length).toBe(1234);
    } finally {
      sim.setFaults([]);
      await connector.close();
    }
  });
});
