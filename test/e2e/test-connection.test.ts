/**
 * `m365sync test-connection` through the real CLI against the simulated tenant: each failed check is
 * named for what failed (a missing endpoint, a missing permission, a failed sign-in) with what to do.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../support/cli.js';
import { startEngine, type Engine } from './support/engine.js';

describe('test-connection names what failed', { timeout: 120_000 }, () => {
  let engine: Engine;
  let env: NodeJS.ProcessEnv;
  let dir: string;

  beforeAll(async () => {
    engine = await startEngine('e2e-test-connection', {
      dataset: { seed: 31, users: 20 },
      enableExchange: true,
    });
    dir = await mkdtemp(join(tmpdir(), 'm365sync-test-connection-'));
    await writeFile(join(dir, 'graph-ca.pem'), engine.sim.ca);
    env = {
      ...engine.cliEnv('test-connection'),
      M365SYNC_GRAPH_CA_FILE: join(dir, 'graph-ca.pem'),
      M365SYNC_WINRM_SCHEME: 'http',
    };
    await engine.stores.tenants.add(engine.sim.tenantInput);
  }, 120_000);

  afterEach(() => engine.sim.graph.setFaults([]));

  afterAll(async () => {
    await engine?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const graphLine = (out: string) => out.split('\n').find((l) => /^\S+\s+graph\b/.test(l)) ?? '';
  /** The simulated tenant's connection, as startSimulatedTenant names it. */
  const name = 'demo.provider.contoso/Contoso Simulated';

  it('passes every check of a working tenant', async () => {
    const result = await cli(env, 'test-connection', name);
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    expect(graphLine(result.out)).toMatch(
      /^ok\s+graph\s.*\/organization, \/users, \/groups, \/subscribedSkus read/,
    );
    expect(result.out).toMatch(/^ok\s+teams\s/m);
    // Exchange signed in to the initial domain read from Graph (the simulated proxy accepts no other).
    expect(result.out).toMatch(/^ok\s+exchange\s.*signed in through .*; read 1 mailbox$/m);
  });

  it('measures each check: durationMs is the time it took (a slow Graph shows in Graph and Exchange)', async () => {
    // Each Graph read waits 100 ms: the Graph check (a token, then reads) and the Exchange check (the
    // initial domain from /organization) take at least that long; they were reported as 0 ms.
    engine.sim.graph.setLatency(100);
    try {
      const result = await cli(env, 'test-connection', name, '--json');
      expect(result.code, result.out).toBe(0);
      const checks = JSON.parse(result.out) as { check: string; durationMs: number }[];
      const of = (check: string) => checks.find((c) => c.check === check)!.durationMs;
      expect(of('graph')).toBeGreaterThanOrEqual(100);
      expect(of('exchange')).toBeGreaterThanOrEqual(100);
      expect(of('teams')).toBeGreaterThan(0);
    } finally {
      engine.sim.graph.setLatency(0);
    }
  });

  it('without the initial domain from Graph, says what Exchange is missing and what to grant', async () => {
    // Both the Graph check and the Exchange check read /organization.
    engine.sim.graph.setFaults([{ kind: 'forbidden', path: '/organization', times: 2 }]);
    const result = await cli(env, 'test-connection', name);
    expect(result.code).toBe(1);
    expect(graphLine(result.out)).toMatch(/PERMISSION: Graph returned 403 for \/organization/);
    expect(result.out).toMatch(
      /^FAIL\s+exchange\s.*CONFIGURATION: Exchange Online needs the tenant's initial \*\.onmicrosoft\.com domain for Connect-ExchangeOnline -Organization, and it is not known: .*Organization\.Read\.All/m,
    );
    expect(result.out).toMatch(/^ok\s+teams\s/m);
  });

  it('names a 404 as a missing endpoint and a 403 as a missing permission', async () => {
    engine.sim.graph.setFaults([
      { kind: 'notFound', path: '/subscribedSkus' },
      { kind: 'forbidden', path: '/groups' },
    ]);
    const result = await cli(env, 'test-connection', name);
    expect(result.code).toBe(1);
    const line = graphLine(result.out);
    expect(line).toMatch(/^FAIL\s+graph\s/);
    // The 404: a missing endpoint, pointing at the base URL and the cloud, not at a permission.
    expect(line).toMatch(
      /ENDPOINT_NOT_FOUND: Graph has no \/subscribedSkus at https:\/\/127\.0\.0\.1:\d+\/v1\.0 \(HTTP 404, Request_ResourceNotFound\): check Microsoft 365\.graph_base_url .* and Microsoft 365\.cloud \(global\)/,
    );
    expect(line).not.toMatch(/PERMISSION[^;]*subscribedSkus/);
    // The 403: the permission to grant.
    expect(line).toMatch(
      /PERMISSION: Graph returned 403 for \/groups .*grant the application permission Group\.Read\.All/,
    );
    // The other reads and Teams were fine, and are not blamed.
    expect(line).not.toMatch(/\/users|\/organization/);
    expect(result.out).toMatch(/^ok\s+teams\s/m);
  });

  it('names a rejected client secret as authentication', async () => {
    const input = structuredClone(engine.sim.tenantInput);
    input.Tenant = { name: 'Wrong secret' };
    input['Microsoft 365']!.client_secret = 'not-the-client-secret';
    await engine.stores.tenants.add(input);
    const result = await cli(env, 'test-connection', `${input.hierarchy}/Wrong secret`);
    expect(result.code).toBe(1);
    expect(graphLine(result.out)).toMatch(
      /^FAIL\s+graph\s.*AUTHENTICATION: Could not sign in to tenant .*AADSTS7000215.*Check Microsoft 365\.client_id, tenant_id and the client secret/,
    );
    expect(result.out).not.toContain('not-the-client-secret');
  });
});
