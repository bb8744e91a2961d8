/**
 * The API with MongoDB away, over real HTTP and a real TCP proxy in front of the suite's MongoDB:
 * every route that is not public answers 503 SERVICE_UNAVAILABLE naming MongoDB within the API's
 * service timeout (the driver's own timeouts are set far longer, so the bound is the API's), without
 * the server's address; /health answers 200 at once; /readyz names MongoDB. Two ways for MongoDB to be
 * away: it refuses connections, and it stops answering on open connections. Once MongoDB answers
 * again, the first request on each kind of route goes through: nothing in the API kept the failure.
 */
import { ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../api/server.js';
import { connectMongo, type MongoConnection } from '../../connectors/mongo/connection.js';
import { ENCRYPTION_KEYS_VARIABLE, keyRingOf } from '../../connectors/mongo/encryption.js';
import { openStores, type Stores } from '../../connectors/mongo/stores.js';
import { parseSettings } from '../../domain/settings.js';
import { createTriggerQueue } from '../../queues/schedules.js';
import { createSyncQueue, type SyncJobData } from '../../queues/sync-queue.js';
import { callApi } from '../support/api.js';
import { testEnv } from '../support/env.js';
import { allowFixtureDestinations, validTenantInput } from '../support/fixtures.js';
import { keyEntry } from '../support/keys.js';
import { testMongo, testRedis, type TestMongo, type TestRedis } from '../support/services.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

const TIMEOUT_MS = 300;
/**
 * What an answer may take beyond the timeout on a busy machine (thirty requests at once on two
 * cores): what is proved is that the API's bound answers, not the driver's, three times as long.
 */
const SLACK_MS = 10_000;
/** The driver's own timeouts: without the API's bound, a request would wait this long, then 500. */
const DRIVER_TIMEOUT_MS = '30000';

let mongo: TestMongo;
let redis: TestRedis;
let proxy: TcpProxy;
let connection: MongoConnection;
let stores: Stores;
let queue: Queue<SyncJobData, unknown, string>;
let triggerQueue: Queue;
let app: FastifyInstance;
let base: string;
let token: string;
let tenantId: string;

const call = (method: string, path: string, body?: unknown) => callApi(base, token, method, path, body);

/** A request on the route's template that would reach its handler: parameters filled in, a JSON body. */
function requestOf(method: string, url: string): [string, string, unknown?] {
  const path = url
    .replace(':ref', tenantId)
    .replace(':id', new ObjectId().toHexString())
    .replace(':name', 'nightly')
    .replace(/\*$/, '');
  return [method, path, ['POST', 'PUT', 'PATCH'].includes(method) ? {} : undefined];
}

async function expectMongoAway(): Promise<void> {
  const health = await call('GET', '/health');
  expect(health.status).toBe(200);
  expect(health.ms).toBeLessThan(SLACK_MS);

  const ready = await call('GET', '/readyz');
  expect(ready.status).toBe(503);
  expect(ready.json.problems?.map((p: { field: string }) => p.field)).toEqual(['mongodb']);

  const routes = app.routeTable.filter((r) => r.access !== 'public');
  expect(routes.length).toBeGreaterThan(30);
  // All at once, as callers would: they share one ping, and each answers within the timeout.
  const answers = await Promise.all(
    routes.map(async (r) => {
      const [method, path, body] = requestOf(r.method, r.url);
      return { route: `${r.method} ${r.url}`, answer: await call(method, path, body) };
    }),
  );
  for (const { route, answer } of answers) {
    expect(answer.status, route).toBe(503);
    // "within …" when the ping is still waiting; without, when the driver already knows it failed.
    expect(answer.json, route).toEqual({
      code: 'SERVICE_UNAVAILABLE',
      message: expect.stringMatching(
        new RegExp(
          `^The database \\(MongoDB\\) does not answer( within ${TIMEOUT_MS} ms)?: try again once GET /readyz answers 200\\.$`,
        ),
      ),
    });
    expect(answer.ms, route).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  }
  // The three the operators met, one after another.
  for (const [method, path, body] of [
    ['GET', '/tenants'],
    ['GET', '/runs'],
    ['POST', `/tenants/${tenantId}/sync`, {}],
  ] as const) {
    const answer = await call(method, path, body);
    expect(answer.status, path).toBe(503);
    expect(answer.json.message).toMatch(/MongoDB/);
    expect(JSON.stringify(answer.json)).not.toContain(String(proxy.port));
    expect(answer.ms, path).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  }
}

/** MongoDB answers again (the driver notices by itself): the first request on each route goes through. */
async function expectBack(): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await call('GET', '/readyz')).status !== 200)
    if (Date.now() > deadline) throw new Error('the API did not become ready once MongoDB answered');
  expect((await call('GET', '/tenants')).status).toBe(200);
  expect((await call('GET', '/runs')).status).toBe(200);
  const sync = await call('POST', `/tenants/${tenantId}/sync`, {});
  expect(sync.status).toBe(202);
  // Queued, or merged into the job an earlier case left waiting (no worker runs here).
  const run = await call('GET', `/runs/${sync.json.runId as string}`);
  expect(run.status).toBe(200);
  expect(['queued', 'merged']).toContain(run.json.status);
}

