/**
 * The full pull's wiring of the sessions-per-account limit (workers/full-pull.ts with Redis, as the
 * worker command makes it): a Teams script waits, with no shell open, while its account's sessions
 * are all taken by another process, proceeds when one frees, and gives its session back at its end.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allowSimulatedTenant } from '../../cli/in-process.js';
import { ENCRYPTION_KEYS_VARIABLE, keyRingOf } from '../../connectors/mongo/encryption.js';
import { openStores, type Stores } from '../../connectors/mongo/stores.js';
import {
  powershellSessionAccount,
  powershellSessionsKey,
} from '../../connectors/powershell/session-account.js';
import { FleetShellSlots } from '../../connectors/winrm/fleet-shell-slots.js';
import { parseSettings } from '../../domain/settings.js';
import type { Tenant } from '../../domain/tenant.js';
import { startSimulatedTenant, type SimulatedTenant } from '../../simulators/m365.js';
import { createFullPull } from '../../workers/full-pull.js';
import type { RunContext } from '../../workers/processor.js';
import { keyEntry } from '../support/keys.js';
import { countSlotRefusals } from '../support/slot-refusals.js';
import { testMongo, testRedis, type TestMongo, type TestRedis } from '../support/services.js';
import { eventually, quietLogger } from './support/harness.js';

describe('the full pull holds a session of its sign-in account', () => {
  let sim: SimulatedTenant;
  let mongo: TestMongo;
  let redis: TestRedis;
  let stores: Stores;
  let tenant: Tenant;
  const clients: Redis[] = [];
  const connect = () => {
    const r = new Redis(redis.url, { maxRetriesPerRequest: null });
    clients.push(r);
    return r;
  };

  beforeAll(async () => {
    sim = await startSimulatedTenant({ dataset: { users: 10 }, proxies: 1 });
    mongo = await testMongo('full-pull-sessions');
    redis = await testRedis('full-pull-sessions');
    stores = await openStores(mongo.db, keyRingOf({ [ENCRYPTION_KEYS_VARIABLE]: keyEntry('k1') }));
    await allowSimulatedTenant(stores, sim);
    tenant = await stores.tenants.add(sim.tenantInput);
  });

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await sim?.close();
    await redis?.close();
    await mongo?.close();
  });

  it('waits with no shell open while the account is busy, then runs and releases its session', async () => {
    const key = powershellSessionsKey(redis.prefix, powershellSessionAccount('Microsoft Teams', tenant)!);
    // The full pull's Redis connection, watched: the test knows when the run waits for a session.
    const pullRedis = connect();
    const refusals = countSlotRefusals(pullRedis, key);
    const fullPull = createFullPull({
      stores,
      redis: pullRedis,
      graph: { ca: sim.ca, limiter: { keyPrefix: redis.prefix } },
      winrm: { scheme: 'http', affinityKey: 'sessions-test' },
      settings: parseSettings({ M365SYNC_POWERSHELL_SESSIONS_PER_ACCOUNT: '1' }),
      logger: quietLogger,
    });
    // Another worker holds the Teams service account's only session.
    const other = new FleetShellSlots(connect(), key, { limit: 1 });
    const releaseOther = await other.acquire();

    const written: Record<string, number> = {};
    const recorded: Record<string, string> = {};
    const ctx = {
      runId: 'run-sessions-1',
      tenant: { id: tenant.id, hierarchy: tenant.hierarchy },
      kinds: ['dial_plans'],
      logger: quietLogger,
      writePage: async (kind: string, objects: readonly unknown[]) => {
        written[kind] = (written[kind] ?? 0) + objects.length;
        return { created: objects.length, updated: 0, unchanged: 0 };
      },
      guardedSweep: async () => ({ deleted: 0 }),
      progress: async () => {},
      recordKind: async (kind: string, result: { status: string }) => void (recorded[kind] = result.status),
      prepare: async () => {},
      seen: async () => false,
      signal: new AbortController().signal,
    } as unknown as RunContext;
    const run = fullPull.processor(ctx);

    // Refused twice: the script is waiting for the session, past its first try.
    await eventually(async () => refusals() >= 2, 10_000);
    expect(sim.proxies[0]!.counters.shellsCreated).toBe(0);
    expect(recorded).toEqual({});

    releaseOther();
    const summary = await run;
    expect(summary.kinds.dial_plans?.status).toBe('succeeded');
    expect(written.dial_plans).toBeGreaterThan(0);
    expect(sim.proxies[0]!.counters.shellsCreated).toBe(1);
    const r = connect();
    await eventually(async () => (await r.zcard(key)) === 0, 10_000);
    await fullPull.close();
  }, 60_000);
});
