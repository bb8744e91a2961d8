import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGraphConnector } from '../../../connectors/graph/index.js';
import type { GraphSimulator } from '../../../simulators/graph/server.js';
import { testRedis, type TestRedis } from '../../support/services.js';
import { deleteBottleneckKeys, pullAll, startTenant, tenantFor } from './support/simulated-graph.js';

describe('per-tenant limiter shared through Redis', () => {
  let sim: GraphSimulator;
  let redis: TestRedis;
  beforeAll(async () => {
    sim = await startTenant({ users: 200 }, { latencyMs: 25 });
    redis = await testRedis('graphlimiter');
  });
  afterAll(async () => {
    await deleteBottleneckKeys(redis.redis, redis.prefix);
    await redis.close();
    await sim.close();
  });

  async function pullTwice(shared: boolean): Promise<number> {
    sim.clearLog();
    // Two connectors stand for two worker processes: separate limiters, separate Redis connections.
    const make = () =>
      createGraphConnector({
        tenant: tenantFor(sim, { msol_user_api_page_size: 20 }),
        ca: sim.ca,
        ...(shared ? { redis: redis.redis } : {}),
        limiter: {
          keyPrefix: `${redis.prefix}:${shared ? 'shared' : 'local'}`,
          maxConcurrent: 1,
          requestsPerSecond: 1000,
        },
      });
    const a = make();
    const b = make();
    try {
      const [x, y] = await Promise.all([pullAll(a.pages('users')), pullAll(b.pages('users'))]);
      expect(x.items).toHaveLength(200);
      expect(y.items).toHaveLength(200);
      expect(sim.requests.filter((r) => r.kind === 'graph')).toHaveLength(20);
      return sim.maxGraphInFlight();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }

  it('two processes together keep to the tenant limit of one request at a time', async () => {
    expect(await pullTwice(true)).toBe(1);
    const keys = await redis.redis.keys(`b_${redis.prefix}:shared:graph:*`);
    expect(keys.length).toBeGreaterThan(0);
  });

  it('without Redis each process has its own limit (the control)', async () => {
    expect(await pullTwice(false)).toBe(2);
  });
});
