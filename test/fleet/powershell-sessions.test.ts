import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetShellSlots } from '../../connectors/winrm/fleet-shell-slots.js';
import type { ProxyPool } from '../../connectors/winrm/proxy-pool.js';
import {
  powershellSessionAccount,
  powershellSessionsKey,
} from '../../connectors/powershell/session-account.js';
import { DEFAULT_SETTINGS } from '../../domain/settings.js';
import { SyncError } from '../../domain/errors.js';
import { validateTenant } from '../../domain/tenant.js';
import { generateDataset } from '../../simulators/dataset.js';
import { validTenantInput } from '../../simulators/example-tenant.js';
import { SIMULATED_CREDENTIALS } from '../../simulators/m365.js';
import { SessionCounter } from '../../simulators/powershell/session-counter.js';
import { createTenantScriptHost } from '../../simulators/powershell/tenant-host.js';
import { startWinRmSimulator, type WinRmSimulator } from '../../simulators/winrm/server.js';
import { powershellSessions } from '../../workers/powershell-sessions.js';
import type { KindRun } from '../../workers/steps/kind-run.js';
import { runPowerShellStep } from '../../workers/steps/powershell-step.js';
import { powershellOutputLimits } from '../../connectors/powershell/config.js';
import { testEnv } from '../support/env.js';
import { uniqueName } from '../support/services.js';
import { countSlotRefusals } from '../support/slot-refusals.js';
import { eventually } from '../workers/support/harness.js';
import { expectNoShellLeft } from '../connectors/winrm/support/simulated-proxy.js';
import { runFleetWorker } from './support/fleet-worker.js';

const c = SIMULATED_CREDENTIALS;

/**
 * Concurrent PowerShell sessions per sign-in account, held across processes (the same leased Redis
 * semaphore as the shells per proxy), counted by the simulated tenant from each Connect-* to the end
 * of its script.
 */
