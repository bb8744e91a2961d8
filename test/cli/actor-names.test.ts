/**
 * Who asked (`requestedBy`, `approvedBy`, M365SYNC_OPERATOR) is printed on operators' terminals:
 * control characters are refused where the name enters (job data, API, CLI, maintenance), and what is
 * stored already is printed with its control characters escaped.
 */
import type { FastifyInstance } from 'fastify';
import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../api/server.js';
import { ENCRYPTION_KEYS_VARIABLE, keyRingOf } from '../../connectors/mongo/encryption.js';
import { SyncRunStore } from '../../connectors/mongo/sync-runs.js';
import { printable } from '../../domain/actor.js';
import { createSyncQueue, SyncJobData } from '../../queues/sync-queue.js';
import { openStores, type Stores } from '../../connectors/mongo/stores.js';
import { purgeTenant } from '../../operations/purge-tenant.js';
import { cli } from '../support/cli.js';
import { testEnv } from '../support/env.js';
import { validTenantInput, allowFixtureDestinations } from '../support/fixtures.js';
import { keyEntry } from '../support/keys.js';
import { testMongo, testRedis, type TestMongo, type TestRedis } from '../support/services.js';

const ESC = '\u001b';
const HOSTILE = `mallory${ESC}[2J${ESC}]0;owned\u0007\u202Eevil`;

let mongo: TestMongo;
let redis: TestRedis;
let stores: Stores;
let queue: Queue<SyncJobData, unknown, string>;
let app: FastifyInstance;
let base: string;
let env: NodeJS.ProcessEnv;
let tenantId: string;
let authorization: string;
const KEYS = keyEntry('k1');

beforeAll(async () => {
  mongo = await testMongo('actors');
  redis = await testRedis('actors');
  stores = await openStores(mongo.db, keyRingOf({ [ENCRYPTION_KEYS_VARIABLE]: KEYS }));
  await allowFixtureDestinations(stores.destinations);
  queue = createSyncQueue({ url: redis.url, prefix: redis.prefix });
  const token = (await stores.tokens.create({ name: 'actors-test', role: 'admin', scope: '*' }, 'test'))
    .token;
  app = buildApi({ stores, syncQueue: queue, authentication: { tokens: stores.tokens } });
  authorization = `Bearer ${token}`;
  base = await app.listen({ port: 0, host: '127.0.0.1' });
  tenantId = (await stores.tenants.add(validTenantInput({ Tenant: { name: 'Actors' } }))).id;
  env = {
    MONGODB_URI: testEnv().mongoUri,
    M365SYNC_DB: mongo.db.databaseName,
    M365SYNC_ENCRYPTION_KEYS: KEYS,
    REDIS_URL: redis.url,
    M365SYNC_QUEUE_PREFIX: redis.prefix,
  };
});
afterAll(async () => {
  await app?.close();
  await queue?.close();
  await redis?.close();
  await mongo?.close();
});

const post = (path: string, body: unknown) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization },
    body: JSON.stringify(body),
  });

describe('control characters in who asked', () => {
  it('are refused in job data, naming the character', () => {
    const parsed = SyncJobData.safeParse({ tenantId: 'abc', trigger: 'cli', requestedBy: HOSTILE });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0]!.message).toBe(
      'must not contain control characters (U+001B at position 8)',
    );
    expect(SyncJobData.safeParse({ tenantId: 'abc', trigger: 'cli', requestedBy: 'a\u202Eb' }).success).toBe(
      false,
    );
    expect(SyncJobData.safeParse({ tenantId: 'abc', trigger: 'cli', requestedBy: 'Zoë Ünal' }).success).toBe(
      true,
    );
  });

  it('cannot enter through the API: the actor is the token name, a client-sent one is refused', async () => {
    const sync = await post(`/tenants/${tenantId}/sync`, { requestedBy: HOSTILE });
    expect(sync.status).toBe(400);
    expect(await sync.text()).not.toContain(ESC);
    const approve = await post('/runs/000000000000000000000000/approve-deletes', { approvedBy: `x${ESC}y` });
    expect(approve.status).toBe(400);
    const purge = await post(`/tenants/${tenantId}/purge`, { requestedBy: `x\ny`, confirm: true });
    expect(purge.status).toBe(400);
    // Token names, the actors the API records, cannot hold control characters either.
    await expect(stores.tokens.create({ name: HOSTILE, role: 'viewer', scope: '*' }, 'test')).rejects.toThrow(
      /name: must be 1 to 64 letters/,
    );
    expect(await queue.getJobCounts()).toMatchObject({ waiting: 0, delayed: 0, active: 0 });
  });

  it('are refused from M365SYNC_OPERATOR by the CLI (exit 2, the variable named), with nothing enqueued', async () => {
    const result = await cli({ ...env, M365SYNC_OPERATOR: HOSTILE }, 'sync', tenantId);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/M365SYNC_OPERATOR: must not contain control characters \(U\+001B/);
    expect(result.err).not.toContain(ESC);
    expect(await queue.getJobCounts()).toMatchObject({ waiting: 0, delayed: 0, active: 0 });
  });

  it('are refused by purge and approval called directly', async () => {
    await expect(
      purgeTenant({ stores }, { tenant: { id: tenantId, hierarchy: 'sys' }, requestedBy: HOSTILE }),
    ).rejects.toThrow(/requestedBy: must not contain control characters/);
  });

  it('stored already (an older version, a direct write), are printed escaped by runs list and runs show', async () => {
    const run = await new SyncRunStore(mongo.db).start({
      tenantId,
      hierarchy: 'sys',
      trigger: 'cli',
      requestedBy: HOSTILE,
      jobId: 'j1',
      attempt: 1,
      worker: 'test',
      kindsRequested: ['users'],
    });
    const list = await cli(env, 'runs', 'list');
    expect(list.code).toBe(0);
    for (const c of [ESC, '\u0007', '\u202E']) expect(list.out).not.toContain(c);
    expect(list.out).toContain('mallory\\x1B[2J\\x1B]0;owned\\x07\\u202Eevil');
    const show = await cli(env, 'runs', 'show', run.id);
    expect(show.out).not.toContain(ESC);
    expect(show.out).toContain('by mallory\\x1B[2J');
  });

  it('printable keeps line breaks only when asked', () => {
    expect(printable('a\nb\tc\u0000')).toBe('a\\x0Ab\\x09c\\x00');
    expect(printable('a\nb\tc\u0000', { keepLineBreaks: true })).toBe('a\nb\tc\\x00');
  });
});
