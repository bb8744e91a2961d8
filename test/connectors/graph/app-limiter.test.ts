import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGraphLimiters } from '../../../connectors/graph/limiter.js';
import { registry } from '../../../observability/metrics.js';
import { testRedis, type TestRedis } from '../../support/services.js';
import { deleteBottleneckKeys } from './support/simulated-graph.js';

/** Graph requests per application across tenants: one budget in Redis per client id. */
describe('per-application Graph budget shared through Redis', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await testRedis('graphapp');
  });
  afterAll(async () => {
    await deleteBottleneckKeys(redis.redis, redis.prefix);
    await redis.close();
  });

  async function appWaitCount(): Promise<number> {
    const text = await registry.getSingleMetricAsString('m365sync_graph_limiter_wait_seconds');
    const count = /m365sync_graph_limiter_wait_seconds_count\{[^}]*limit="app"[^}]*\} (\d+)/.exec(text);
    if (!count) throw new Error(`no app wait count in:\n${text}`);
    return Number(count[1]);
  }

  it('two tenants sharing one client id never start more than the budget per window together', async () => {
    const budget = 4;
    const windowMs = 500;
    const perTenant = 16;
    const options = {
      keyPrefix: redis.prefix,
      maxConcurrent: 16,
      requestsPerSecond: 1000,
      appRequestsPerWindow: budget,
      appWindowMs: windowMs,
    };
    const waitsBefore = await appWaitCount();
    // Two limiters, two Redis connections: two worker processes syncing two tenants of one app.
    const second = redis.redis.duplicate();
    const a = createGraphLimiters({ tenantId: 'tenant-a', clientId: 'shared-app' }, redis.redis, options);
    const b = createGraphLimiters({ tenantId: 'tenant-b', clientId: 'shared-app' }, second, options);
    const starts: number[] = [];
    try {
      const work = (limiter: typeof a) =>
        Array.from({ length: perTenant }, () =>
          limiter.schedule(async () => {
            starts.push(Date.now());
          }),
        );
      await Promise.all([...work(a), ...work(b)]);
    } finally {
      await Promise.all([a.close(), b.close()]);
      second.disconnect();
    }
    expect(starts).toHaveLength(2 * perTenant);
    starts.sort((x, y) => x - y);
    const first = starts[0]!;
    const total = 2 * perTenant;
    // Windows are multiples of windowMs on Redis's clock (this machine's). A request starts after it
    // was granted, so by first + k windows the grants came from at most k + 2 windows (the first start
    // may have been granted in the window before its own).
    for (let k = 1; k * windowMs <= starts.at(-1)! - first + windowMs; k++) {
      const started = starts.filter((t) => t < first + k * windowMs).length;
      expect(started).toBeLessThanOrEqual((k + 2) * budget);
    }
    // Together, 32 requests through 4 per window take at least 7 window ends (6 whole windows); a
    // budget per tenant would let them through in half the time.
    expect(starts.at(-1)! - first).toBeGreaterThanOrEqual((total / budget - 2) * windowMs);
    // Every request passed the app limit and its wait was observed.
    expect((await appWaitCount()) - waitsBefore).toBe(total);
    expect(await redis.redis.exists(`${redis.prefix}:graph-app:shared-app`)).toBe(1);
  });
});
