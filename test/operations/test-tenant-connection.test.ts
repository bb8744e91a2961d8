/**
 * "Test connection" of a stored tenant (operations/test-tenant-connection.ts) called directly, against
 * the simulated tenant (Graph, the Teams and Exchange PowerShell sides): every check passes for a
 * working tenant, each check is reported on its own with what failed (never a secret), and a tenant
 * whose destination is no longer allowed is refused before anything is contacted. (The same through
 * the CLI, with more failures named: test/e2e/test-connection.test.ts.)
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allowSimulatedTenant } from '../../cli/in-process.js';
import { ENCRYPTION_KEYS_VARIABLE, keyRingOf } from '../../connectors/mongo/encryption.js';
import { openStores, type Stores } from '../../connectors/mongo/stores.js';
import { DEFAULT_SETTINGS, type Settings } from '../../domain/settings.js';
import { testTenantConnection } from '../../operations/index.js';
import { startSimulatedTenant, type SimulatedTenant } from '../../simulators/m365.js';
import { startHttpCapture, type CaptureServer } from '../support/capture.js';
import { keyEntry } from '../support/keys.js';
import { testMongo, type TestMongo } from '../support/services.js';

describe('testing a stored tenant’s connection', { timeout: 120_000 }, () => {
  let sim: SimulatedTenant;
  let mongo: TestMongo;
  let stores: Stores;
  let settings: Settings;
  let dir: string;
  let tenantId: string;
  const captures: CaptureServer[] = [];

  beforeAll(async () => {
    sim = await startSimulatedTenant({ dataset: { seed: 5, users: 5 }, enableExchange: true });
    mongo = await testMongo('op_testconn');
    stores = await openStores(mongo.db, keyRingOf({ [ENCRYPTION_KEYS_VARIABLE]: keyEntry('k1') }));
    await allowSimulatedTenant(stores, sim);
    dir = await mkdtemp(join(tmpdir(), 'm365sync-op-testconn-'));
    await writeFile(join(dir, 'graph-ca.pem'), sim.ca);
    settings = {
      ...DEFAULT_SETTINGS,
      M365SYNC_GRAPH_CA_FILE: join(dir, 'graph-ca.pem'),
      M365SYNC_WINRM_SCHEME: 'http',
    };
    tenantId = (await stores.tenants.add(sim.tenantInput)).id;
  }, 120_000);
  afterAll(async () => {
    await Promise.all(captures.map((c) => c.close()));
    await sim?.close();
    await mongo?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('passes every check of a working tenant, each timed and saying what it read', async () => {
    const results = await testTenantConnection({ stores, settings }, { tenant: tenantId });
    expect(results.map((r) => [r.check, r.ok])).toEqual([
      ['graph', true],
      ['teams', true],
      ['exchange', true],
    ]);
    for (const r of results) expect(r.durationMs).toBeGreaterThan(0);
    expect(results[0]!.detail).toMatch(/^token and .* read/);
    expect(results[1]!.detail).toMatch(/^signed in through .*; read 1 Teams user$/);
    expect(results[2]!.detail).toMatch(/^signed in through .*; read \d+ mailbox/);
  });

  it('reports each check on its own: a rejected client secret fails Graph only, naming it, not the secret', async () => {
    const wrong = 'wrong-secret-value-0123';
    await stores.tenants.update(tenantId, { 'Microsoft 365': { client_secret: wrong } });
    try {
      const results = await testTenantConnection({ stores, settings }, { tenant: tenantId });
      const graph = results.find((r) => r.check === 'graph')!;
      expect(graph.ok).toBe(false);
      expect(graph.detail).toMatch(/^AUTHENTICATION: /);
      expect(JSON.stringify(results)).not.toContain(wrong);
      expect(results.find((r) => r.check === 'teams')?.ok).toBe(true);
    } finally {
      await stores.tenants.update(tenantId, sim.tenantInput);
    }
  });

  it('refuses a tenant whose destination is no longer allowed, before contacting anything at all', async () => {
    const listener = await startHttpCapture();
    captures.push(listener);
    await stores.destinations.allow('powershell', listener.host);
    await stores.tenants.update(tenantId, {
      'Microsoft Teams Powershell': {
        hostName: listener.host,
        proxyPassword: sim.tenantInput['Microsoft Teams Powershell']!.proxyPassword,
      },
      'Microsoft Teams': { tenantPassword: sim.tenantInput['Microsoft Teams']!.tenantPassword },
    });
    await stores.destinations.remove('powershell', listener.host);
    sim.graph.clearLog();
    try {
      await expect(testTenantConnection({ stores, settings }, { tenant: tenantId })).rejects.toThrow(
        /Microsoft Teams Powershell.hostName: .* is not an allowed destination/,
      );
      expect(listener.connections()).toBe(0);
      // Refused as a whole: not even the Graph check (whose destination is allowed) was made.
      expect(sim.graph.requests).toEqual([]);
    } finally {
      await stores.tenants.update(tenantId, sim.tenantInput);
    }
  });
});
