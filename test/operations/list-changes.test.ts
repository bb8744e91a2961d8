/**
 * Reading a tenant's change feed (operations/list-changes.ts) against the real store: pages after a
 * cursor, filtered by kinds and operations, or the changes of one run; the tenant named by id or by
 * place and name, found only within the caller's scope; a run of another tenant is not found, a bad
 * query is refused naming each field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectId } from 'mongodb';
import { ENCRYPTION_KEYS_VARIABLE, keyRingOf } from '../../connectors/mongo/encryption.js';
import { openStores, type Stores } from '../../connectors/mongo/stores.js';
import { addTenant, listChanges } from '../../operations/index.js';
import { allowFixtureDestinations, validTenantInput } from '../support/fixtures.js';
import { keyEntry } from '../support/keys.js';
import { testMongo, type TestMongo } from '../support/services.js';

const LEASE_TTL_MS = 60_000;
const user = (n: number, name = 'User') => ({ id: `u${n}`, displayName: `${name} ${n}` });

describe('listing changes', () => {
  let mongo: TestMongo;
  let stores: Stores;
  let tenant: { id: string; hierarchy: string; name: string };
  let otherTenantId: string;
  /** The run after the first pull: u1 renamed, u3 created, u2 deleted; and a later run: u4 created. */
  let second: string;
  let third: string;

  /** One run of `users` delivering `objects`, swept and completed, its changes recorded. */
  async function run(tenantId: string, hierarchy: string, objects: Record<string, unknown>[]) {
    const lease = await stores.leases.acquire(tenantId, 'worker/job', LEASE_TTL_MS);
    const fence = stores.leases.fence(lease!, LEASE_TTL_MS);
    const runId = (
      await stores.runs.start({
        tenantId,
        hierarchy,
        trigger: 'api',
        requestedBy: 'op',
        jobId: new ObjectId().toHexString(),
        attempt: 1,
        worker: 'worker',
      })
    ).id;
    const writer = stores.objects.writer(
      'users',
      { id: tenantId, hierarchy },
      runId,
      fence,
      stores.changes.recorder(tenantId, runId, fence),
    );
    await writer.write(objects);
    await writer.sweep();
    await writer.completed();
    await stores.leases.release(lease!);
    return runId;
  }

  beforeAll(async () => {
    mongo = await testMongo('op_changes');
    stores = await openStores(mongo.db, keyRingOf({ [ENCRYPTION_KEYS_VARIABLE]: keyEntry('k1') }));
    await allowFixtureDestinations(stores.destinations);
    const added = await addTenant(
      { stores },
      { tenant: validTenantInput({ hierarchy: 'provider.a', Tenant: { name: 'Feed' } }) },
    );
    tenant = { id: added.id, hierarchy: 'provider.a', name: 'Feed' };
    const other = await addTenant(
      { stores },
      { tenant: validTenantInput({ hierarchy: 'other.b', Tenant: { name: 'Elsewhere' } }) },
    );
    otherTenantId = other.id;
    await run(tenant.id, tenant.hierarchy, [user(1), user(2)]);
    second = await run(tenant.id, tenant.hierarchy, [user(1, 'Renamed'), user(3)]);
    third = await run(tenant.id, tenant.hierarchy, [user(1, 'Renamed'), user(3), user(4)]);
    await run(otherTenantId, 'other.b', [user(9)]);
  });
  afterAll(async () => {
    await mongo.close();
  });

  const summary = (changes: { op: string; externalId?: string; runId: string }[]) =>
    changes.map((c) => `${c.op}:${c.externalId ?? '-'}`);

  it('pages through the committed changes after a cursor, by id or by place and name', async () => {
    const first = await listChanges({ stores }, { tenant: tenant.id, limit: 3 });
    expect(first.tenantId).toBe(tenant.id);
    expect(first.more).toBe(true);
    expect(summary(first.changes)[0]).toBe('baseline:-');
    const rest = await listChanges({ stores }, { tenant: 'provider.a/Feed', after: first.cursor });
    expect(rest.more).toBe(false);
    const all = [...first.changes, ...rest.changes];
    expect(summary(all).sort()).toEqual(
      ['baseline:-', 'created:u3', 'created:u4', 'deleted:u2', 'updated:u1'].sort(),
    );
    // Past the end: nothing, and the same cursor to wait at.
    const none = await listChanges({ stores }, { tenant: tenant.id, after: rest.cursor });
    expect(none).toMatchObject({ changes: [], cursor: rest.cursor, more: false });
  });

  it('filters by kinds and operations', async () => {
    const created = await listChanges({ stores }, { tenant: tenant.id, ops: 'created' });
    expect(summary(created.changes).sort()).toEqual(['created:u3', 'created:u4']);
    const several = await listChanges(
      { stores },
      { tenant: tenant.id, kinds: ['users'], ops: ['updated', 'deleted'] },
    );
    expect(summary(several.changes).sort()).toEqual(['deleted:u2', 'updated:u1']);
    expect(several.changes.find((c) => c.op === 'updated')?.fields).toEqual(['displayName']);
    expect((await listChanges({ stores }, { tenant: tenant.id, kinds: 'groups' })).changes).toEqual([]);
  });

  it("gives one run's changes, and no run of another tenant", async () => {
    const ofSecond = await listChanges({ stores }, { tenant: tenant.id, runId: second });
    expect(ofSecond.changes.every((c) => c.runId === second)).toBe(true);
    expect(summary(ofSecond.changes).sort()).toEqual(['created:u3', 'deleted:u2', 'updated:u1']);
    expect(summary((await listChanges({ stores }, { tenant: tenant.id, runId: third })).changes)).toEqual([
      'created:u4',
    ]);
    await expect(listChanges({ stores }, { tenant: otherTenantId, runId: second })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(
      listChanges({ stores }, { tenant: tenant.id, runId: new ObjectId().toHexString() }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it("finds the tenant only within the caller's scope", async () => {
    expect((await listChanges({ stores }, { tenant: tenant.id, scope: 'provider' })).tenantId).toBe(
      tenant.id,
    );
    await expect(listChanges({ stores }, { tenant: tenant.id, scope: 'other' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('refuses a bad query naming every field, before reading anything', async () => {
    await expect(
      listChanges(
        { stores },
        { tenant: 'no such tenant', after: 'not-a-cursor', kinds: 'people', ops: 'renamed', limit: 5000 },
      ),
    ).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      problems: expect.arrayContaining([
        expect.objectContaining({ field: 'after' }),
        expect.objectContaining({ field: 'kinds' }),
        expect.objectContaining({ field: 'ops' }),
        expect.objectContaining({ field: 'limit' }),
      ]),
    });
  });
});
