/**
 * The simulator speaks Graph's paging the way the official client expects it: the Graph SDK's own
 * PageIterator pages it to the end. The client is built with a middleware chain without RetryHandler,
 * the way an SDK-based connector would have to build it to keep a single retry layer.
 */
import {
  AuthenticationHandler,
  Client,
  HTTPMessageHandler,
  PageIterator,
  type PageCollection,
} from '@microsoft/microsoft-graph-client';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphSimulator } from '../../../simulators/graph/server.js';
import { CLIENT_ID, CLIENT_SECRET, startTenant } from './support/simulated-graph.js';

describe('simulated Graph with the Graph SDK PageIterator', () => {
  let sim: GraphSimulator;
  let dispatcher: Agent;
  beforeAll(async () => {
    sim = await startTenant({ users: 523, groups: 30, teams: 9 });
    dispatcher = new Agent({ connect: { ca: sim.ca } });
  });
  afterAll(async () => {
    await dispatcher.close();
    await sim.close();
  });

  async function token(): Promise<string> {
    const res = await request(`${sim.authorityHost}/${sim.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        scope: `${sim.url}/.default`,
      }).toString(),
    });
    expect(res.statusCode).toBe(200);
    return ((await res.body.json()) as { access_token: string }).access_token;
  }

  it('pages /users and the teams filter to the end', async () => {
    const accessToken = await token();
    const auth = new AuthenticationHandler({ getAccessToken: async () => accessToken });
    auth.setNext(new HTTPMessageHandler());
    const client = Client.initWithMiddleware({
      middleware: auth,
      baseUrl: sim.url,
      customHosts: new Set([new URL(sim.url).hostname]),
      fetchOptions: { dispatcher } as unknown as RequestInit, // undici dispatcher for Node fetch
    });
    sim.clearLog();

    const first = (await client.api('/users').top(50).select('id,displayName').get()) as PageCollection;
    const ids: string[] = [];
    const iterator = new PageIterator(client, first, (user: { id: string }) => {
      ids.push(user.id);
      return true;
    });
    await iterator.iterate();
    expect(iterator.isComplete()).toBe(true);
    expect(ids.length).toBe(523);
    expect(new Set(ids)).toEqual(new Set(sim.dataset().users.map((u) => u.id)));
    const graph = sim.requests.filter((r) => r.kind === 'graph');
    expect(graph.length).toBe(Math.ceil(523 / 50));
    expect(graph.every((r) => r.status === 200 && r.top === '50')).toBe(true);

    const teams = (await client
      .api('/groups')
      .filter("resourceProvisioningOptions/Any(x:x eq 'Team')")
      .top(2)
      .select('id')
      .get()) as PageCollection;
    const teamIds: string[] = [];
    await new PageIterator(client, teams, (g: { id: string }) => {
      teamIds.push(g.id);
      return true;
    }).iterate();
    expect(teamIds.sort()).toEqual(
      sim
        .dataset()
        .groups.filter((g) => g.resourceProvisioningOptions.includes('Team'))
        .map((g) => g.id)
        .sort(),
    );
  });

  it('answers $top=1000 with the 400 Graph gives', async () => {
    const accessToken = await token();
    const res = await request(`${sim.url}/v1.0/users?$top=1000`, {
      dispatcher,
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(res.statusCode).toBe(400);
    const body = (await res.body.json()) as { error: { code: string; message: string } };
    expect(body.error.message).toBe(
      "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive.",
    );
    const noToken = await request(`${sim.url}/v1.0/users`, { dispatcher });
    expect(noToken.statusCode).toBe(401);
    await noToken.body.dump();
    const defaultPage = await request(`${sim.url}/v1.0/users`, {
      dispatcher,
      headers: { authorization: `Bearer ${accessToken}` },
    });
    const page = (await defaultPage.body.json()) as {
      value: Record<string, unknown>[];
      '@odata.nextLink': string;
    };
    expect(page.value).toHaveLength(100);
    expect(page['@odata.nextLink']).toMatch(/\$skiptoken=/);
    expect(Object.keys(page.value[0]!)).not.toContain('assignedLicenses'); // not in Graph's default set
  });
});
