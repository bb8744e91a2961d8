/**
 * Per-test-file handles on the shared services: each file gets its own MongoDB database and its own
 * Redis key prefix, and drops them when done, so files run in parallel without seeing each other.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { MongoClient, type Db } from 'mongodb';
import { testEnv } from './env.js';

export interface TestMongo {
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

export function uniqueName(label: string): string {
  return `t_${label.replace(/[^a-z0-9]/gi, '').slice(0, 20)}_${randomBytes(4).toString('hex')}`;
}

export async function testMongo(label: string, uri = testEnv().mongoUri): Promise<TestMongo> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
  await client.connect();
  const db = client.db(uniqueName(label));
  return {
    client,
    db,
    async close() {
      await db.dropDatabase().catch(() => {});
      await client.close();
    },
  };
}

/**
 * The MongoDB-wire servers the store's own tests run on: the suite's server, and the second FerretDB
 * backend when scripts/services.sh started one (MONGODB_URI_ALT), so both backends stay tested.
 */
export function storeBackends(): { name: string; uri: string }[] {
  const env = testEnv();
  const out = [{ name: env.mongoBackend, uri: env.mongoUri }];
  if (env.mongoUriAlt) out.push({ name: env.mongoBackendAlt, uri: env.mongoUriAlt });
  return out;
}

export interface TestRedis {
  redis: Redis;
  /** Key prefix for this file (BullMQ `prefix`, Bottleneck `id`, …). */
  prefix: string;
  url: string;
  close(): Promise<void>;
}

export async function testRedis(label: string): Promise<TestRedis> {
  const url = testEnv().redisUrl;
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  const prefix = uniqueName(label);
  return {
    redis,
    prefix,
    url,
    async close() {
      // Clean up after ourselves: the Redis is shared with other work on this machine.
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
      redis.disconnect();
    },
  };
}
