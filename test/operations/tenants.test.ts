/**
 * The tenant operations (operations/tenants.ts) against the real store: add and update answer the
 * tenant as shown (secrets masked; a masked secret sent back keeps the stored one), bad input and a
 * place outside the caller's scope are refused naming the field, and remove says what became of the
 * tenant's imported objects: purged under the tenant's lease (recorded as a purge run) or kept.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENCRYPTION_KEYS_VARIABLE, keyRingOf } from '../../connectors/mongo/encryption.js';
import { openStores, type Stores } from '../../connectors/mongo/stores.js';
import { MASK } from '../../domain/tenant.js';
import { addTenant, removeTenant, updateTenant } from '../../operations/index.js';
import { allowFixtureDestinations, validTenantInput } from '../support/fixtures.js';
import { keyEntry } from '../support/keys.js';
import { testMongo, type TestMongo } from '../support/services.js';

describe('the tenant operations', () => {
  let mongo: TestMongo;
  let stores: Stores;

  beforeAll(async () => {
    mongo = await testMongo('op_tenants');
    stores = await openStores(mongo.db, keyRingOf({ [ENCRYPTION_KEYS_VARIABLE]: keyEntry('k1') }));
    await allowFixtureDestinations(stores.destinations);
  });
  afterAll(async () => {
    await mongo.close();
  });

  let names = 0;
  const named = (hierarchy = 'provider.reseller.customer') =>
    validTenantInput({ hierarchy, Tenant: { name: `Tenant ${++names}` } });

  it('adds a tenant and answers it as shown, its secrets masked and stored', async () => {
    const tenant = await addTenant({ stores }, { tenant: named() });
    expect(tenant.id).toMatch(/^[0-9a-f]{24}$/);
    expect(tenant.hierarchy).toBe('provider.reseller.customer');
    expect(JSON.stringify(tenant)).not.toContain('graph-secret-value');
    expect(tenant['Microsoft 365']).toMatchObject({ client_secret: MASK });
    const decrypted = await stores.tenants.getDecrypted(tenant.id);
    expect(decrypted['Microsoft 365']).toMatchObject({ client_secret: 'graph-secret-value' });
  });

  it('refuses bad input naming the field, and stores nothing', async () => {
    const before = (await stores.tenants.list()).length;
    const bad = validTenantInput({ 'Microsoft 365': { client_id: 'not-a-guid' } });
    await expect(addTenant({ stores }, { tenant: bad })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining('client_id'),
    });
    expect(await stores.tenants.list()).toHaveLength(before);
  });

  it("refuses a tenant outside the caller's scope, and finds none there", async () => {
    await expect(
      addTenant({ stores }, { tenant: named('other.customer'), scope: 'provider' }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('hierarchy') });
    const outside = await addTenant({ stores }, { tenant: named('other.customer') });
    await expect(
      updateTenant(
        { stores },
        { ref: outside.id, changes: { Tenant: { description: 'x' } }, scope: 'provider' },
      ),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('updates the fields given; a masked secret sent back keeps the stored one', async () => {
    const added = await addTenant({ stores }, { tenant: named() });
    const updated = await updateTenant(
      { stores },
      {
        ref: added.id,
        changes: {
          Tenant: { description: 'Moved to the new contract' },
          'Microsoft 365': { client_secret: MASK },
        },
      },
    );
    expect(updated.id).toBe(added.id);
    expect(updated.Tenant).toMatchObject({ description: 'Moved to the new contract' });
    expect(updated['Microsoft 365']).toMatchObject({ client_secret: MASK });
    expect((await stores.tenants.getDecrypted(added.id))['Microsoft 365']).toMatchObject({
      client_secret: 'graph-secret-value',
    });

    const rotated = await updateTenant(
      { stores },
      { ref: added.id, changes: { 'Microsoft 365': { client_secret: 'rotated-secret' } } },
    );
    expect(JSON.stringify(rotated)).not.toContain('rotated-secret');
    expect((await stores.tenants.getDecrypted(added.id))['Microsoft 365']).toMatchObject({
      client_secret: 'rotated-secret',
    });
  });

  it('removes a tenant keeping its imported objects', async () => {
    const tenant = await addTenant({ stores }, { tenant: named() });
    await stores.objects.collection('users').insertOne({ tenantId: tenant.id, externalId: 'u1' } as never);
    const result = await removeTenant({ stores }, { ref: tenant.id, data: 'keep', by: 'op' });
    expect(result).toEqual({ removed: expect.objectContaining({ id: tenant.id }) });
    await expect(stores.tenants.show(tenant.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await stores.objects.countStored('users', tenant.id)).toBe(1);
  });

  it('removes a tenant purging its imported objects first, recorded as a purge run', async () => {
    const tenant = await addTenant({ stores }, { tenant: named() });
    await stores.objects
      .collection('users')
      .insertMany([1, 2, 3].map((i) => ({ tenantId: tenant.id, externalId: `u${i}` }) as never));
    await stores.objects.collection('groups').insertOne({ tenantId: tenant.id, externalId: 'g1' } as never);
    const result = await removeTenant({ stores }, { ref: tenant.id, data: 'purge', by: 'op' });
    expect(result.removed.id).toBe(tenant.id);
    expect(result.purge).toMatchObject({
      tenantId: tenant.id,
      trigger: 'purge',
      requestedBy: 'op',
      status: 'succeeded',
    });
    expect(result.purge?.kinds.users?.deleted).toBe(3);
    expect(result.purge?.kinds.groups?.deleted).toBe(1);
    expect(await stores.objects.countStored('users', tenant.id)).toBe(0);
    await expect(stores.tenants.show(tenant.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // Its lease was given back.
    expect(await stores.leases.holder(tenant.id)).toBeNull();
  });

  it('refuses to purge and remove a tenant while a sync holds its lease, removing nothing', async () => {
    const tenant = await addTenant({ stores }, { tenant: named() });
    await stores.objects.collection('users').insertOne({ tenantId: tenant.id, externalId: 'u1' } as never);
    const sync = await stores.leases.acquire(tenant.id, 'worker/job', 60_000);
    expect(sync).not.toBeNull();
    await expect(removeTenant({ stores }, { ref: tenant.id, data: 'purge', by: 'op' })).rejects.toMatchObject(
      {
        code: 'CONFLICT',
      },
    );
    expect((await stores.tenants.show(tenant.id)).id).toBe(tenant.id);
    expect(await stores.objects.countStored('users', tenant.id)).toBe(1);
    await stores.leases.release(sync!);
  });

  it('refuses an unknown tenant and a bad actor name', async () => {
    await expect(
      removeTenant({ stores }, { ref: 'provider/Nobody', data: 'keep', by: 'op' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const tenant = await addTenant({ stores }, { tenant: named() });
    await expect(
      removeTenant({ stores }, { ref: tenant.id, data: 'purge', by: 'not\na name' }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect((await stores.tenants.show(tenant.id)).id).toBe(tenant.id);
  });
});
