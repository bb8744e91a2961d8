import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaseStore } from '../../../connectors/mongo/leases.js';
import { SyncError } from '../../../domain/errors.js';
import { TestClock } from '../../support/clock.js';
import { storeBackends, testMongo, type TestMongo } from '../../support/services.js';

describe.each(storeBackends())('tenant leases on $name', ({ uri }) => {
  let mongo: TestMongo;
  let leases: LeaseStore;
  // Every store of a test reads this clock, so a lease expires when the test moves it past its ttl
  // (the documents in MongoDB carry the clock's times), not after a sleep.
  const clock = new TestClock();
  beforeAll(async () => {
    mongo = await testMongo('leases', uri);
    leases = new LeaseStore(mongo.db, { clockSkewMs: 0, clock });
  });
  afterAll(async () => {
    await mongo.close();
  });

  it('gives a live lease to one owner only, and increasing tokens after expiry or release', async () => {
    const a = await leases.acquire('t1', 'a', 300);
    expect(a?.token).toBe(1);
    expect(await leases.acquire('t1', 'b', 300)).toBeNull();
    clock.advance(299);
    expect(await leases.acquire('t1', 'b', 300)).toBeNull();
    expect((await leases.holder('t1'))?.owner).toBe('a');
    clock.advance(51);
    expect(await leases.holder('t1')).toBeNull();
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

  it('never hands out a token twice, even to an acquirer whose read of the lease went stale', async () => {
    // The slow acquirer reads token 1 (expired); before it inserts token 2, two others acquire 2 and
    // 3 in turn, and the acquisition of 3 removes the document of 2: the slow insert of 2 does not
    // collide. It must not come back with token 2 (the first holder's), nor any lease.
    await leases.acquire('t5', 'first', 1);
    clock.advance(5);
    const slow = new LeaseStore(mongo.db, { clockSkewMs: 0, clock });
    const newest = (slow as unknown as { newest(t: string): Promise<unknown> }).newest.bind(slow);
    let interleaved = false;
    (slow as unknown as { newest(t: string): Promise<unknown> }).newest = async (tenantId: string) => {
      const read = await newest(tenantId);
      if (!interleaved) {
        interleaved = true;
        const second = await leases.acquire('t5', 'second', 1);
        expect(second?.token).toBe(2);
        clock.advance(5);
        expect((await leases.acquire('t5', 'third', 60_000))?.token).toBe(3);
      }
      return read;
    };
    expect(await slow.acquire('t5', 'slow', 60_000)).toBeNull();
    expect(await leases.holder('t5')).toMatchObject({ owner: 'third', token: 3 });
    expect(await leases.collection.countDocuments({ tenantId: 't5', token: 2 })).toBe(0);
  });

  it('waits the clock-skew allowance before taking over an expired lease', async () => {
    const skewed = new LeaseStore(mongo.db, { clockSkewMs: 400, clock });
    await skewed.acquire('t3', 'a', 100);
    clock.advance(150);
    expect(await skewed.acquire('t3', 'b', 1000)).toBeNull();
    clock.advance(349); // expired 399 ms ago: still within the allowance
    expect(await skewed.acquire('t3', 'b', 1000)).toBeNull();
    clock.advance(1);
    expect(await skewed.acquire('t3', 'b', 1000)).not.toBeNull();
  });

  it('fences a zombie: its check fails once a newer run acquired, and succeeds until then', async () => {
    const zombie = (await leases.acquire('t4', 'zombie', 200))!;
    const fence = leases.fence(zombie, 200);
    await expect(fence.assertCurrent()).resolves.toEqual({ maxTimeMS: 100 });
    clock.advance(250); // lapsed, but nobody took it: still ours, renewing is safe
    await expect(fence.assertCurrent()).resolves.toBeDefined();
    clock.advance(250);
    const newer = await leases.acquire('t4', 'newer', 5000);
    expect(newer!.token).toBeGreaterThan(zombie.token);
    const error = await fence.assertCurrent().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SyncError);
    expect((error as SyncError).code).toBe('LEASE_LOST');
  });
});
