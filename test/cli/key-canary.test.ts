/**
 * The key canary against a mistyped new key, with the real `m365sync` command (its own process) on a
 * real MongoDB-wire server. A new key id enters the canary only through `keys add` (or `tenants
 * reencrypt`), which first proves a key the database already has; a read-only command records
 * nothing; a process refuses to encrypt with a key that has no canary; and a new database's first
 * key is recorded by the first command that writes.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENCRYPTION_KEYS_VARIABLE } from '../../connectors/mongo/encryption.js';
import { KEY_CANARY_COLLECTION } from '../../connectors/mongo/key-canary.js';
import { buildStores } from '../../connectors/mongo/stores.js';
import { TENANTS_COLLECTION } from '../../connectors/mongo/tenants.js';
import { testEnv } from '../support/env.js';
import { allowFixtureDestinations, validTenantInput } from '../support/fixtures.js';
import { keyEntry } from '../support/keys.js';
import { testMongo, type TestMongo } from '../support/services.js';

const bin = new URL('../../scripts/m365sync.sh', import.meta.url).pathname;
const k1 = keyEntry('k1');
const k2 = keyEntry('k2');
const k2Mistyped = keyEntry('k2'); // the right id, another key: what a typo in the key looks like
let mongo: TestMongo;
let dir: string;

async function m365sync(
  keys: string,
  ...argv: string[]
): Promise<{ code: number; out: string; err: string }> {
  return promisify(execFile)(bin, argv, {
    env: {
      ...process.env,
      MONGODB_URI: testEnv().mongoUri,
      M365SYNC_DB: mongo.db.databaseName,
      [ENCRYPTION_KEYS_VARIABLE]: keys,
    },
    timeout: 60_000, // bounds the test only
  }).then(
    (ok) => ({ code: 0, out: ok.stdout, err: ok.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
  );
}

/** The key ids the canary holds. */
async function canaryKeyIds(): Promise<string[]> {
  const doc = await mongo.db.collection(KEY_CANARY_COLLECTION).findOne({});
  return Object.keys((doc?.keys as Record<string, unknown> | undefined) ?? {}).sort();
}

async function tenantFile(name: string): Promise<string> {
  const file = join(dir, `${name}.json`);
  await writeFile(file, JSON.stringify(validTenantInput({ Tenant: { name } })));
  return file;
}

beforeAll(async () => {
  mongo = await testMongo('keycanary');
  dir = await mkdtemp(join(tmpdir(), 'm365sync-canary-'));
  await allowFixtureDestinations(buildStores(mongo.db).destinations); // no key: nothing encrypted
});
afterAll(async () => mongo?.close());

describe('the key canary and a new key', () => {
  it('on a new database, a read-only command records no key and the first command that writes records its key', async () => {
    const listed = await m365sync(k1, 'tenants', 'list');
    expect(listed).toMatchObject({ code: 0, err: '' });
    expect(await canaryKeyIds()).toEqual([]);

    const added = await m365sync(k1, 'tenants', 'add', '--file', await tenantFile('First Tenant'));
    expect(added).toMatchObject({ code: 0, err: '' });
    expect(await canaryKeyIds()).toEqual(['k1']);
  }, 60_000);

  it('a read-only command with a mistyped new key records nothing, and the real key is still accepted', async () => {
    const listed = await m365sync(`${k2Mistyped},${k1}`, 'tenants', 'list');
    expect(listed.code).toBe(0);
    expect(listed.out).toContain('First Tenant');
    expect(await canaryKeyIds()).toEqual(['k1']);

    // A process started that way does not encrypt under the mistyped key: it says how to add a key.
    const refused = await m365sync(
      `${k2Mistyped},${k1}`,
      'tenants',
      'add',
      '--file',
      await tenantFile('Second'),
    );
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`${ENCRYPTION_KEYS_VARIABLE} key "k2" is new to this database`);
    expect(refused.err).toContain('m365sync keys add');
    expect(refused.err + refused.out).not.toContain(k2Mistyped.slice(3));
    expect(await mongo.db.collection(TENANTS_COLLECTION).countDocuments({ 'Tenant.name': 'Second' })).toBe(0);
    expect(await canaryKeyIds()).toEqual(['k1']);
  }, 90_000);

  it('keys add records a new key only after proving one the database has', async () => {
    const unproved = await m365sync(k2, 'keys', 'add');
    expect(unproved.code).toBe(1);
    expect(unproved.err).toContain(`None of the keys in ${ENCRYPTION_KEYS_VARIABLE} (k2)`);
    const wrongOld = await m365sync(`${k2},${keyEntry('k1')}`, 'keys', 'add');
    expect(wrongOld.code).toBe(1);
    expect(wrongOld.err).toContain(`${ENCRYPTION_KEYS_VARIABLE} key "k1" is not the key`);
    expect(await canaryKeyIds()).toEqual(['k1']);

    const added = await m365sync(`${k2},${k1}`, 'keys', 'add');
    expect(added).toMatchObject({ code: 0, err: '' });
    expect(added.out).toContain('added key "k2"');
    expect(await canaryKeyIds()).toEqual(['k1', 'k2']);
    expect((await m365sync(`${k2},${k1}`, 'keys', 'add')).out).toContain('already one of this database');

    // From now on the mistyped k2 is refused, and the real one encrypts.
    const mistyped = await m365sync(`${k2Mistyped},${k1}`, 'tenants', 'list');
    expect(mistyped.code).toBe(1);
    expect(mistyped.err).toContain(`${ENCRYPTION_KEYS_VARIABLE} key "k2" is not the key`);
    const written = await m365sync(`${k2},${k1}`, 'tenants', 'add', '--file', await tenantFile('Third'));
    expect(written).toMatchObject({ code: 0, err: '' });
    const third = await mongo.db.collection(TENANTS_COLLECTION).findOne({ 'Tenant.name': 'Third' });
    expect(JSON.stringify(third)).toContain('"keyId":"k2"');
    expect(JSON.stringify(third)).not.toContain('"keyId":"k1"');
  }, 120_000);
});
