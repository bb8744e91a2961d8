/**
 * Counts describe objects, not deliveries (issue 11 item 2): when Graph says a page token expired, the
 * collection starts again from its first page and the pages before are delivered twice; each object
 * still counts once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registry } from '../../observability/metrics.js';
import { startEngine, type Engine } from './support/engine.js';

describe('a Graph collection restarted after an expired page token', { timeout: 180_000 }, () => {
  let engine: Engine;
  let tenantId: string;
  const USERS = 250;

  beforeAll(async () => {
    engine = await startEngine('e2e-restart', { dataset: { seed: 5, users: USERS } });
    const input = structuredClone(engine.sim.tenantInput);
    // Pages of 40: the third next link expires, so the first pages come twice.
    input['Microsoft 365'] = { ...input['Microsoft 365'], msol_user_api_page_size: 40 };
    tenantId = (await engine.stores.tenants.add(input)).id;
  }, 120_000);

  afterAll(async () => engine?.close());

  const restarts = async () => {
    const metric = (await registry.getSingleMetric('m365sync_graph_page_token_restarts_total')?.get())
      ?.values;
    return (metric ?? []).reduce((sum, v) => sum + v.value, 0);
  };

  const restartedSync = async (label: string) => {
    // The first next link expires: page 1 was delivered, the collection restarts, page 1 comes again.
    const restartsBefore = await restarts();
    engine.sim.graph.setFaults([{ kind: 'expiredPageToken', path: '/users', page: 'next', times: 1 }]);
    try {
      const run = await engine.sync(tenantId, label);
      expect(await restarts()).toBe(restartsBefore + 1);
      return run;
    } finally {
      engine.sim.graph.setFaults([]);
    }
  };

  it('counts each user once on a first sync and on an unchanged re-sync', async () => {
    const first = await restartedSync('first');
    expect(first.status).toBe('succeeded');
    expect(first.kinds.users).toMatchObject({ created: USERS, updated: 0, unchanged: 0, deleted: 0 });
    expect(await engine.mongo.db.collection('users').countDocuments({ tenantId })).toBe(USERS);

    const again = await restartedSync('again');
    expect(again.status).toBe('succeeded');
    expect(again.kinds.users).toMatchObject({ created: 0, updated: 0, unchanged: USERS, deleted: 0 });
  });
});
