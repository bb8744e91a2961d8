/**
 * Memory stays flat whatever the tenant size: paging 100,000 users, the connector never holds more
 * than two pages (the one the caller has and the one fetched ahead). Counted two ways: the connector's
 * own live-page count, and pages the garbage collector has not reclaimed (FinalizationRegistry).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGraphConnector } from '../../../connectors/graph/index.js';
import type { GraphSimulator } from '../../../simulators/graph/server.js';
import { FAST, startTenant, tenantFor } from './support/simulated-graph.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('memory while paging 100,000 users', () => {
  let sim: GraphSimulator;
  beforeAll(async () => {
    sim = await startTenant({ users: 100_000, groups: 10, teams: 2 });
  }, 120_000);
  afterAll(async () => {
    await sim.close();
  });

  it('holds at most two pages at once', { timeout: 180_000 }, async () => {
    const connector = createGraphConnector({
      tenant: tenantFor(sim, { msol_user_api_page_size: 999 }),
      ca: sim.ca,
      limiter: FAST,
    });
    let alive = 0;
    let maxAliveAfterGc = 0;
    const registry = new FinalizationRegistry<void>(() => {
      alive--;
    });
    const seen = new Set<string>();
    let pages = 0;
    try {
      for await (const page of connector.pages('users')) {
        pages++;
        alive++;
        registry.register(page);
        for (const user of page) seen.add(user.id as string);
        expect(connector.stats.livePages).toBeLessThanOrEqual(2);
        // A caller that sometimes takes longer than a fetch (a slow database write): the page fetched
        // ahead arrives meanwhile, and the connector must still not run further ahead.
        await new Promise((r) => setTimeout(r, pages % 5 === 0 ? 100 : 1));
        if (pages % 10 === 0) {
          // Finalizers run after a collection, on a later turn of the event loop; on a loaded
          // machine that can take a few turns, so collect and yield a few times before counting.
          for (let i = 0; i < 5; i++) {
            gc();
            await new Promise((r) => setTimeout(r, 5));
          }
          // This page is still referenced here, plus at most one fetched ahead: anything more leaked.
          maxAliveAfterGc = Math.max(maxAliveAfterGc, alive);
        }
      }
    } finally {
      await connector.close();
    }
    expect(seen.size).toBe(100_000);
    expect(pages).toBe(Math.ceil(100_000 / 999));
    expect(connector.stats.maxLivePages).toBe(2); // one fetched ahead: bounded, and the prefetch is real
    expect(connector.stats.livePages).toBe(0);
    expect(maxAliveAfterGc).toBeGreaterThan(0);
    expect(maxAliveAfterGc).toBeLessThanOrEqual(3);
  });
});
