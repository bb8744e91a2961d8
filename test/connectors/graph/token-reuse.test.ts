/**
 * The token cache's reuse path, with the production renewal margin (5 minutes): the simulated Graph
 * issues tokens that live 303 s, so a token is within its margin two to three seconds after it was issued.
 * Until then every request reuses it; then it is renewed once, before Graph ever rejects it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createGraphConnector,
  GRAPH_DEFAULTS,
  type GraphConnector,
} from '../../../connectors/graph/index.js';
import { graphTokenRenewals } from '../../../connectors/graph/metrics.js';
import type { GraphSimulator } from '../../../simulators/graph/server.js';
import { FAST, pullAll, startTenant, tenantFor } from './support/simulated-graph.js';

const MARGIN_S = GRAPH_DEFAULTS.refreshMarginMs / 1000; // TokenSource's default
const LIFETIME_S = MARGIN_S + 3;

async function renewals(reason: string): Promise<number> {
  const { values } = await graphTokenRenewals.get();
  return values.filter((v) => v.labels.reason === reason).reduce((n, v) => n + v.value, 0);
}

describe('the access token cache', () => {
  let sim: GraphSimulator;
  let connector: GraphConnector;
  beforeAll(async () => {
    sim = await startTenant({ users: 10 }, { tokenLifetimeSeconds: LIFETIME_S });
  });
  afterAll(async () => {
    await connector?.close();
    await sim.close();
  });

  it('reuses a token across requests until its renewal margin, then renews it once', async () => {
    connector = createGraphConnector({ tenant: tenantFor(sim), ca: sim.ca, limiter: FAST });
    const expiringBefore = await renewals('expiring');
    const tokenRequests = () => sim.requests.filter((r) => r.kind === 'token');

    // Read /subscribedSkus (one request each) until the token has been renewed, polling every 100 ms.
    const deadline = Date.now() + 30_000;
    while (tokenRequests().length < 2) {
      if (Date.now() > deadline) throw new Error('the token was never renewed');
      expect((await pullAll(connector.pages('licences'))).items.length).toBeGreaterThan(0);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // A few more reads after the renewal use the new token.
    for (let i = 0; i < 2; i++) await pullAll(connector.pages('licences'));

    const [first, second, ...more] = tokenRequests();
    expect(more).toEqual([]);
    expect(first!.status).toBe(200);
    expect(second!.status).toBe(200);
    const graph = sim.requests.filter((r) => r.kind === 'graph');
    // Every read succeeded: the token was renewed before it expired, never after a 401.
    expect(graph.every((r) => r.status === 200)).toBe(true);
    const beforeRenewal = graph.filter((r) => r.seq < second!.seq);
    const afterRenewal = graph.filter((r) => r.seq > second!.seq);
    expect(beforeRenewal.length).toBeGreaterThan(1);
    expect(afterRenewal.length).toBeGreaterThanOrEqual(2);
    // Not renewed early: the first token (exp = issue second + LIFETIME_S) reached its margin first.
    expect(second!.at).toBeGreaterThanOrEqual(
      Math.floor(first!.at / 1000) * 1000 + (LIFETIME_S - MARGIN_S) * 1000,
    );
    // One token obtained for expiry (the metric counts tokens obtained, not calls into the credential).
    expect((await renewals('expiring')) - expiringBefore).toBe(1);
  });
});
