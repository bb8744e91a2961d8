/**
 * One test file's sync queue: a Redis key prefix and a MongoDB database of its own, the `tenant-sync`
 * queue on that prefix and the run records' store; close obliterates the queue and drops both.
 */
import { Worker, type Queue } from 'bullmq';
import type { Db } from 'mongodb';
import { SyncRunStore } from '../../../connectors/mongo/sync-runs.js';
import type { RedisSettings } from '../../../queues/connection.js';
import { createSyncQueue, SYNC_QUEUE, type SyncJobData } from '../../../queues/sync-queue.js';
import { testMongo, testRedis, type TestRedis } from '../../support/services.js';

export interface QueueFixture {
  /** This file's Redis prefix and a client on it. */
  redis: TestRedis;
  /** The queue's Redis: the shared server, this file's prefix (for workers and other queues on it). */
  redisConfig: RedisSettings;
  /** This file's database. */
  db: Db;
  queue: Queue<SyncJobData, unknown, string>;
  runs: SyncRunStore;
  /** Obliterates the queue, closes it, deletes the prefix's keys and drops the database. */
  close(): Promise<void>;
}

/** `name` labels the prefix and the database; `mongoUri`: another MongoDB-wire server than the suite's. */
export async function queueFixture(name: string, mongoUri?: string): Promise<QueueFixture> {
  const redis = await testRedis(name);
  const mongo = await testMongo(name, mongoUri);
  const redisConfig = { url: redis.url, prefix: redis.prefix };
  const queue = createSyncQueue(redisConfig);
  return {
    redis,
    redisConfig,
    db: mongo.db,
    queue,
    runs: new SyncRunStore(mongo.db),
    async close() {
      try {
        await queue.obliterate({ force: true });
      } finally {
        await queue.close();
        await redis.close();
        await mongo.close();
      }
    },
  };
}

/**
 * A worker on the sync queue without a processor: the test takes jobs by hand (they become active)
 * and moves them on itself.
 */
export function handWorker(redis: RedisSettings): Worker<SyncJobData, unknown, string> {
  return new Worker(SYNC_QUEUE, null, {
    connection: { url: redis.url, maxRetriesPerRequest: null },
    prefix: redis.prefix,
    autorun: false,
  });
}
