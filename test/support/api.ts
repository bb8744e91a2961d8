/**
 * The operator API as the API tests run it: its own MongoDB database and Redis prefix, the stores
 * (fixture destinations allowed), the sync and trigger queues, and the API listening on loopback
 * with every answer checked against its documented schema. `callApi` makes one request over HTTP.
 */
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../api/server.js';
import { ENCRYPTION_KEYS_VARIABLE, keyRingOf } from '../../connectors/mongo/encryption.js';
import { createTriggerQueue } from '../../queues/schedules.js';
import { createSyncQueue, type SyncJobData } from '../../queues/sync-queue.js';
import { openStores, type Stores } from '../../connectors/mongo/stores.js';
import { allowFixtureDestinations } from './fixtures.js';
import { keyEntry } from './keys.js';
import { testMongo, testRedis, type TestMongo, type TestRedis } from './services.js';

export interface TestApi {
  mongo: TestMongo;
  redis: TestRedis;
  stores: Stores;
  queue: Queue<SyncJobData, unknown, string>;
  triggerQueue: Queue;
  /** With `board`: the one queue the queue board shows (its probes touch nothing else). */
  boardQueue?: Queue;
  app: FastifyInstance;
  base: string;
  close(): Promise<void>;
}

/**
 * Starts the API; `seed` runs on the stores before it is built (tokens, tenants, runs…). `board`:
 * also serve the queue board, over a queue of its own. `failedAuthLimit`: see buildApi.
 */
export async function startTestApi(
  label: string,
  seed: (stores: Stores, mongo: TestMongo) => Promise<void> = async () => {},
  options: { board?: boolean; failedAuthLimit?: { max: number; timeWindowMs: number } } = {},
): Promise<TestApi> {
  const mongo = await testMongo(label);
  const redis = await testRedis(label);
  const stores = await openStores(mongo.db, keyRingOf({ [ENCRYPTION_KEYS_VARIABLE]: keyEntry('k1') }));
  await allowFixtureDestinations(stores.destinations);
  const queue = createSyncQueue({ url: redis.url, prefix: redis.prefix });
  const triggerQueue = createTriggerQueue({ url: redis.url, prefix: redis.prefix });
  await seed(stores, mongo);
  const boardQueue = options.board
    ? new Queue(`${label}-board`, { connection: { url: redis.url }, prefix: redis.prefix })
    : undefined;
  const app = buildApi({
    stores,
    syncQueue: queue,
    triggerQueue,
    ...(boardQueue ? { boardQueues: [boardQueue] } : {}),
    authentication: { tokens: stores.tokens },
    ...(options.failedAuthLimit ? { failedAuthLimit: options.failedAuthLimit } : {}),
    checkResponses: true,
  });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    mongo,
    redis,
    stores,
    queue,
    triggerQueue,
    ...(boardQueue ? { boardQueue } : {}),
    app,
    base,
    async close() {
      await app.close();
      await queue.close();
      await triggerQueue.close();
      await boardQueue?.close();
      await redis.close();
      await mongo.close();
    },
  };
}

export interface ApiAnswer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are read field by field
  json: Record<string, any>;
  /** How long the answer took, in milliseconds. */
  ms: number;
}

/** One request with a bearer token (or none), a JSON body when given. */
export async function callApi(
  base: string,
  token: string | null,
  method: string,
  path: string,
  body?: unknown,
): Promise<ApiAnswer> {
  const started = Date.now();
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return {
    status: response.status,
    json: text ? (JSON.parse(text) as ApiAnswer['json']) : {},
    ms: Date.now() - started,
  };
}
