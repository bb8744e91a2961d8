import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaseStore } from '../../connectors/mongo/leases.js';
import { SyncError } from '../../domain/errors.js';
import { storeBackends, testMongo, type TestMongo } from '../support/services.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(storeBackends())('tenant leases on $name', ({ uri }) => {
  let mongo: TestMongo;
  let leases: LeaseStore;
  beforeAll(async () => {
    mongo = await testMongo('leases', uri);
    leases = new LeaseStore(mongo.db, { clockSkewMs: 0 });
  });
  afterAll(async () => {
    await mongo.close();
  });

  it('gives a live lease to one owner only, and increasing tokens after expiry or release', async () => {
    const a = await leases.acquire('t1', 'a', 300);
    expect(a?.token).toBe(1);
    expect(await leases.acquire('t1', 'b', 300)).toBeNull();
    await sleep(350);
    const b = await leases.acquire('t1', 'b', 5000);
    expect(b?.token).toBe(2);
    expect(await leases.renew(a!, 5000)).toBeNull();
    expect(await leases.release(a!)).toBe(false);
    expect((await leases.holder('t1'))?.owner).toBe('b');
    expect(await leases.release(b!)).toBe(true);
    const c = await leases.acquire('t1', 'c', 5000);
    expect(c?.token).toBe(3);
  });

  it('lets exactly one of many simultaneous acquirers win', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => leases.acquire('t2', `w${i}`, 5000)),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('waits the clock-skew allowance before taking over an expired lease', async () => {
    const skewed = new LeaseStore(mongo.db, { clockSkewMs: 400 });
    await skewed.acquire('t3', 'a', 100);
    await sleep(150);
    expect(await skewed.acquire('t3', 'b', 1000)).toBeNull();
    await sleep(400);
    expect(await skewed.acquire('t3', 'b', 1000)).not.toBeNull();
  });

  it('fences a zombie: its check fails once a newer run acquired, and succeeds until then', async () => {
    const zombie = (await leases.acquire('t4', 'zombie', 200))!;
    const fence = leases.fence(zombie, 200);
    await expect(fence.assertCurrent()).resolves.toEqual({ maxTimeMS: 100 });
    await sleep(250); // lapsed, but nobody took it: still ours, renewing is safe
    await expect(fence.assertCurrent()).resolves.toBeDefined();
    await sleep(250);
    const newer = await leases.acquire('t4', 'newer', 5000);
    expect(newer!.token).toBeGreaterThan(zombie.token);
    const error = await fence.assertCurrent().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SyncError);
    expect((error as SyncError).code).toBe('LEASE_LOST');
  });
});
