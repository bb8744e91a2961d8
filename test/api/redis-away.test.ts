/**
 * The API with Redis away, over real HTTP: every route that needs Redis answers 503
 * SERVICE_UNAVAILABLE within the API's service timeout (plus what MongoDB takes), /readyz names
 * Redis, and the routes that need only MongoDB go on answering. Three ways for Redis to be away: a
 * port that refuses connections, a server that accepts them and never answers (from the start), and
 * a Redis that stops answering once connected (a TCP proxy switched to hang).
 */
import { ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../api/server.js';
import { ENCRYPTION_KEYS_VARIABLE, keyRingOf } from '../../connectors/mongo/encryption.js';
import { SyncRunStore } from '../../connectors/mongo/sync-runs.js';
import { createTriggerQueue } from '../../queues/schedules.js';
import { createSyncQueue, type SyncJobData } from '../../queues/sync-queue.js';
import { openStores, type Stores } from '../../connectors/mongo/stores.js';
import { allowFixtureDestinations, validTenantInput } from '../support/fixtures.js';
import { keyEntry } from '../support/keys.js';
import { freePort } from '../../scripts/free-port.js';
import { testMongo, testRedis, type TestMongo, type TestRedis } from '../support/services.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { callApi } from '../support/api.js';
import { silentServer } from '../support/silent-server.js';

const TIMEOUT_MS = 400;
/** What the answer may take beyond the timeout: the MongoDB reads and writes around the Redis call. */
const SLACK_MS = 2500;

let mongo: TestMongo;
let redis: TestRedis;
let stores: Stores;
let token: string;
let tenantId: string;
let queuedRun: string;

/** A loopback port nothing listens on. */
async function refusingUrl(): Promise<string> {
  return `redis://127.0.0.1:${await freePort()}`;
}

interface AwayApi {
  app: FastifyInstance;
  base: string;
  queue: Queue<SyncJobData, unknown, string>;
  close(): Promise<void>;
}

async function apiOn(url: string): Promise<AwayApi> {
  const settings = { url, prefix: redis.prefix };
  const queue = createSyncQueue(settings, { commandTimeoutMs: TIMEOUT_MS });
  const triggerQueue = createTriggerQueue(settings, { commandTimeoutMs: TIMEOUT_MS });
  const app = buildApi({
    stores,
    syncQueue: queue,
    triggerQueue,
    serviceTimeoutMs: TIMEOUT_MS,
    authentication: { tokens: stores.tokens },
  });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    app,
    base,
    queue,
    async close() {
      await app.close();
      // Queues that never connected may not close cleanly; they hold nothing.
      await Promise.race([
        Promise.all([queue.close(), triggerQueue.close()]),
        new Promise((resolve) => setTimeout(resolve, 2000)),
      ]);
    },
  };
}

const call = (api: AwayApi, method: string, path: string, body?: unknown) =>
  callApi(api.base, token, method, path, body);

/** Every route that needs Redis, with a request that would otherwise succeed. */
const needsRedis = (): [string, string, unknown?][] => [
  ['POST', `/tenants/${tenantId}/sync`, {}],
  ['DELETE', `/runs/${queuedRun}`],
  ['GET', '/queue'],
  ['POST', '/queue/pause', {}],
  ['POST', '/queue/resume', {}],
  ['GET', `/tenants/${tenantId}/status`],
  ['GET', `/tenants/${tenantId}/schedule`],
  ['PUT', `/tenants/${tenantId}/schedule`, { pattern: '0 3 * * *' }],
  ['DELETE', `/tenants/${tenantId}/schedule`],
];

async function expectRedisAway(api: AwayApi): Promise<void> {
  const runsBefore = await mongo.db
    .collection('sync_runs')
    .find({}, { projection: { _id: 1 } })
    .toArray();
  for (const [method, path, body] of needsRedis()) {
    const answer = await call(api, method, path, body);
    expect(answer.status, `${method} ${path}`).toBe(503);
    expect(answer.json.code).toBe('SERVICE_UNAVAILABLE');
    expect(answer.json.message).toMatch(/job queue \(Redis\) does not answer/);
    expect(answer.ms, `${method} ${path}`).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  }
  const ready = await call(api, 'GET', '/readyz');
  expect(ready.status).toBe(503);
  expect(ready.json.code).toBe('SERVICE_UNAVAILABLE');
  expect(ready.json.problems?.map((p: { field: string }) => p.field)).toEqual(['redis']);
  expect(ready.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  // MongoDB routes are untouched, and the refused requests stored nothing.
  expect((await call(api, 'GET', '/tenants')).status).toBe(200);
  expect((await call(api, 'GET', `/runs/${queuedRun}`)).json).toMatchObject({ status: 'queued' });
  // A sync request refused before its add stored nothing; one whose add timed out ended its record
  // failed at once (it never waits for a job that does not exist).
  const added = await mongo.db
    .collection('sync_runs')
    .find({ _id: { $nin: runsBefore.map((r) => r._id) } })
    .toArray();
  for (const run of added)
    expect(run).toMatchObject({ status: 'failed', error: { code: 'QUEUE_UNAVAILABLE' } });
  expect(await mongo.db.collection('schedules').countDocuments()).toBe(0);
}

beforeAll(async () => {
  mongo = await testMongo('api-redis-away');
  redis = await testRedis('api-redis-away');
  stores = await openStores(mongo.db, keyRingOf({ [ENCRYPTION_KEYS_VARIABLE]: keyEntry('k1') }));
  await allowFixtureDestinations(stores.destinations);
  token = (await stores.tokens.create({ name: 'away', role: 'admin', scope: '*' }, 'test')).token;
  tenantId = (await stores.tenants.add(validTenantInput())).id;
  queuedRun = (
    await new SyncRunStore(mongo.db).recordQueued({
      id: new ObjectId().toHexString(),
      tenantId,
      hierarchy: 'provider.customer',
      trigger: 'api',
      requestedBy: 'away',
      jobId: 'job-away',
    })
  ).id;
}, 60_000);

afterAll(async () => {
  await redis?.close();
  await mongo?.close();
});

describe('Redis away: 503 within the timeout', { timeout: 60_000 }, () => {
  it('a Redis URL that refuses connections', async () => {
    const api = await apiOn(await refusingUrl());
    try {
      await expectRedisAway(api);
    } finally {
      await api.close();
    }
  });

  it('a server that accepts connections and never answers', async () => {
    const silent = await silentServer();
    const api = await apiOn(silent.url);
    try {
      await expectRedisAway(api);
    } finally {
      await api.close();
      await silent.close();
    }
  });

  it('a Redis that stops answering once connected, and the API is back with it', async () => {
    const target = new URL(redis.url);
    const proxy: TcpProxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    const api = await apiOn(proxy.url('redis'));
    try {
      expect((await call(api, 'GET', '/queue')).json).toEqual({ paused: false, jobs: expect.any(Object) });
      expect((await call(api, 'GET', '/readyz')).status).toBe(200);

      await proxy.setMode('hang');
      await expectRedisAway(api);

      // The silent connection breaks, and Redis is back: ioredis reconnects, and the API answers again
      // (each try before that still within the timeout).
      await proxy.setMode('refuse');
      await proxy.setMode('forward');
      const back = await (async () => {
        for (;;) {
          const answer = await call(api, 'GET', '/queue');
          expect(answer.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
          if (answer.status === 200) return answer;
          expect(answer.status).toBe(503);
        }
      })();
      expect(back.json).toMatchObject({ paused: false });
    } finally {
      await api.close();
      await proxy.close();
    }
  });
});
