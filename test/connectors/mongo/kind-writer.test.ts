/**
 * One run's writer of one kind (connectors/mongo/kind-writer.ts), against the real store: it inserts
 * new objects, updates changed ones, leaves an unchanged object's document as it was, sweeps what the
 * run did not see, records each batch in the change feed (a baseline marker on the kind's first pull
 * instead of a row per object; the changed fields of an update) and refuses to write once its lease
 * is lost. The store's other tests cover the rest: fencing against older runs and the restamp
 * (imported-objects.test.ts), a delta round's partial picture (kind-writer-partial.test.ts).
 */
import { runStores } from '../../support/run-stores.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectId } from 'mongodb';
import type { Stores, WriteFence } from '../../../connectors/mongo/index.js';
import type { Change } from '../../../domain/changes.js';
import { TestClock } from '../../support/clock.js';
import { testMongo, type TestMongo } from '../../support/services.js';

const LEASE_TTL_MS = 60_000;
const user = (n: number, name = 'User', extra: Record<string, unknown> = {}) => ({
  id: `u${n}`,
  displayName: `${name} ${n}`,
  mail: `u${n}@example.test`,
  ...extra,
});

describe('a kind writer', () => {
  let mongo: TestMongo;
  let stores: Stores;
  const clock = new TestClock();

  beforeAll(async () => {
    mongo = await testMongo('kind_writer');
    stores = await runStores(mongo.db, { clock });
  });
  afterAll(async () => {
    await mongo.close();
  });

  const newTenant = () => ({ id: new ObjectId().toHexString(), hierarchy: 'provider.customer' });

  /** A run of the tenant: its lease (the previous run's released first), fence and writer. */
  async function runOf(tenant: { id: string; hierarchy: string }, options: { changes?: boolean } = {}) {
    const holder = await stores.leases.holder(tenant.id);
    if (holder) await stores.leases.release(holder);
    const lease = await stores.leases.acquire(
      tenant.id,
      `worker/${new ObjectId().toHexString()}`,
      LEASE_TTL_MS,
    );
    if (!lease) throw new Error('no lease for the run');
    const runId = new ObjectId().toHexString();
    const fence: WriteFence = stores.leases.fence(lease, LEASE_TTL_MS);
    const recorder = options.changes ? stores.changes.recorder(tenant.id, runId, fence) : undefined;
    return { runId, fence, writer: stores.objects.writer('users', tenant, runId, fence, recorder) };
  }

  const documents = async (tenantId: string) =>
    stores.objects.collection('users').find({ tenantId }).sort({ externalId: 1 }).toArray();

  const changesOf = async (tenantId: string, runId: string): Promise<Change[]> =>
    (await stores.changes.ofRun(tenantId, runId, { after: 0, limit: 100 })).changes;

  it('inserts, updates, leaves unchanged documents untouched and sweeps, counting objects over its pages', async () => {
    const tenant = newTenant();
    const first = await runOf(tenant);
    expect(await first.writer.write([user(1), user(2)])).toEqual({ created: 2, updated: 0, unchanged: 0 });
    expect(await first.writer.write([user(3), user(4)])).toEqual({ created: 2, updated: 0, unchanged: 0 });
    expect(first.writer.counts).toEqual({ created: 4, updated: 0, unchanged: 0 });
    expect(await first.writer.sweep()).toBe(0);
    const before = new Map((await documents(tenant.id)).map((d) => [d.externalId, d]));
    expect([...before.keys()]).toEqual(['u1', 'u2', 'u3', 'u4']);
    expect(before.get('u1')).toMatchObject({ syncRunId: first.runId, fence: first.fence.token });

    clock.advance(1000);
    const second = await runOf(tenant);
    // u1 unchanged, u2 changed, u5 new (u3 and u4 not delivered); then u1 again, changed on a later page.
    expect(await second.writer.write([user(1), user(2, 'Renamed'), user(5)])).toEqual({
      created: 1,
      updated: 1,
      unchanged: 1,
    });
    expect(await second.writer.seen('u1')).toBe(true);
    expect(await second.writer.seen('u3')).toBe(false);
    expect(await second.writer.write([user(1, 'Late')])).toEqual({ created: 0, updated: 1, unchanged: -1 });
    expect(second.writer.counts).toEqual({ created: 1, updated: 2, unchanged: 0 });
    expect(await second.writer.unseen()).toEqual(['u3', 'u4']);
    expect(await second.writer.storedCount()).toBe(5);
    expect(await second.writer.sweep()).toBe(2);

    const after = new Map((await documents(tenant.id)).map((d) => [d.externalId, d]));
    expect([...after.keys()]).toEqual(['u1', 'u2', 'u5']);
    expect(after.get('u2')).toMatchObject({ syncRunId: second.runId, fence: second.fence.token });
    expect(after.get('u2')!.data.displayName).toBe('Renamed 2');
    expect(after.get('u2')!.firstSeenAt).toEqual(before.get('u2')!.firstSeenAt);
    expect(after.get('u1')!.data.displayName).toBe('Late 1');
  });

  it('writes nothing to the document of an object delivered unchanged', async () => {
    const tenant = newTenant();
    const first = await runOf(tenant);
    await first.writer.write([user(1)]);
    const [stored] = await documents(tenant.id);
    const second = await runOf(tenant);
    expect(await second.writer.write([user(1)])).toEqual({ created: 0, updated: 0, unchanged: 1 });
    expect(await second.writer.sweep()).toBe(0);
    // Not restamped with the new run or its fence: the document is exactly as the first run wrote it.
    expect((await documents(tenant.id))[0]).toEqual(stored);
  });

  it('refuses a write after its sweep, and an object without its id', async () => {
    const tenant = newTenant();
    const run = await runOf(tenant);
    await expect(run.writer.write([{ displayName: 'no id' }])).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
    await run.writer.write([user(1)]);
    await run.writer.sweep();
    await expect(run.writer.write([user(2)])).rejects.toThrow(/already swept/);
    expect((await documents(tenant.id)).map((d) => d.externalId)).toEqual(['u1']);
  });

  it('refuses to write or sweep once its lease is lost, and leaves the newer run’s objects alone', async () => {
    const tenant = newTenant();
    const seed = await runOf(tenant);
    await seed.writer.write([user(1), user(2), user(3)]);
    const old = await runOf(tenant);
    await old.writer.write([user(1), user(2)]); // u3 unseen: its sweep would delete it
    // The run stalls past its lease; a newer run takes the tenant (without releasing the old lease).
    clock.advance(LEASE_TTL_MS + 1);
    const newer = await stores.leases.acquire(tenant.id, 'worker/newer', LEASE_TTL_MS);
    expect(newer).not.toBeNull();

    await expect(old.writer.write([user(1, 'Stale'), user(4)])).rejects.toMatchObject({ code: 'LEASE_LOST' });
    await expect(old.writer.sweep()).rejects.toMatchObject({ code: 'LEASE_LOST' });
    const after = await documents(tenant.id);
    expect(after.map((d) => [d.externalId, d.data.displayName])).toEqual([
      ['u1', 'User 1'],
      ['u2', 'User 2'],
      ['u3', 'User 3'],
    ]);
  });

  it("records a baseline marker on the kind's first pull, then each change with its changed fields", async () => {
    const tenant = newTenant();
    const first = await runOf(tenant, { changes: true });
    await first.writer.write([user(1), user(2), user(3)]);
    expect(await first.writer.sweep()).toBe(0);
    await first.writer.completed();
    // The first complete pull: one marker, not a row per object.
    expect((await changesOf(tenant.id, first.runId)).map((c) => [c.kind, c.op, c.externalId])).toEqual([
      ['users', 'baseline', undefined],
    ]);

    const second = await runOf(tenant, { changes: true });
    await second.writer.write([user(1), user(2, 'User', { mail: 'new@example.test' }), user(4)]);
    expect(await second.writer.sweep()).toBe(1);
    await second.writer.completed();
    const changes = await changesOf(tenant.id, second.runId);
    const byObject = new Map(changes.map((c) => [c.externalId, c]));
    expect(changes).toHaveLength(3); // nothing for u1, unchanged
    expect(byObject.get('u4')).toMatchObject({ op: 'created' });
    expect(byObject.get('u2')).toMatchObject({ op: 'updated', fields: ['mail'] });
    expect(byObject.get('u3')).toMatchObject({ op: 'deleted' });
    expect(byObject.has('u1')).toBe(false);
  });
});
