import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENCRYPTION_KEYS_VARIABLE, keyRingOf } from '../../../connectors/mongo/encryption.js';
import { TENANTS_COLLECTION } from '../../../connectors/mongo/tenants.js';
import { CERTIFICATES_COLLECTION, certificateThumbprint } from '../../../connectors/mongo/certificates.js';
import { ValidationError } from '../../../domain/errors.js';
import { MASK, tenantSecrets } from '../../../domain/tenant.js';
import { openStores, type Stores } from '../../../connectors/mongo/stores.js';
import { testCertificate } from '../../support/certificates.js';
import { allowFixtureDestinations, validTenantInput } from '../../support/fixtures.js';
import { keyEntry } from '../../support/keys.js';
import { testMongo, type TestMongo } from '../../support/services.js';

let mongo: TestMongo;
let stores: Stores;
const oldKey = keyEntry('old');

beforeAll(async () => {
  mongo = await testMongo('tenants');
  stores = await openStores(mongo.db, keyRingOf({ [ENCRYPTION_KEYS_VARIABLE]: oldKey }));
  await allowFixtureDestinations(stores.destinations);
});
afterAll(async () => mongo.close());

const secretInput = () =>
  validTenantInput({
    Tenant: { name: 'Secretive' },
    'Microsoft Teams HTTP Proxy': {
      use_proxy: true,
      use_http_proxy_auth: true,
      http_proxy_username: 'pu',
      http_proxy_password: 'http-proxy-pw',
    },
    'Microsoft 365': {
      https_proxy: 'https://proxy.example:3128/',
      proxy_username: 'proxyuser',
      proxy_password: 'graph-proxy-pw',
    },
    'Microsoft Exchange': {
      enable_exchange: true,
      exchange_certificate_thumbprint: 'ABCDEF0123456789ABCDEF0123456789ABCDEF01',
    },
  });

describe('tenant store (real MongoDB-wire server)', () => {
  it('stores no secret in plain text and shows none', async () => {
    const added = await stores.tenants.add(secretInput());
    const secrets = tenantSecrets(await stores.tenants.getDecrypted(added.id));
    expect(secrets.length).toBeGreaterThanOrEqual(6);

    const raw = JSON.stringify(await mongo.db.collection(TENANTS_COLLECTION).find({}).toArray());
    for (const secret of secrets) expect(raw).not.toContain(secret);
    expect(raw).toContain('"keyId":"old"');

    const shown = JSON.stringify([await stores.tenants.show(added.id), await stores.tenants.list()]);
    for (const secret of secrets) expect(shown).not.toContain(secret);
    expect(shown).toContain(MASK);
  });

  it('decrypts for the worker', async () => {
    const t = await stores.tenants.getDecrypted('provider.reseller.customer/Secretive');
    expect(t['Microsoft Teams Powershell'].proxyPassword).toBe('Proxy-P4ss!');
    expect(t['Microsoft 365'].https_proxy).toBe('https://proxy.example:3128/');
    expect(t['Microsoft 365'].proxy_password).toBe('graph-proxy-pw');
  });

  it('keeps a tenant name unique within its hierarchy place only', async () => {
    await stores.tenants.add(validTenantInput({ hierarchy: 'p1.c1', Tenant: { name: 'Same' } }));
    await stores.tenants.add(validTenantInput({ hierarchy: 'p1.c2', Tenant: { name: 'Same' } }));
    const duplicate = stores.tenants.add(validTenantInput({ hierarchy: 'p1.c1', Tenant: { name: 'Same' } }));
    await expect(duplicate).rejects.toThrow(ValidationError);
    await expect(duplicate).rejects.toThrow(/Tenant.name: is already used by another tenant at p1.c1/);
    await expect(stores.tenants.show('Same')).rejects.toThrow(/Several tenants are named "Same"/);
    expect((await stores.tenants.show('p1.c2/Same')).hierarchy).toBe('p1.c2');
  });

  it('lists by hierarchy place and below', async () => {
    await stores.tenants.add(validTenantInput({ hierarchy: 'p1c', Tenant: { name: 'NotUnderP1' } }));
    const names = (await stores.tenants.list({ hierarchy: 'p1' })).map(
      (t) => `${t.hierarchy}/${t.Tenant.name}`,
    );
    expect(names).toEqual(['p1.c1/Same', 'p1.c2/Same']);
  });

  it('stores nothing when the input is bad', async () => {
    const before = await mongo.db.collection(TENANTS_COLLECTION).countDocuments();
    await expect(stores.tenants.add(validTenantInput({ Tenant: { name: 'bad/name' } }))).rejects.toThrow(
      ValidationError,
    );
    await expect(
      stores.tenants.update('p1.c1/Same', { 'Microsoft 365': { client_id: 'nope' } }),
    ).rejects.toThrow(/client_id/);
    expect(await mongo.db.collection(TENANTS_COLLECTION).countDocuments()).toBe(before);
    expect((await stores.tenants.getDecrypted('p1.c1/Same'))['Microsoft 365'].client_id).toBe(
      '11111111-2222-4333-8444-555555555555',
    );
  });

  it('updates keep masked passwords; key rotation re-encrypts with the new key', async () => {
    const newKey = keyEntry('new');
    const rotated = await openStores(
      mongo.db,
      keyRingOf({ [ENCRYPTION_KEYS_VARIABLE]: `${newKey},${oldKey}` }),
    );
    // A new key encrypts nothing until it is added (what `keys add` and `tenants reencrypt` do).
    expect(() => rotated.keyRing.encrypt('x', 'test')).toThrow(/key "new" is new to this database/);
    expect(await rotated.addActiveKey()).toBe(true);
    // An old key id still decrypts.
    const before = await rotated.tenants.getDecrypted('provider.reseller.customer/Secretive');
    expect(before['Microsoft 365'].client_secret).toBe('graph-secret-value');

    const shown = await rotated.tenants.show('provider.reseller.customer/Secretive');
    await rotated.tenants.update(shown.id, {
      'Microsoft 365': { client_secret: shown['Microsoft 365'].client_secret },
      Tenant: { description: 'edited' },
    });
    const after = await rotated.tenants.getDecrypted(shown.id);
    expect(after['Microsoft 365'].client_secret).toBe('graph-secret-value');
    expect(after.Tenant.description).toBe('edited');
    const raw = JSON.stringify(
      await mongo.db.collection(TENANTS_COLLECTION).findOne({ 'Tenant.name': 'Secretive' }),
    );
    expect(raw).toContain('"keyId":"new"');
    expect(raw).not.toContain('"keyId":"old"');

    // The others move to the new key with reencryptAll; then the old key can go.
    expect((await rotated.tenants.reencryptAll()).reencrypted.length).toBeGreaterThan(0);
    expect((await rotated.tenants.reencryptAll()).reencrypted).toEqual([]);
    const newOnly = await openStores(mongo.db, keyRingOf({ [ENCRYPTION_KEYS_VARIABLE]: newKey }));
    const all = await newOnly.tenants.list();
    expect(all.length).toBeGreaterThan(3);
    for (const t of all)
      expect((await newOnly.tenants.getDecrypted(t.id))['Microsoft Teams'].tenantPassword).toBe(
        'Teams-P4ss!',
      );
  });
});