beforeAll(async () => {
  mongo = await testMongo('api-mongo-away');
  redis = await testRedis('api-mongo-away');
  const target = new URL(testEnv().mongoUri);
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
  connection = await connectMongo(
    parseSettings({
      MONGODB_URI: proxy.url('mongodb'),
      M365SYNC_DB: mongo.db.databaseName,
      MONGODB_SERVER_SELECTION_TIMEOUT_MS: DRIVER_TIMEOUT_MS,
      MONGODB_SOCKET_TIMEOUT_MS: DRIVER_TIMEOUT_MS,
    }),
  );
  stores = await openStores(connection.db, keyRingOf({ [ENCRYPTION_KEYS_VARIABLE]: keyEntry('k1') }));
  await allowFixtureDestinations(stores.destinations);
  token = (await stores.tokens.create({ name: 'away', role: 'admin', scope: '*' }, 'test')).token;
  tenantId = (await stores.tenants.add(validTenantInput())).id;
  const redisSettings = { url: redis.url, prefix: redis.prefix };
  queue = createSyncQueue(redisSettings, { commandTimeoutMs: TIMEOUT_MS });
  triggerQueue = createTriggerQueue(redisSettings, { commandTimeoutMs: TIMEOUT_MS });
  app = buildApi({
    stores,
    syncQueue: queue,
    triggerQueue,
    serviceTimeoutMs: TIMEOUT_MS,
    authentication: { tokens: stores.tokens },
    // The readiness polls below come back to back: no 429 in the way.
    rateLimit: { max: 1_000_000, timeWindowMs: 60_000 },
    boardQueues: [queue],
  });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
}, 60_000);

afterAll(async () => {
  await app?.close();
  await queue?.close();
  await triggerQueue?.close();
  await proxy?.close();
  await connection?.close();
  await redis?.close();
  await mongo?.close();
});

describe('MongoDB away: 503 within the timeout, and back on the next request', { timeout: 90_000 }, () => {
  it('answers before MongoDB goes away', async () => {
    expect((await call('GET', '/readyz')).status).toBe(200);
    expect((await call('GET', '/tenants')).status).toBe(200);
  });

  it('MongoDB refuses connections', async () => {
    await proxy.setMode('refuse');
    await expectMongoAway();
    await proxy.setMode('forward');
    await expectBack();
  });

  it('MongoDB stops answering on open connections, then restarts', async () => {
    await proxy.setMode('hang');
    await expectMongoAway();
    // A restarted MongoDB drops the connections that hung.
    await proxy.setMode('refuse');
    await proxy.setMode('forward');
    await expectBack();
  });
});