describe('PowerShell sessions per account across the fleet', () => {
  const redisUrl = testEnv().redisUrl;
  const redises: Redis[] = [];
  const prefix = uniqueName('fleet-sessions');
  const dataset = generateDataset({ users: 20, seed: 22 });
  const sessions = new SessionCounter();
  let sim: WinRmSimulator;

  const connect = () => {
    const r = new Redis(redisUrl, { maxRetriesPerRequest: null });
    redises.push(r);
    return r;
  };

  beforeAll(async () => {
    sim = await startWinRmSimulator({
      hostName: 'PSPROXY-SESSIONS',
      accounts: [{ username: c.proxyUsername, password: c.proxyPassword }],
      scriptHost: createTenantScriptHost({
        dataset,
        teamsAccounts: [{ username: c.teamsUsername, password: c.teamsPassword }],
        certificateThumbprints: [c.exchangeThumbprint],
        // About half a second per script: long enough for sessions to overlap.
        objectsPerSecond: 50,
        sessions,
      }),
    });
  });

  afterAll(async () => {
    await sim.close();
    const r = connect();
    const keys = await r.keys(`${prefix}*`);
    if (keys.length) await r.del(...keys);
    for (const client of redises) client.disconnect();
  });

  const teamsAccount = `teams:${c.teamsUsername}`;
  const exchangeAccount = `exchange:${c.clientId}@${dataset.initialDomain.toLowerCase()}`;

  it.each([1, 2])(
    'three worker processes sharing one account never hold more than %i sessions of it, and waiters proceed',
    async (limit) => {
      const keyPrefix = `${prefix}:limit${limit}`;
      const tenantsPerWorker = 3;
      const before = {
        teams: sessions.opened.get(teamsAccount) ?? 0,
        exchange: sessions.opened.get(exchangeAccount) ?? 0,
      };
      sessions.resetPeaks();
      const run = (id: number) =>
        runFleetWorker<{ done: number; failed: unknown[]; waitedSeconds: number }>('session-worker.ts', id, {
          REDIS_URL: redisUrl,
          FLEET_KEY_PREFIX: keyPrefix,
          FLEET_LIMIT: String(limit),
          FLEET_PROXY_PORT: String(sim.port),
          FLEET_PROXY_USER: c.proxyUsername,
          FLEET_PROXY_PASSWORD: c.proxyPassword,
          FLEET_TENANT_ID: dataset.tenantId,
          FLEET_ORGANIZATION: dataset.initialDomain,
          FLEET_CLIENT_ID: c.clientId,
          FLEET_TEAMS_USER: c.teamsUsername,
          FLEET_TEAMS_PASSWORD: c.teamsPassword,
          FLEET_THUMBPRINT: c.exchangeThumbprint,
          FLEET_TENANTS: String(tenantsPerWorker),
        });
      const results = await Promise.all([run(1), run(2), run(3)]);
      // Every script of every process ran to its end: waiters got a session each time one ended.
      for (const r of results) {
        expect(r.failed).toEqual([]);
        expect(r.done).toBe(2 * tenantsPerWorker);
      }
      expect((sessions.opened.get(teamsAccount) ?? 0) - before.teams).toBe(3 * tenantsPerWorker);
      expect((sessions.opened.get(exchangeAccount) ?? 0) - before.exchange).toBe(3 * tenantsPerWorker);
      // The tenant's own count of concurrent sessions per account never passed the fleet's limit.
      expect(sessions.peak(teamsAccount)).toBe(limit);
      expect(sessions.peak(exchangeAccount)).toBe(limit);
      // Nine scripts per account through `limit` slots: some waited, and the wait metric saw it.
      expect(results.reduce((n, r) => n + r.waitedSeconds, 0)).toBeGreaterThan(0);
      // Every slot was given back.
      const r = connect();
      for (const account of [
        powershellSessionAccount('Microsoft Teams', tenant())!,
        powershellSessionAccount('Exchange Online', tenant())!,
      ])
        await eventually(
          async () => (await r.zcard(powershellSessionsKey(keyPrefix, account))) === 0,
          10_000,
        );
      expectNoShellLeft(sim);
    },
    120_000,
  );

  it('a cancelled run stops waiting for a session and opens no shell', async () => {
    const keyPrefix = `${prefix}:cancel`;
    const t = tenant();
    const account = powershellSessionAccount('Microsoft Teams', t)!;
    // Another process holds the account's only session.
    const holder = new FleetShellSlots(connect(), powershellSessionsKey(keyPrefix, account), { limit: 1 });
    const releaseHolder = await holder.acquire();
    const sessionRedis = connect();
    const refusals = countSlotRefusals(sessionRedis, powershellSessionsKey(keyPrefix, account));
    const sessionsFor = powershellSessions({
      redis: sessionRedis,
      prefix: keyPrefix,
      limit: 1,
      pollMaxMs: 50,
      registry: new Registry(),
    });
    let executed = 0;
    const pool = {
      execute: () => {
        executed++;
        throw new Error('no shell may open without a session');
      },
    } as unknown as ProxyPool;
    const failures: unknown[] = [];
    const controller = new AbortController();
    const step = runPowerShellStep({
      acquireSession: sessionsFor('Microsoft Teams', t)!,
      application: 'Microsoft Teams',
      script: '# not run',
      kinds: ['teams_users'],
      pool,
      start: () =>
        ({
          settled: false,
          write: async () => {},
          fail: async (error: unknown) => void failures.push(error),
        }) as unknown as KindRun,
      signal: controller.signal,
      secrets: [],
      batchSize: 100,
      deadlineMs: 10_000,
      output: powershellOutputLimits(DEFAULT_SETTINGS),
      logger: pino({ level: 'silent' }),
    });
    // Refused twice: the step is waiting for the session, past its first try.
    await eventually(async () => refusals() >= 2, 10_000);
    expect(failures).toEqual([]);
    controller.abort();
    await step;
    expect(executed).toBe(0);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toBeInstanceOf(SyncError);
    expect((failures[0] as SyncError).code).toBe('CANCELLED');
    releaseHolder();
  }, 30_000);

  function tenant() {
    return validateTenant(
      validTenantInput({
        'Microsoft Teams': { tenantUsername: c.teamsUsername, tenantPassword: c.teamsPassword },
        'Microsoft 365': { client_id: c.clientId, tenant_id: dataset.tenantId },
      }),
    );
  }
});
