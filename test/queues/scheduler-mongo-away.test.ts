/**
 * The scheduler with MongoDB away (a TCP proxy in front of the suite's MongoDB, refusing): a tick
 * that met MongoDB away fails (logged, no schedule touched), and the next tick once MongoDB answers
 * reconciles, a tenant added during the outage included: nothing in the scheduler kept the failure.
 */
import { ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queue } from 'bullmq';
import { connectMongo, type MongoConnection } from '../../connectors/mongo/connection.js';
import { buildStores } from '../../connectors/mongo/stores.js';
import { parseSettings } from '../../domain/settings.js';
import { createTriggerQueue, type ScheduleSettings } from '../../queues/schedules.js';
import { startScheduler } from '../../workers/scheduler.js';
import { testEnv } from '../support/env.js';
import { testMongo, testRedis, type TestMongo, type TestRedis } from '../support/services.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { quietLogger } from '../workers/support/harness.js';

const settings: ScheduleSettings = {
  tz: 'UTC',
  windowStartMinute: 60,
  windowMinutes: 240,
  deltaEnabled: true,
  deltaMinutes: 15,
};

let mongo: TestMongo;
let redis: TestRedis;
let proxy: TcpProxy;
let connection: MongoConnection;
let queue: Queue;

beforeAll(async () => {
  mongo = await testMongo('scheduler-mongo-away');
  redis = await testRedis('scheduler-mongo-away');
  const target = new URL(testEnv().mongoUri);
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
  connection = await connectMongo(
    parseSettings({
      MONGODB_URI: proxy.url('mongodb'),
      M365SYNC_DB: mongo.db.databaseName,
      MONGODB_SERVER_SELECTION_TIMEOUT_MS: '500',
    }),
  );
  queue = createTriggerQueue({ url: redis.url, prefix: redis.prefix });
});

afterAll(async () => {
  await queue?.close();
  await proxy?.close();
  await connection?.close();
  await redis?.close();
  await mongo?.close();
});

describe('a schedule tick that met MongoDB away', () => {
  it('reconciles on the next tick once MongoDB answers', { timeout: 60_000 }, async () => {
    const tenants = mongo.db.collection<{ _id: ObjectId; hierarchy: string }>('tenants');
    const first = new ObjectId();
    await tenants.insertOne({ _id: first, hierarchy: 'p.first' });
    const scheduler = await startScheduler({
      redis: { url: redis.url, prefix: redis.prefix },
      stores: buildStores(connection.db),
      schedule: settings,
      reconcileMs: 60_000, // ticks only when the test asks
      leaderTtlMs: 30_000,
      logger: quietLogger,
    });
    const keys = async () => (await queue.getJobSchedulers(0, -1, true)).map((s) => s.key).sort();
    try {
      expect(scheduler.isLeader()).toBe(true);
      expect(await keys()).toHaveLength(1);

      await proxy.setMode('refuse');
      const second = new ObjectId();
      await tenants.insertOne({ _id: second, hierarchy: 'p.second' }); // directly, not through the proxy
      expect(await scheduler.tick()).toBeNull(); // failed (logged), still the leader
      expect(scheduler.isLeader()).toBe(true);
      expect(await keys()).toHaveLength(1);

      await proxy.setMode('forward');
      await connection.db.command({ ping: 1 }); // MongoDB answers again (the driver reconnected)
      const result = await scheduler.tick();
      expect(result?.created).toEqual([second.toHexString()]);
      expect(await keys()).toHaveLength(2);
    } finally {
      await scheduler.close();
    }
  });
});
