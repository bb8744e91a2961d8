/**
 * Key rotation end to end, and the key canary. Tenants (one signing in to Graph with a stored
 * certificate) are written under an old key; the key rotates (new key first, old after), `tenants
 * reencrypt` moves every secret at rest to the new key, certificates' private keys and webhook secrets
 * included; then the old key is dropped and a worker holding only the new key still syncs and
 * test-connects every tenant.
 * A process started with a wrong key stops at once with a message that names the variable, never a key.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CERTIFICATES_COLLECTION } from '../../connectors/mongo/certificates.js';
import { ENCRYPTION_KEYS_VARIABLE, keyRingOf } from '../../connectors/mongo/encryption.js';
import { TENANTS_COLLECTION } from '../../connectors/mongo/tenants.js';
import { WEBHOOKS_COLLECTION } from '../../connectors/mongo/webhooks.js';
import { generateAppCertificate, type AppCertificate } from '../../simulators/graph/certificates.js';
import { openStores } from '../../connectors/mongo/stores.js';
import { allowSimulatedTenant } from '../../cli/in-process.js';
import { cli } from '../support/cli.js';
import { testEnv } from '../support/env.js';
import { keyEntry } from '../support/keys.js';
import { startEngine, type Engine } from './support/engine.js';
import { ObjectId } from 'mongodb';

const oldKey = keyEntry('k1');
const newKey = keyEntry('k2');
let engine: Engine;
let appCert: AppCertificate;
let reencryptOutput = '';
const ids: Record<'secret' | 'certificate' | 'legacyProxy', string> = {
  secret: '',
  certificate: '',
  legacyProxy: '',
};
let dir: string;

const envFor = (dbName: string, keys: string): NodeJS.ProcessEnv => ({
  MONGODB_URI: testEnv().mongoUri,
  M365SYNC_DB: dbName,
  [ENCRYPTION_KEYS_VARIABLE]: keys,
});

beforeAll(async () => {
  appCert = await generateAppCertificate('rotation');
  dir = await mkdtemp(join(tmpdir(), 'm365sync-keys-'));
  engine = await startEngine('keyrotation', {
    dataset: { seed: 11, users: 20 },
    appCertificates: [appCert.certificatePem],
    keys: newKey, // the engine starts after the rotation, holding only the new key
    prepare: async (db, sim) => {
      // Before: everything written under the old key.
      const old = await openStores(db, keyRingOf({ [ENCRYPTION_KEYS_VARIABLE]: oldKey }));
      await allowSimulatedTenant(old, sim);
      await old.destinations.allow('http_proxy', 'proxy.example');
      await old.certificates.add({ name: 'rotation-cert', hierarchy: 'demo.provider', ...appCert });
      ids.secret = (await old.tenants.add(sim.tenantInput)).id;
      ids.certificate = (
        await old.tenants.add({
          ...sim.tenantInput,
          Tenant: { name: 'Certificate Tenant' },
          'Microsoft 365': {
            ...sim.tenantInput['Microsoft 365'],
            client_secret: undefined,
            certificate_bkey: 'rotation-cert',
            graph_api_certificate_thumbprint: appCert.thumbprint,
          },
        })
      ).id;
      // A tenant stored before the proxy user and password had fields: they sit inside the URL.
      ids.legacyProxy = (await old.tenants.add({ ...sim.tenantInput, Tenant: { name: 'Legacy Proxy' } })).id;
      await old.destinations.allow('webhook', 'portal.example');
      await old.webhooks.create({ name: 'rotation-portal', url: 'https://portal.example/hooks' }, 'test');
      const legacyUrl = 'http://proxyuser:legacy%40pw@proxy.example:3128/';
      await db.collection(TENANTS_COLLECTION).updateOne(
        { _id: new ObjectId(ids.legacyProxy) },
        {
          $set: {
            'Microsoft 365.https_proxy': old.keyRing.encrypt(
              legacyUrl,
              `tenant:${ids.legacyProxy}:Microsoft 365.https_proxy`,
            ),
          },
        },
      );
      // The rotation: the new key first, the old one after it, and re-encrypt.
      const rotated = await cli(envFor(db.databaseName, `${newKey},${oldKey}`), 'tenants', 'reencrypt');
      expect(rotated).toMatchObject({ code: 0, err: '' });
      reencryptOutput = rotated.out;
    },
  });
}, 120_000);
afterAll(async () => engine?.close());

describe('key rotation end to end', () => {
  it('re-encrypts every secret at rest, certificates and webhooks included, and says what it changed', async () => {
    expect(reencryptOutput).toContain('re-encrypted certificate rotation-cert');
    expect(reencryptOutput).toContain('re-encrypted webhook rotation-portal');
    expect(reencryptOutput).toContain('re-encrypted tenant demo.provider.contoso/Certificate Tenant');
    expect(reencryptOutput).toContain(
      'moved the proxy user and password of tenant demo.provider.contoso/Legacy Proxy out of its proxy URL',
    );
    expect(reencryptOutput).toMatch(
      /re-encrypted 3 tenant\(s\), 1 certificate private key\(s\) and 1 webhook secret\(s\) with key "k2"/,
    );
    const raw = JSON.stringify([
      await engine.mongo.db.collection(TENANTS_COLLECTION).find({}).toArray(),
      await engine.mongo.db.collection(CERTIFICATES_COLLECTION).find({}).toArray(),
      await engine.mongo.db.collection(WEBHOOKS_COLLECTION).find({}).toArray(),
    ]);
    expect(raw).not.toContain('"keyId":"k1"');
    expect(raw).toContain('"keyId":"k2"');
    const again = await cli(envFor(engine.mongo.db.databaseName, newKey), 'tenants', 'reencrypt');
    expect(again.out).toContain(
      're-encrypted 0 tenant(s), 0 certificate private key(s) and 0 webhook secret(s)',
    );
  });

  it('with the old key dropped, certificate and secret tenants still sync and test-connect', async () => {
    for (const id of [ids.certificate, ids.secret]) {
      const run = await engine.sync(id, 'rotation-test', ['licences', 'dial_plans']);
      expect(run.status).toBe('succeeded');
    }
    const caFile = join(dir, 'graph-ca.pem');
    await writeFile(caFile, engine.sim.ca);
    const tested = await cli(
      {
        ...envFor(engine.mongo.db.databaseName, newKey),
        M365SYNC_GRAPH_CA_FILE: caFile,
        M365SYNC_WINRM_SCHEME: 'http',
      },
      'test-connection',
      ids.certificate,
    );
    expect(tested.err).toBe('');
    expect(tested.code).toBe(0);
    expect(tested.out).toMatch(/^ok {2}\s*graph/m);
    expect(tested.out).toMatch(/^ok {2}\s*teams/m);
  });

  it('keeps a tenant whose proxy credentials were inside the URL readable, as separate fields', async () => {
    const t = await engine.stores.tenants.getDecrypted(ids.legacyProxy);
    expect(t['Microsoft 365']).toMatchObject({
      https_proxy: 'http://proxy.example:3128/',
      proxy_username: 'proxyuser',
      proxy_password: 'legacy@pw',
    });
    const shown = await engine.stores.tenants.show(ids.legacyProxy);
    expect(shown['Microsoft 365'].proxy_password).toBe('********');
    expect(JSON.stringify(shown)).not.toContain('legacy@pw');
  });
});

describe('the key canary', () => {
  const bin = new URL('../../scripts/m365sync.sh', import.meta.url).pathname;
  const start = (command: string[], keys: string) =>
    promisify(execFile)(bin, command, {
      env: { ...process.env, ...envFor(engine.mongo.db.databaseName, keys), M365SYNC_METRICS_PORT: '0' },
      // Bounds the test only: a process that did not notice the wrong key would keep running.
      timeout: 60_000,
    }).then(
      (ok) => ({ code: 0, stderr: ok.stderr, stdout: ok.stdout }),
      (e: { code: number | null; stderr: string; stdout: string }) => e,
    );

  it('stops a worker and an API started with a wrong key, at once, naming the variable and never the key', async () => {
    const wrong = keyEntry('k2'); // the right id, another key
    for (const command of [['worker'], ['api', '--port', '0']]) {
      const result = await start(command, wrong);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(
        `${ENCRYPTION_KEYS_VARIABLE} key "k2" is not the key this database was written with`,
      );
      expect(result.stderr + result.stdout).not.toContain(wrong.slice(3));
    }
  }, 150_000);

  it('stops a command when none of the keys is one the database was written with', async () => {
    const other = keyEntry('k9');
    const result = await start(['tenants', 'list'], other);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`None of the keys in ${ENCRYPTION_KEYS_VARIABLE} (k9)`);
    expect(result.stderr).not.toContain(other.slice(3));
  }, 90_000);
});
