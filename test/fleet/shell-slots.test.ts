import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetShellSlots, fleetShellSlotsKey } from '../../connectors/winrm/fleet-shell-slots.js';
import { SyncError } from '../../domain/errors.js';
import type { WinRmSimulator } from '../../simulators/winrm/server.js';
import { testEnv } from '../support/env.js';
import { uniqueName } from '../support/services.js';
import { silentServer } from '../support/silent-server.js';
import { eventually } from '../workers/support/harness.js';
import { runFleetWorker } from './support/fleet-worker.js';
import {
  expectNoShellLeft,
  PROXY_PASSWORD,
  PROXY_USER,
  simulator,
} from '../connectors/winrm/support/simulated-proxy.js';

/** Shells per PowerShell proxy, held across processes by FleetShellSlots in the shared Redis. */
describe('shells per proxy across the fleet', () => {
  const redisUrl = testEnv().redisUrl;
  const redises: Redis[] = [];
  let sim: WinRmSimulator;
  const prefix = uniqueName('fleet-shells');

  const connect = () => {
    const r = new Redis(redisUrl, { maxRetriesPerRequest: null });
    redises.push(r);
    return r;
  };

  beforeAll(async () => {
    sim = await simulator({ hostName: 'PSPROXY-FLEET' });
  });

  afterAll(async () => {
    await sim.close();
    const r = connect();
    const keys = await r.keys(`${prefix}*`);
    if (keys.length) await r.del(...keys);
    for (const c of redises) c.disconnect();
  });

  it('three worker processes never open more than the limit on one proxy, and waiters proceed', async () => {
    const limit = 2;
    const perWorker = 3;
    const run = (id: number) =>
      runFleetWorker<{ done: number; waitedSeconds: number }>('shell-worker.ts', id, {
        REDIS_URL: redisUrl,
        FLEET_KEY_PREFIX: `${prefix}:procs`,
        FLEET_PROXY_PORT: String(sim.port),
        FLEET_LIMIT: String(limit),
        FLEET_USER: PROXY_USER,
        FLEET_PASSWORD: PROXY_PASSWORD,
        FLEET_COMMANDS: String(perWorker),
        FLEET_SLEEP_MS: '400',
      });
    const results = await Promise.all([run(1), run(2), run(3)]);
    // Every command of every process ran: the waiting ones got a slot each time one freed.
    expect(results.map((r) => r.done)).toEqual([perWorker, perWorker, perWorker]);
    expect(sim.counters.shellsCreated).toBe(3 * perWorker);
    // The proxy's own count of concurrent shells never passed the fleet's limit.
    expect(sim.counters.peakOpenShells).toBe(limit);
    // Nine commands through two slots: some waited, and the wait metric saw it.
    expect(results.reduce((n, r) => n + r.waitedSeconds, 0)).toBeGreaterThan(0);
    expectNoShellLeft(sim);
  }, 120_000);

  it('a waiter in another process takes the slot as soon as its holder releases it', async () => {
    const key = fleetShellSlotsKey(prefix, 'handoff:5985');
    const a = new FleetShellSlots(connect(), key, { limit: 1, pollMaxMs: 50 });
    const b = new FleetShellSlots(connect(), key, { limit: 1, pollMaxMs: 50 });
    const releaseA = await a.acquire();
    let releaseB: (() => void) | undefined;
    const waiting = b.acquire().then((r) => (releaseB = r));
    await eventually(async () => b.waiting === 1, 10_000);
    // Still waiting while A holds the only slot (A's slot is in Redis, one member).
    expect(await connect().zcard(key)).toBe(1);
    expect(releaseB).toBeUndefined();
    releaseA();
    await waiting;
    expect(b.inUse).toBe(1);
    releaseB!();
    const r = connect();
    await eventually(async () => (await r.zcard(key)) === 0, 10_000);
  }, 30_000);

  it("frees a dead worker's slot when its lease lapses", async () => {
    const key = fleetShellSlotsKey(prefix, 'dead:5985');
    const deadRedis = connect();
    const dead = new FleetShellSlots(deadRedis, key, { limit: 1, leaseMs: 1000 });
    await dead.acquire();
    const acquiredAt = Date.now();
    // The worker dies: no release, no more renewals.
    deadRedis.disconnect();
    const next = new FleetShellSlots(connect(), key, { limit: 1, leaseMs: 1000, pollMaxMs: 100 });
    const release = await next.acquire(AbortSignal.timeout(30_000));
    // Not before the dead one's lease ended (Redis's clock, milliseconds rounded).
    expect(Date.now() - acquiredAt).toBeGreaterThanOrEqual(990);
    release();
  }, 40_000);

  it('a held slot outlives its lease while its holder renews it', async () => {
    const key = fleetShellSlotsKey(prefix, 'renewed:5985');
    const holder = new FleetShellSlots(connect(), key, { limit: 1, leaseMs: 1000 });
    const release = await holder.acquire();
    const r = connect();
    // Past three lease lengths, the slot is still held (renewed every third of the lease).
    const until = Date.now() + 3500;
    while (Date.now() < until) {
      expect(await r.zcard(key)).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const other = new FleetShellSlots(connect(), key, { limit: 1 });
    const controller = new AbortController();
    const attempt = other.acquire(controller.signal);
    await eventually(async () => other.waiting === 1, 10_000);
    controller.abort();
    await expect(attempt).rejects.toMatchObject({ code: 'CANCELLED' } satisfies Partial<SyncError>);
    expect(other.waiting).toBe(0);
    release();
  }, 40_000);

  it('a waiter whose Redis never answers gives up as soon as its run is told to stop', async () => {
    const silent = await silentServer();
    const hung = new Redis(silent.url, { maxRetriesPerRequest: null });
    hung.on('error', () => undefined);
    try {
      const slots = new FleetShellSlots(hung, fleetShellSlotsKey(prefix, 'silent:5985'), { limit: 1 });
      const stop = new AbortController();
      const attempt = slots.acquire(stop.signal);
      await eventually(async () => slots.waiting === 1, 10_000);
      const reason = new SyncError('CANCELLED', 'the run stopped: Redis fell silent');
      stop.abort(reason);
      await expect(attempt).rejects.toBe(reason);
      expect(slots.waiting).toBe(0);
    } finally {
      hung.disconnect();
      await silent.close();
    }
  });
});