describe('certificates (real MongoDB-wire server)', () => {
  it('stores the key encrypted, computes the thumbprint, and lets a tenant use it', async () => {
    const cert = await testCertificate('graph-app');
    const info = await stores.certificates.add({ name: 'graph-cert', hierarchy: 'provider', ...cert });
    expect(info.thumbprint).toMatch(/^[0-9A-F]{40}$/);
    expect(info.thumbprint).toBe(certificateThumbprint(cert.certificatePem));

    const raw = JSON.stringify(await mongo.db.collection(CERTIFICATES_COLLECTION).find({}).toArray());
    const keyBody = cert.privateKeyPem.split('\n')[1]!;
    expect(raw).not.toContain(keyBody);
    expect(JSON.stringify(await stores.certificates.list())).not.toContain(keyBody);
    expect(
      (await stores.certificates.getWithKey('graph-cert', 'provider.reseller.customer')).privateKeyPem,
    ).toBe(cert.privateKeyPem.trim());

    const certInput = validTenantInput({
      Tenant: { name: 'CertTenant' },
      'Microsoft 365': {
        client_secret: null,
        graph_api_certificate_thumbprint: info.thumbprint.toLowerCase(),
        certificate_bkey: 'graph-cert',
      },
    });
    await stores.tenants.add(certInput);
    await expect(
      stores.certificates.remove('graph-cert', (n) => stores.tenants.usingCertificate(n)),
    ).rejects.toThrow(/used by tenant/);
  });

  it('refuses a tenant whose certificate is missing or whose thumbprint does not match', async () => {
    const base = {
      client_secret: null,
      graph_api_certificate_thumbprint: 'ABCDEF0123456789ABCDEF0123456789ABCDEF01',
    };
    await expect(
      stores.tenants.add(
        validTenantInput({
          Tenant: { name: 'NoCert' },
          'Microsoft 365': { ...base, certificate_bkey: 'missing' },
        }),
      ),
    ).rejects.toThrow(/certificate_bkey: names no stored certificate/);
    await expect(
      stores.tenants.add(
        validTenantInput({
          Tenant: { name: 'WrongThumb' },
          'Microsoft 365': { ...base, certificate_bkey: 'graph-cert' },
        }),
      ),
    ).rejects.toThrow(/graph_api_certificate_thumbprint: does not match/);
  });

  it('refuses a key that does not belong to the certificate, and bad PEM, naming the fields', async () => {
    const a = await testCertificate('a');
    const b = await testCertificate('b');
    await expect(
      stores.certificates.add({
        name: 'mismatch',
        certificatePem: a.certificatePem,
        privateKeyPem: b.privateKeyPem,
      }),
    ).rejects.toThrow(/privateKeyPem: does not belong to the certificate/);
    const bad = stores.certificates.add({ name: '', certificatePem: 'nope', privateKeyPem: 'nope' });
    await expect(bad).rejects.toThrow(/name: is required/);
    await expect(bad).rejects.toThrow(/certificatePem: is not a PEM certificate/);
    expect((await stores.certificates.list()).map((c) => c.name)).toEqual(['graph-cert']);
  });
});
